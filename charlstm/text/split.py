"""The text as a model reads it: the held-out split and the batches of an epoch.

Shared by training, the baselines (scored on the same split) and the PyTorch reference in bench/.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charlstm.config import Config
from charlstm.text import corpus as corpus_mod
from charlstm.text import window as window_mod
from charlstm.text.corpus import Vocab


@dataclass(frozen=True)
class Split:
    vocab: Vocab
    train: np.ndarray  # (n_train,) int32 ids
    val: np.ndarray  # (n_val,) int32 ids


def split(text: str, config: Config, vocab: Vocab | None = None) -> Split:
    """Encode the prepared text and hold out its end for validation."""
    text = corpus_mod.prepare(text, config.lowercase)
    corpus_mod.check_length(text, config.seq_len, config.val_fraction)
    vocab = vocab or Vocab.build(text)
    ids = vocab.encode(text, drop_unknown=True)
    n = int(len(ids) * (1 - config.val_fraction))
    return Split(vocab, ids[:n], ids[n:])


def windows(ids: np.ndarray, seq_len: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping (input, target) sequences; the target is the input shifted by one."""
    m = (len(ids) - 1 - offset) // seq_len
    x = ids[offset:offset + m * seq_len].reshape(m, seq_len)  # (m, seq_len)
    y = ids[offset + 1:offset + 1 + m * seq_len].reshape(m, seq_len)
    return x, y


def epoch_batches(ids: np.ndarray, config: Config, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """One epoch's sequences: a fresh random phase and order, seeded by (seed, epoch) so resume repeats it."""
    rng = np.random.default_rng([config.seed, epoch])
    x, y = windows(ids, config.seq_len, int(rng.integers(config.seq_len)) if len(ids) > 2 * config.seq_len + 1 else 0)
    order = rng.permutation(len(x))
    steps = max(1, len(x) // config.batch_size)
    keep = order[:steps * config.batch_size]  # whole batches only: one traced shape, even steps
    return x[keep], y[keep]


def steps_per_epoch(n_train: int, config: Config) -> int:
    if config.formulation == "window":
        return window_mod.steps_per_epoch(n_train, config)
    return max(1, ((n_train - 1) // config.seq_len) // config.batch_size)


def validation_data(val: np.ndarray, config: Config) -> tuple[np.ndarray, np.ndarray]:
    """The held-out (input, target) pairs: shifted sequences, or for "window" one target per window."""
    if config.formulation == "window":
        return window_mod.validation(val, config.seq_len)
    return windows(val, config.seq_len)


def targets_per_step(config: Config) -> int:
    return config.batch_size * (1 if config.formulation == "window" else config.seq_len)

