"""Minimal pairs: trace two texts that differ a little, line them up character by character, find what changed.

As LIT does for classifiers: edit an input and compare. The texts are aligned with difflib, so
"eat. Reena" against "eat Reena" pairs every shared character and leaves a gap for the period.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np

from charlstm.insight.gates import GateTrace

GAP = -1  # in an alignment column: this text has no character here


@dataclass(frozen=True)
class Pair:
    a: GateTrace
    b: GateTrace
    columns: np.ndarray  # (C, 2): the position in a and in b of each aligned column, GAP where one has none

    @property
    def both(self) -> np.ndarray:
        """The columns where both texts have a character (C,), bool."""
        return (self.columns >= 0).all(axis=1)

    def labels(self) -> tuple[list[str], list[str]]:
        """Each text's character in every column, '' in a gap."""
        return ([self.a.text[i] if i >= 0 else "" for i in self.columns[:, 0]],
                [self.b.text[j] if j >= 0 else "" for j in self.columns[:, 1]])

    def aligned(self, layer: int, state: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """a's and b's values (C, units), nan in a gap, and b - a (nan where either is a gap)."""
        out = []
        for k, tr in enumerate((self.a, self.b)):
            v = tr.layers[layer][state]  # (T, units)
            col = np.full((len(self.columns), v.shape[1]), np.nan, np.float32)
            has = self.columns[:, k] >= 0
            col[has] = v[self.columns[has, k]]
            out.append(col)
        return out[0], out[1], out[1] - out[0]


def align(a: str, b: str) -> np.ndarray:
    """Columns (C, 2) pairing equal characters of a and b (difflib's longest matches), gaps for the rest."""
    cols = []
    for op, i0, i1, j0, j1 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            cols += [(i0 + k, j0 + k) for k in range(i1 - i0)]
        else:  # a replaced run is paired character by character, its longer side's rest against gaps
            n = max(i1 - i0, j1 - j0)
            cols += [(i0 + k if k < i1 - i0 else GAP, j0 + k if k < j1 - j0 else GAP) for k in range(n)]
    return np.array(cols, dtype=np.int64).reshape(-1, 2)


def pair(a: GateTrace, b: GateTrace) -> Pair:
    return Pair(a=a, b=b, columns=align(a.text, b.text))


@dataclass(frozen=True)
class Change:
    unit: int
    mean: float  # mean |b - a| over the columns both texts share
    largest: float  # the largest b - a, signed
    column: int  # where it is


def changed_units(p: Pair, layer: int, state: str, k: int | None = 10) -> list[Change]:
    """The units whose `state` differs most between the two texts, over the characters they share."""
    _, _, diff = p.aligned(layer, state)
    shared = diff[p.both]  # (shared columns, units)
    if not len(shared):
        return []
    mean = np.abs(shared).mean(axis=0)
    where = np.flatnonzero(p.both)[np.abs(shared).argmax(axis=0)]  # (units,) column of each unit's largest change
    order = np.argsort(-mean)[:k]
    return [Change(int(u), float(mean[u]), float(diff[where[u], u]), int(where[u])) for u in order]
