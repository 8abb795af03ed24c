"""The command line, `python -m charlstm`: one module per group of verbs (training.py: train and resume;
insight.py: generate, trace, clamp, match, units; runs.py: runs, export, import, delete), what they share
(common.py) and the parser (main.py).

May import: every other subpackage; nothing imports it but charlstm.__main__.
"""
