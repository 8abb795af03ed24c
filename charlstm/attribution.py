"""Which earlier characters moved a prediction: our own backward pass through the numpy LSTM.

The forward pass is lstm_np's maths (Keras's gate order i, f, c, o) batched over a leading axis,
kept in float64, with every gate recorded; the backward pass is backpropagation through time by
hand. Three salience methods, as in ecco and LIT: the gradient's size, gradient × input and
integrated gradients (Sundararajan, Taly and Yan, 2017), on the character embeddings.
tests/test_attribution.py checks the gradients against TensorFlow's GradientTape. No TensorFlow here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .corpus import Vocab
from .lstm_np import GATES, Weights

METHODS = {"gxi": "gradient × input", "ig": "integrated gradients", "grad": "gradient size"}
DEFAULT_STEPS = 32  # integrated gradients: points on the path from the baseline to the input
CHUNK = 16  # path points computed together: bounds memory (20 MB per 100 characters of a 2 x 256 model)
UNIT_TARGETS = GATES  # a unit's "input", "forget", "candidate", "output", "cell" or "hidden" value


@dataclass(frozen=True)
class Target:
    """What is explained at the chosen position.

    kind "next": log p of a character after the position (char None: the one that really comes
    next, or the model's top guess after the last character). Otherwise a name in GATES: that
    unit's value at the position, in layer `layer` (0-based; -1 the last).
    """

    kind: str = "next"
    layer: int = -1
    unit: int = 0
    char: str | None = None


@dataclass(frozen=True)
class Attribution:
    text: str  # the whole text, as the model read it
    position: int  # the position explained: the prediction after it, or a unit's value at it
    start: int  # the first character the model read for it (0; a window run: the window's first)
    scores: np.ndarray  # (T,) one number per character; 0 outside [start, position]
    method: str  # a key of METHODS
    target: Target  # with char filled in for "next"
    what: str  # the target in words
    value: float  # the target's value on the text
    baseline_value: float | None  # integrated gradients: its value on the baseline
    baseline: str  # "zero" (the zero embedding) or the character whose embedding stands in everywhere

    @property
    def total(self) -> float:
        return float(self.scores.sum())

    @property
    def gap(self) -> float | None:
        """Integrated gradients: how far the scores' sum misses value - baseline_value (completeness), relative to
        that change; large when the path's gradients explode (a zero embedding can drive a trained LSTM into
        chaotic dynamics) or there are too few steps. None for the other methods."""
        if self.baseline_value is None:
            return None
        change = self.value - self.baseline_value
        return abs(self.total - change) / max(abs(change), 1e-6)


# ---- the batched forward and backward passes
@dataclass
class _Layer:
    x: np.ndarray  # (B, T, input)
    h: np.ndarray  # (B, T, units)
    c: np.ndarray  # (B, T, units)
    i: np.ndarray  # (B, T, units), gates after their activation
    f: np.ndarray
    g: np.ndarray  # the tanh candidate
    o: np.ndarray


def forward(weights: Weights, x: np.ndarray, layers: int | None = None) -> list[_Layer]:
    """Every layer (the first `layers`) over embedded inputs x (B, T, emb) from an empty state, all recorded."""
    out = []
    for lw in weights.layers[:layers]:
        k, r, b = (np.asarray(a, x.dtype) for a in (lw.kernel, lw.recurrent, lw.bias))
        B, T, _ = x.shape
        u = lw.units
        xz = x @ k + b  # (B, T, 4u): every step's input part at once
        rec = {n: np.empty((B, T, u), x.dtype) for n in ("h", "c", "i", "f", "g", "o")}
        h, c = np.zeros((B, u), x.dtype), np.zeros((B, u), x.dtype)
        for t in range(T):
            z = xz[:, t] + h @ r  # (B, 4u)
            i = 0.5 + 0.5 * np.tanh(0.5 * z[:, :u])
            f = 0.5 + 0.5 * np.tanh(0.5 * z[:, u:2 * u])
            g = np.tanh(z[:, 2 * u:3 * u])
            o = 0.5 + 0.5 * np.tanh(0.5 * z[:, 3 * u:])
            c = f * c + i * g
            h = o * np.tanh(c)
            for n, v in (("h", h), ("c", c), ("i", i), ("f", f), ("g", g), ("o", o)):
                rec[n][:, t] = v
        out.append(_Layer(x=x, **rec))
        x = rec["h"]
    return out


_SEED = {"input": "i", "forget": "f", "candidate": "g", "output": "o", "cell": "c", "hidden": "h"}


def backward(weights: Weights, cache: list[_Layer], dh_top: np.ndarray | None = None,
             seed: tuple[str, np.ndarray] | None = None) -> np.ndarray:
    """The gradient with respect to the first layer's inputs, (B, T, emb).

    dh_top (B, units) is the gradient on the last cached layer's hidden state at the last step; seed
    (name in GATES, (B, units)) a gradient on that layer's gate, cell or hidden value at the last step.
    Only the last step is ever seeded: the text is cut at the position explained.
    """
    B, T, u = cache[-1].h.shape
    dt = cache[-1].h.dtype
    dh_seq = np.zeros((B, T, u), dt)
    if dh_top is not None:
        dh_seq[:, -1] += dh_top
    for k in range(len(cache) - 1, -1, -1):
        lw, L = weights.layers[k], cache[k]
        u = lw.units
        extra = {n: np.zeros((B, u), dt) for n in "hcifgo"}
        if seed is not None and k == len(cache) - 1:
            extra[_SEED[seed[0]]] = seed[1]
        dz = np.empty((B, T, 4 * u), dt)
        dh_next, dc_next = np.zeros((B, u), dt), np.zeros((B, u), dt)
        r_t = np.asarray(lw.recurrent, dt).T  # (4u, u)
        for t in range(T - 1, -1, -1):
            last = t == T - 1
            dh = dh_seq[:, t] + dh_next + (extra["h"] if last else 0.0)
            tc = np.tanh(L.c[:, t])
            dc = dc_next + dh * L.o[:, t] * (1.0 - tc * tc) + (extra["c"] if last else 0.0)
            c_prev = L.c[:, t - 1] if t > 0 else np.zeros((B, u), dt)
            i, f, g, o = L.i[:, t], L.f[:, t], L.g[:, t], L.o[:, t]
            di = dc * g + (extra["i"] if last else 0.0)
            df = dc * c_prev + (extra["f"] if last else 0.0)
            dg = dc * i + (extra["g"] if last else 0.0)
            do = dh * tc + (extra["o"] if last else 0.0)
            dz[:, t, :u] = di * i * (1.0 - i)
            dz[:, t, u:2 * u] = df * f * (1.0 - f)
            dz[:, t, 2 * u:3 * u] = dg * (1.0 - g * g)
            dz[:, t, 3 * u:] = do * o * (1.0 - o)
            dh_next = dz[:, t] @ r_t
            dc_next = dc * f
        dh_seq = dz @ np.asarray(lw.kernel, dt).T  # (B, T, input): on to the layer below
    return dh_seq


def value_and_grad(weights: Weights, x: np.ndarray, target: Target, char_id: int | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The target at the last step of x (B, T, emb), and its gradient with respect to x: ((B,), (B, T, emb))."""
    if target.kind == "next":
        cache = forward(weights, x)
        h = cache[-1].h[:, -1]  # (B, units)
        dense_w = np.asarray(weights.dense_w, x.dtype)
        logits = h @ dense_w + np.asarray(weights.dense_b, x.dtype)  # (B, vocab)
        z = logits - logits.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        dlogits = -np.exp(logp)  # d log p[char] / d logits = onehot - softmax
        dlogits[:, char_id] += 1.0
        return logp[:, char_id], backward(weights, cache, dh_top=dlogits @ dense_w.T)
    layer = check_unit(weights, target)
    units = weights.layers[layer].units
    cache = forward(weights, x, layers=layer + 1)
    values = getattr(cache[-1], _SEED[target.kind])[:, -1, target.unit]  # (B,)
    seed = np.zeros((x.shape[0], units), x.dtype)
    seed[:, target.unit] = 1.0
    return values, backward(weights, cache, seed=(target.kind, seed))


