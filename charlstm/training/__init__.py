"""Training: the Trainer and its hooks (trainer.py), what it reports and returns (progress.py), one training from
decision to stored run (execute.py), the settings fitted to a corpus (fit.py) and loss curves (curves.py).

May import: charlstm.config, text, model, runs, insight.probes (a probe traced after every epoch). Only trainer.py
touches TensorFlow, inside functions.
"""
