"""charlstm: a lab for character-level LSTMs (corpus, training, gate tracing, generation)."""

import os

# TensorFlow's start-up chatter is not for our users; set before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# numpy's BLAS on one thread: our products are small (a generation step is a few matrix-vector products of 128 x 512),
# and a second thread hands off more than it computes, the more so on a shared machine: 2,000 characters of
# generation ran 1.7x faster with it (docs/benchmarks.md). Set before anything imports numpy; TensorFlow does not
# use this BLAS. A value set outside is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
