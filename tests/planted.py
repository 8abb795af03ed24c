"""A one-layer model with weights set by hand: one unit copies whether the previous character was a full stop.

Unit DOT lights up on a "." (its candidate reads the "." row of a one-hot embedding; input and output
gates open, forget gate shut). Unit AFTER (the planted unit) opens its input gate when DOT was on one
step before, so its cell state is 1 on the character after a "." and 0 elsewhere, and the output layer
reads it to predict a capital letter. The other units are random noise that feeds neither of them.
"""

from __future__ import annotations

import numpy as np

from charlstm.model.lstm_np import LayerWeights, Weights
from charlstm.text.corpus import Vocab

VOCAB = Vocab.build("abc. AB")
TEXT = "ab ca. Ba cab. Ac ba. Bb cc a. Aab ca bc. Ba ab. Bc"
DOT, AFTER = 0, 1  # their places before any permutation


def planted(units: int = 16, seed: int = 0, perm: np.ndarray | None = None, reads_after: bool = True) -> Weights:
    """The planted model; perm[j] is where unit j goes (a second model with its units in another order).

    reads_after=False: the output layer ignores AFTER, so the model cannot expect the capital after ". ".
    """
    rng = np.random.default_rng(seed)
    v, s = len(VOCAB), VOCAB.stoi
    emb = np.eye(v, dtype=np.float32)  # one-hot: each character its own input line
    k = np.zeros((v, 4 * units), np.float32)
    r = np.zeros((units, 4 * units), np.float32)
    b = np.zeros(4 * units, np.float32)
    i, f, g, o = (slice(n * units, (n + 1) * units) for n in range(4))
    noise = np.arange(2, units)
    for part in (i, f, g, o):  # noise units: random, reading the input and each other, never DOT or AFTER
        cols = np.arange(4 * units)[part][noise]
        k[:, cols] = rng.normal(0, 0.8, (v, len(cols)))
        r[np.ix_(noise, cols)] = rng.normal(0, 0.5, (len(noise), len(cols)))
        b[cols] = rng.normal(0, 0.5, len(cols))
    col = {name: np.arange(4 * units)[part] for name, part in zip("ifgo", (i, f, g, o), strict=True)}
    # DOT: c = g = tanh(1.5) on a ".", 0 elsewhere; forget shut, input and output open
    k[s["."], col["g"][DOT]] = 1.5
    b[col["i"][DOT]], b[col["f"][DOT]], b[col["o"][DOT]] = 8.0, -8.0, 8.0
    # AFTER: input gate opens (0.09 -> 0.9) when DOT's hidden state (tanh(tanh 1.5) = 0.72) was on; candidate 1,
    # forget shut. Gates short of saturation, so gradient x input sees them too.
    r[DOT, col["i"][AFTER]] = 6.3
    b[col["i"][AFTER]], b[col["f"][AFTER]], b[col["g"][AFTER]], b[col["o"][AFTER]] = -2.3, -8.0, 8.0, 8.0
    dense_w = np.zeros((units, v), np.float32)
    dense_w[noise] = rng.normal(0, 0.1, (len(noise), v))
    dense_w[AFTER, [s["A"], s["B"]]] = 6.0 if reads_after else 0.0  # a capital after ". "
    dense_w[DOT, s[" "]] = 4.0  # a space after "."
    dense_b = np.zeros(v, np.float32)
    dense_b[[s["A"], s["B"]]] = -2.0
    w = Weights(emb, (LayerWeights(k, r, b),), dense_w, dense_b)
    return w if perm is None else permuted(w, perm)


def permuted(w: Weights, perm: np.ndarray) -> Weights:
    """The same network with unit j moved to place perm[j]: every output is the same."""
    (lw,) = w.layers
    u = lw.units
    inv = np.argsort(perm)  # new place -> old unit
    cols = np.concatenate([inv + n * u for n in range(4)])
    return Weights(w.embedding, (LayerWeights(lw.kernel[:, cols], lw.recurrent[np.ix_(inv, cols)], lw.bias[cols]),),
                   w.dense_w[inv], w.dense_b)


def after_full_stop(text: str) -> np.ndarray:
    """1.0 on each character that follows a ".", else 0: what AFTER's cell state holds."""
    y = np.zeros(len(text))
    y[1:] = [c == "." for c in text[:-1]]
    return y


def planted_text(n: int = 2000, seed: int = 0) -> str:
    """Sentences of a, b and c words ending in ". " and starting with a capital, as the planted model expects."""
    rng = np.random.default_rng(seed)
    out = []
    while sum(len(s) for s in out) < n:
        words = ["".join(rng.choice(list("abc"), rng.integers(1, 4))) for _ in range(rng.integers(2, 6))]
        words[0] = rng.choice(["A", "B"]) + words[0]
        out.append(" ".join(words) + ". ")
    return "".join(out)[:n]
