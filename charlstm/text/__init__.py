"""The text as a model reads it: corpora (decoding, checks, the vocabulary), the held-out split and an epoch's
batches, the classic tutorial's windows, and the uniform and unigram baselines of a split.

May import: charlstm.config. Nothing here imports Keras at module level (window.dataset builds a Keras dataset
only when a window-formulation model trains).
"""