def check_unit(weights: Weights, target: Target) -> int:
    """The 0-based layer of a unit target; ValueError, in one sentence, for a kind, layer or unit out of range."""
    n = len(weights.layers)
    if target.kind not in UNIT_TARGETS:
        raise ValueError(f"unknown target {target.kind!r}; choose 'next' or one of {', '.join(UNIT_TARGETS)}")
    if not -n <= target.layer < n:
        raise ValueError(f"layer {target.layer + 1} is outside this {n}-layer model")
    layer = target.layer % n
    units = weights.layers[layer].units
    if not 0 <= target.unit < units:
        raise ValueError(f"unit {target.unit} is outside layer {layer + 1}'s {units} units (0 to {units - 1})")
    return layer


# ---- salience
def neutral_char(vocab: Vocab) -> str:
    """The default baseline character: the space, else the corpus's most frequent character.

    The zero embedding is the textbook baseline, but a trained model never saw it: read for a few hundred steps it
    can drive the LSTM into chaotic dynamics whose gradients explode (measured on the shipped model: 1e20 after
    300 characters), and the integral's sum no longer adds up. A real character keeps the path on familiar ground.
    """
    if " " in vocab.stoi:
        return " "
    return vocab.chars[int(np.argmax(vocab.counts))] if vocab.counts else vocab.chars[0]


