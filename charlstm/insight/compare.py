"""Two runs side by side on one text: where each is surprised, where they disagree most, and which units match.

Any two runs: a character either cannot read is left out of the text for both, and the rest read by
each through its own numpy trace. A unit of A matches the unit of B whose cell state correlates with it
most over the text (by |r|: a unit that counts down is the same unit as one that counts up).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charlstm.insight.gates import GateTrace, trace_weights, trace_window
from charlstm.text.corpus import PLACEHOLDER, Vocab, prepare


@dataclass(frozen=True)
class Side:
    """One run as compare needs it: weights, vocabulary, and how it reads (lowercased, window)."""

    name: str
    weights: object  # lstm_np.Weights
    vocab: Vocab
    lowercase: bool = False
    window: int = 0

    @classmethod
    def of(cls, run, name: str | None = None) -> Side:
        return cls(name or run.key, run.weights, run.vocab, run.config.lowercase, trace_window(run.config))


@dataclass(frozen=True)
class Disagreement:
    position: int
    char: str
    loss_a: float
    loss_b: float

    @property
    def diff(self) -> float:
        return self.loss_a - self.loss_b


@dataclass(frozen=True)
class UnitMatch:
    layer_a: int  # 0-based
    unit_a: int
    layer_b: int
    unit_b: int
    r: float  # correlation of the two cell states over the text
    mutual: bool  # A's unit is also the best match of B's unit


@dataclass(frozen=True)
class Comparison:
    text: str  # the characters both read
    dropped: tuple[str, ...]  # characters left out because one of the two cannot read them
    loss_a: np.ndarray  # (T,) -log p of each character under A, in nats; nan at 0 (nothing read yet)
    loss_b: np.ndarray
    matches: tuple[UnitMatch, ...]  # one per unit of A, best |r| first

    @property
    def diff(self) -> np.ndarray:
        return self.loss_a - self.loss_b  # > 0: A is more surprised than B

    @property
    def mean_a(self) -> float:
        return float(np.nanmean(self.loss_a)) if len(self.text) > 1 else float("nan")

    @property
    def mean_b(self) -> float:
        return float(np.nanmean(self.loss_b)) if len(self.text) > 1 else float("nan")

    def disagreements(self, k: int = 10) -> list[Disagreement]:
        """The k positions where the two losses differ most, largest |difference| first."""
        d = np.nan_to_num(np.abs(self.diff), nan=-1.0)
        order = np.argsort(-d, kind="stable")[:k]
        return [Disagreement(int(t), self.text[t], float(self.loss_a[t]), float(self.loss_b[t]))
                for t in order if d[t] >= 0]


def common_text(text: str, a: Side, b: Side) -> tuple[str, str, str, tuple[str, ...]]:
    """(the text as shown, as A reads it, as B reads it, characters dropped): only characters both can read."""
    ta, tb = prepare(text, a.lowercase), prepare(text, b.lowercase)
    ok_a, ok_b = _readable(a.vocab), _readable(b.vocab)
    keep = [i for i in range(len(text)) if ok_a(ta[i]) and ok_b(tb[i])]
    dropped = tuple(sorted({text[i] for i in range(len(text))} - {text[i] for i in keep}))
    return ("".join(text[i] for i in keep), "".join(ta[i] for i in keep), "".join(tb[i] for i in keep), dropped)


def _readable(vocab: Vocab):
    stoi, folded = vocab.stoi, vocab.folded

    ph = PLACEHOLDER in stoi
    return lambda c: c in stoi or (ph and c in folded)


def losses(tr: GateTrace) -> np.ndarray:
    """-log p of each character given those before it, nats; nan at 0."""
    z = tr.logits.astype(np.float64)  # (T, vocab): row t predicts character t + 1
    logp = z - z.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    ids = tr.vocab.encode(tr.text)
    out = np.full(len(ids), np.nan)
    out[1:] = -logp[np.arange(len(ids) - 1), ids[1:]]
    return out


def match_units(cells_a: list[np.ndarray], cells_b: list[np.ndarray]) -> tuple[UnitMatch, ...]:
    """For every unit of every layer in cells_a (each (T, units)), its best-correlated unit among all of cells_b."""
    za, zb = _standard(np.concatenate(cells_a, axis=1)), _standard(np.concatenate(cells_b, axis=1))
    R = za.T @ zb / za.shape[0]  # (units A, units B): Pearson r
    where_a = [(k, u) for k, c in enumerate(cells_a) for u in range(c.shape[1])]
    where_b = [(k, u) for k, c in enumerate(cells_b) for u in range(c.shape[1])]
    best_b = np.abs(R).argmax(axis=1)  # (units A,)
    best_a = np.abs(R).argmax(axis=0)  # (units B,)
    out = [UnitMatch(*where_a[i], *where_b[j], float(R[i, j]), bool(best_a[j] == i)) for i, j in enumerate(best_b)]
    return tuple(sorted(out, key=lambda m: -abs(m.r)))


def _standard(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, np.float64)
    sd = X.std(axis=0)
    return np.where(sd > 1e-9, (X - X.mean(axis=0)) / np.where(sd > 1e-9, sd, 1.0), 0.0)  # a constant unit: r = 0


def compare(a: Side, b: Side, text: str, layers_a: tuple[int, ...] | None = None,
            layers_b: tuple[int, ...] | None = None) -> Comparison:
    """A against B on text: each one's loss per character and, for each unit of A, its match in B.

    layers_a, layers_b: the 0-based layers whose units take part (None: all).
    """
    shown, ta, tb, dropped = common_text(text, a, b)
    if len(shown) < 2:
        raise ValueError("fewer than two characters of this text are known to both models")
    tra = trace_weights(a.weights, a.vocab, ta, window=a.window)
    trb = trace_weights(b.weights, b.vocab, tb, window=b.window)
    pick_a = range(len(tra.layers)) if layers_a is None else layers_a
    pick_b = range(len(trb.layers)) if layers_b is None else layers_b
    for name, pick, tr in (("A", pick_a, tra), ("B", pick_b, trb)):
        bad = [k for k in pick if not 0 <= k < len(tr.layers)]
        if bad or not len(pick):
            raise ValueError(f"run {name} has layers 1 to {len(tr.layers)}; no layer {bad[0] + 1 if bad else ''}")
    cells_a = [tra.layers[k]["cell"] for k in pick_a]
    cells_b = [trb.layers[k]["cell"] for k in pick_b]
    matches = match_units(cells_a, cells_b)
    # back to the layer numbers of the models, not of the chosen lists
    matches = tuple(UnitMatch(list(pick_a)[m.layer_a], m.unit_a, list(pick_b)[m.layer_b], m.unit_b, m.r, m.mutual)
                    for m in matches)
    return Comparison(text=shown, dropped=dropped, loss_a=losses(tra), loss_b=losses(trb), matches=matches)


__all__ = ["Comparison", "Disagreement", "Side", "UnitMatch", "common_text", "compare", "losses", "match_units"]
