"""Gate tracing: every gate, cell and hidden state of every layer, character by character."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from charlstm.model.lstm_np import GATES, Weights, run_layer, softmax
from charlstm.text.corpus import Vocab, prepare

EXAMPLE = "Divya likes to eat. Reena is not fat."
PRESETS = {
    "Two sentences": EXAMPLE,
    "Shakespeare": "ROMEO:\nBut soft, what light through yonder window breaks?\n",
    "Quotes": 'He said "stop". She said "go on".',
    "Counting": "one two three four five six seven eight nine ten",
}
# Gates squash into (0, 1); the candidate and hidden state into (-1, 1). The cell state is
# unbounded (trained units often hold |c| of 2 to 20), so its fixed scale stops at +-5.
RANGES = {"input": (0.0, 1.0), "forget": (0.0, 1.0), "output": (0.0, 1.0), "candidate": (-1.0, 1.0),
          "hidden": (-1.0, 1.0), "cell": (-5.0, 5.0)}


@dataclass(frozen=True)
class GateTrace:
    text: str  # the characters traced, as the model saw them
    layers: tuple[dict[str, np.ndarray], ...]  # per layer: name in GATES -> (T, units)
    logits: np.ndarray  # (T, vocab): the prediction for the character after each position
    vocab: Vocab

    @property
    def probs(self) -> np.ndarray:
        return softmax(self.logits)  # (T, vocab)

    def top_next(self, position: int, k: int = 10) -> list[tuple[str, float]]:
        """The k likeliest next characters after `position`, with probabilities."""
        p = self.probs[position]
        order = np.argsort(-p)[:k]
        return [(self.vocab.chars[i], float(p[i])) for i in order]


def trace(run, text: str, drop_unknown: bool = False) -> GateTrace:
    """Trace text through a run (anything with .weights, .vocab and .config).

    A window run (the classic tutorial's) is traced as it reads: window by window, each from an empty state.
    """
    return trace_weights(run.weights, run.vocab, prepare(text, run.config.lowercase), drop_unknown,
                         window=trace_window(run.config))


def trace_window(config) -> int:
    """Characters per window the trace restarts after: the run's window for "window" runs, else 0 (never)."""
    return config.seq_len if config.formulation == "window" else 0


def trace_weights(weights: Weights, vocab: Vocab, text: str, drop_unknown: bool = False,
                  window: int = 0) -> GateTrace:
    """Every gate at every character; window > 0 starts from an empty state at positions 0, window, 2 * window..."""
    ids = vocab.encode(text, drop_unknown=drop_unknown)  # raises CorpusError naming unknown characters
    seen = vocab.decode(ids)
    step = window if window > 0 else max(1, len(ids))
    parts = [_trace_ids(weights, ids[s:s + step]) for s in range(0, max(1, len(ids)), step)]
    layers = tuple({g: np.concatenate([p[0][k][g] for p in parts]) for g in GATES} for k in range(len(weights.layers)))
    logits = np.concatenate([p[1] for p in parts])  # (T, vocab)
    return GateTrace(text=seen, layers=layers, logits=logits, vocab=vocab)


def _trace_ids(weights: Weights, ids: np.ndarray) -> tuple[list[dict[str, np.ndarray]], np.ndarray]:
    """Every layer's gates over ids, read from an empty state, and the logits after each character."""
    x = weights.embedding[ids]  # (T, emb)
    layers = []
    for lw in weights.layers:
        zero = np.zeros(lw.units, np.float32)
        x, _, _, rec = run_layer(lw, x, zero, zero, record=True)
        layers.append(rec)
    return layers, x @ weights.dense_w + weights.dense_b  # (T, vocab)


def sentence_boundaries(text: str) -> list[int]:
    """Positions of sentence-ending punctuation that is followed by more text."""
    return [m.start() for m in re.finditer(r"[.!?](?=\s+\S)", text)]


@dataclass(frozen=True)
class Forgetter:
    unit: int
    before: float  # mean forget gate over the characters before the boundary
    at: float  # lowest forget gate at the boundary (the punctuation or the space after it)
    drop: float  # before - at: how much old context this unit lets go of
    cell_before: float  # cell state just before the boundary
    cell_after: float  # cell state just after it


def forgetters(tr: GateTrace, layer: int, boundary: int, window: int = 6, k: int | None = 10) -> list[Forgetter]:
    """Units whose forget gate drops most at a boundary, largest drop first.

    The boundary is the index of the punctuation; we look at it and the character after it,
    against the mean of the `window` characters before it.
    """
    f = tr.layers[layer]["forget"]  # (T, units)
    c = tr.layers[layer]["cell"]
    T = f.shape[0]
    if not 0 < boundary < T:
        raise ValueError(f"boundary {boundary} is outside the text (0 < b < {T})")
    lo = max(0, boundary - window)
    before = f[lo:boundary].mean(axis=0)  # (units,)
    at = f[boundary:min(T, boundary + 2)].min(axis=0)
    drop = before - at
    order = np.argsort(-drop)[:k]
    after = min(T - 1, boundary + 1)
    return [Forgetter(int(u), float(before[u]), float(at[u]), float(drop[u]), float(c[boundary - 1, u]),
                      float(c[after, u])) for u in order]


def saturation(tr: GateTrace, layer: int, low: float = 0.1,
               high: float = 0.9) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per gate, each unit's fraction of time left- (< low) and right-saturated (> high).

    As in Karpathy, Johnson and Fei-Fei (2015), "Visualizing and Understanding Recurrent Networks".
    """
    out = {}
    for g in ("input", "forget", "output"):
        a = tr.layers[layer][g]  # (T, units)
        out[g] = ((a < low).mean(axis=0), (a > high).mean(axis=0))
    return out


__all__ = [
    "EXAMPLE",
    "GATES",
    "PRESETS",
    "RANGES",
    "Forgetter",
    "GateTrace",
    "forgetters",
    "saturation",
    "sentence_boundaries",
    "trace",
    "trace_weights",
    "trace_window",
]