def attribute(weights: Weights, vocab: Vocab, text: str, position: int, target: Target = Target(),
              method: str = "ig", steps: int = DEFAULT_STEPS, baseline: str | None = None,
              window: int = 0) -> Attribution:
    """How much each character of text up to `position` moved the target, by `method` (a key of METHODS).

    baseline (integrated gradients): None for the zero embedding, or a character of the vocabulary whose
    embedding stands in at every position. window > 0 (a window run): the model reads only the `window`
    characters ending at the position, from an empty state, as it does when it predicts.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    ids = vocab.encode(text)  # raises CorpusError naming unknown characters
    T = len(ids)
    if not 0 <= position < T:
        raise ValueError(f"the position must be 0 to {T - 1}, not {position}")
    if method == "ig" and not 1 <= steps <= 1024:
        raise ValueError(f"integrated gradients needs 1 to 1,024 steps, not {steps}")
    start = max(0, position - window + 1) if window > 0 else 0
    char_id, target = _resolve(weights, vocab, ids, start, position, target)
    emb = np.asarray(weights.embedding, np.float32)  # float32 as the trace: 4 to 10 times faster than float64
    x = emb[ids[start:position + 1]][None]  # (1, n, emb)
    if baseline is not None and baseline not in vocab.stoi:
        raise ValueError(f"the baseline character {baseline!r} is not in the model's vocabulary")
    base = np.zeros_like(x) if baseline is None else np.broadcast_to(emb[vocab.stoi[baseline]], x.shape)
    scores = np.zeros(T)  # float64: sums of float32 gradients, accumulated exactly enough
    base_value = None
    if method == "ig":
        alphas = (np.arange(steps) + 0.5) / steps  # the midpoint rule on [0, 1]
        total = np.zeros(x.shape[1:], np.float64)
        for a in np.array_split(alphas, max(1, -(-steps // CHUNK))):
            _, grad = value_and_grad(weights, base + a[:, None, None] * (x - base), target, char_id)
            total += grad.sum(axis=0)
        part = ((x[0] - base[0]) * total / steps).sum(axis=1)  # (n,)
        value = float(value_and_grad(weights, x, target, char_id)[0][0])
        base_value = float(value_and_grad(weights, np.array(base), target, char_id)[0][0])
    else:
        v, grad = value_and_grad(weights, x, target, char_id)
        value = float(v[0])
        part = (grad[0] * x[0]).sum(axis=1) if method == "gxi" else np.linalg.norm(grad[0], axis=1)
    scores[start:position + 1] = part
    return Attribution(text=vocab.decode(ids), position=position, start=start, scores=scores, method=method,
                       target=target, what=describe(target, text[position] if position < len(text) else ""),
                       value=value, baseline_value=base_value, baseline="zero" if baseline is None else baseline)


def _resolve(weights: Weights, vocab: Vocab, ids: np.ndarray, start: int, position: int,
             target: Target) -> tuple[int | None, Target]:
    """The character id a "next" target scores, and the target with its char filled in."""
    if target.kind != "next":
        return None, Target(target.kind, check_unit(weights, target), target.unit)
    if target.char is not None:
        if target.char not in vocab.stoi:
            raise ValueError(f"the character {target.char!r} is not in the model's vocabulary")
        return vocab.stoi[target.char], target
    if position + 1 < len(ids):
        cid = int(ids[position + 1])
    else:  # after the last character: the model's own top guess
        emb = np.asarray(weights.embedding, np.float32)
        h = forward(weights, emb[ids[start:position + 1]][None])[-1].h[0, -1]
        cid = int(np.argmax(h @ weights.dense_w + weights.dense_b))
    return cid, Target("next", target.layer, target.unit, vocab.chars[cid])


def describe(target: Target, at_char: str = "") -> str:
    """The target in words, for titles and tables."""
    if target.kind == "next":
        return f"log p({target.char!r} next)"
    layer = f"layer {target.layer + 1}" if target.layer >= 0 else "the last layer"
    gate = "" if target.kind in ("cell", "hidden", "candidate") else " gate"
    state = " state" if target.kind in ("cell", "hidden") else ""
    return f"unit {target.unit}'s {target.kind}{state}{gate} in {layer}"


def top_characters(a: Attribution, k: int = 10) -> list[tuple[int, str, float]]:
    """The k characters with the largest |score|: (position, character, score), largest first."""
    order = np.argsort(-np.abs(a.scores), kind="stable")[:k]
    return [(int(t), a.text[t], float(a.scores[t])) for t in order if t <= a.position and t >= a.start]


__all__ = ["DEFAULT_STEPS", "METHODS", "UNIT_TARGETS", "Attribution", "Target", "attribute", "backward", "check_unit",
           "describe", "forward", "neutral_char", "top_characters", "value_and_grad"]
