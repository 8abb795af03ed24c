"""What a validation loss means: two baselines on the same split, and a verdict in plain words.

Every loss here is a cross-entropy in nats per character over the held-out part of the text.
- uniform: every character of the vocabulary equally likely, ln V. A model that learned nothing.
- unigram: each character as likely as it is in the training part, ignoring what came before it:
  a model that learned the letter frequencies and nothing else. Add-one (Laplace) smoothing over
  the vocabulary, p(c) = (n_c + 1) / (N + V), gives a character that the training part never has
  (but the held-out part does) a small probability instead of an infinite loss; with N in the
  thousands it moves the other probabilities by well under 1%.

The verdict compares the model with the unigram baseline: how many nats per character below the
letter frequencies it is (VERDICTS says how the thresholds were measured).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from charlstm.text.split import split

# (least gap below the unigram baseline in nats/char, what the model has learned), best first. Calibrated
# (docs/loss.md; `python bench/fit_bench.py --ngrams`) by count-based models of the built-in
# corpus's first 8 kB, first 100 kB and the whole of it, on the same splits: knowing the one character
# before (bigrams) puts a model 0.75-0.96 below the unigram, two (trigrams) 0.98-1.44, three 1.56-1.60 on the
# larger two; and by the per-epoch samples of real runs read beside each epoch's gap.
VERDICTS: tuple[tuple[float, str], ...] = (
    (1.5, "learned words, names and the shape of the text's lines"),
    (1.0, "learned spelling and common words"),
    (0.5, "learned which letters tend to follow which, not yet words"),
    (0.05, "barely better than letter frequencies"),
    (-math.inf, "no better than letter frequencies: it has learned almost nothing yet"),
)


@dataclass(frozen=True)
class Baselines:
    uniform: float  # ln V
    unigram: float  # the training part's character frequencies, add-one smoothed, on the held-out part
    vocab_size: int


def uniform(vocab_size: int) -> float:
    return math.log(vocab_size)


def unigram(train: np.ndarray, val: np.ndarray, vocab_size: int) -> float:
    """Cross-entropy of val under train's add-one-smoothed character frequencies, nats/char."""
    counts = np.bincount(np.asarray(train, dtype=np.int64), minlength=vocab_size).astype(np.float64)
    p = (counts + 1.0) / (counts.sum() + vocab_size)
    return float(-np.log(p[np.asarray(val, dtype=np.int64)]).mean())


def of_split(train: np.ndarray, val: np.ndarray, vocab_size: int) -> Baselines:
    return Baselines(uniform=uniform(vocab_size), unigram=unigram(train, val, vocab_size), vocab_size=vocab_size)


def of_text(text: str, config) -> Baselines:
    """The baselines of the split a config trains on (its lowercasing and held-out share)."""
    s = split(text, config)
    return of_split(s.train, s.val, len(s.vocab))


def verdict(val_loss: float | None, b: Baselines | None) -> str | None:
    """What the model has learned, in words, from how far its val loss is below the unigram baseline."""
    if val_loss is None or b is None:
        return None
    gap = b.unigram - val_loss
    return next(words for least, words in VERDICTS if gap >= least)


def to_dict(b: Baselines) -> dict:
    return {"uniform": round(b.uniform, 4), "unigram": round(b.unigram, 4), "vocab_size": b.vocab_size}


def from_dict(d: dict | None) -> Baselines | None:
    if not isinstance(d, dict):
        return None
    try:
        return Baselines(uniform=float(d["uniform"]), unigram=float(d["unigram"]), vocab_size=int(d["vocab_size"]))
    except (KeyError, TypeError, ValueError):
        return None


def sentence(val_loss: float | None, b: Baselines | None) -> str | None:
    """'val 2.34 nats/char · letter frequencies 3.44 · uniform guess 4.17 (ln 65): learned spelling ...'."""
    words = verdict(val_loss, b)
    if words is None:
        return None
    return (f"val loss {val_loss:.3f} nats/char · letter frequencies (unigram) {b.unigram:.3f} · "
            f"uniform guess {b.uniform:.3f} (ln {b.vocab_size}): {words}")


def for_run(run, text: str | None) -> Baselines | None:
    """A stored run's baselines: recorded with it, or computed from its corpus text (runs stored before them)."""
    if run.baselines is not None:
        return run.baselines
    if text is None:
        return None
    try:
        return of_text(text, run.config)
    except ValueError:  # CorpusError included: the text no longer fits the config
        return None
