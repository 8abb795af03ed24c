"""charlstm: a lab for character-level LSTMs (corpus, training, gate tracing, generation)."""

import os

# TensorFlow's start-up chatter is not for our users; set before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
