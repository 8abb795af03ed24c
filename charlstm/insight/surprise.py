"""Under every character: how surprised the model was by it, and what it expected in its place.

Surprise is -log p of the character that actually came, in nats, given everything before it;
its mean over a text is the cross-entropy loss the model was trained to lower. As in
Karpathy, Johnson and Fei-Fei (2015), figure 4: the top-5 guesses under every character.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charlstm.insight.gates import GateTrace


@dataclass(frozen=True)
class Surprise:
    text: str
    nats: np.ndarray  # (T,) -log p(text[t] | text[:t]); nan at 0, where the model has read nothing yet
    guesses: tuple[tuple[tuple[str, float], ...], ...]  # per position, the k likeliest for it, with p; () at 0

    @property
    def mean(self) -> float:
        """Mean surprise over every character the model predicted, nats per character."""
        return float(np.nanmean(self.nats)) if len(self.nats) > 1 else float("nan")

    def hit(self, t: int) -> bool:
        """Whether the character at t was among the model's guesses for it."""
        return any(c == self.text[t] for c, _ in self.guesses[t])


def surprise(tr: GateTrace, k: int = 5) -> Surprise:
    """Each character's surprise and the k likeliest characters the model expected there (from tr.logits)."""
    T = len(tr.text)
    z = tr.logits.astype(np.float64)  # (T, vocab): row t predicts character t + 1
    logp = z - z.max(axis=1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
    ids = tr.vocab.encode(tr.text)
    nats = np.full(T, np.nan)
    nats[1:] = -logp[np.arange(T - 1), ids[1:]]
    top = np.argsort(-logp[:-1], axis=1, kind="stable")[:, :k]  # (T - 1, k)
    p = np.exp(np.take_along_axis(logp[:-1], top, axis=1))
    rows = [tuple((tr.vocab.chars[i], float(q)) for i, q in zip(row, prow, strict=True))
            for row, prow in zip(top, p, strict=True)]
    return Surprise(text=tr.text, nats=nats, guesses=((), *rows)[:T])
