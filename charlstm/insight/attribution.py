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

from charlstm.model.lstm_np import GATES, Weights
from charlstm.text.corpus import Vocab

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


# ---- the batched forward and backward passes, time-major inside: every step's slice is contiguous
@dataclass
class _Layer:
    a: np.ndarray  # (T, B, 4 * units): the gates after their activation, i, f, g (the tanh candidate), o
    c: np.ndarray  # (T, B, units)
    h: np.ndarray  # (T, B, units)

    def gate(self, name: str) -> np.ndarray:
        """(T, B, units) of one of i, f, g, o, c, h."""
        if name in "ch":
            return getattr(self, name)
        u = self.c.shape[2]
        n = "ifgo".index(name)
        return self.a[:, :, n * u:(n + 1) * u]


def _halves(u: int, dtype) -> np.ndarray:
    """sigmoid(z) = 0.5 + 0.5 tanh(z / 2): 0.5 for the three sigmoid gates' columns, 1 for the candidate's."""
    s = np.full(4 * u, 0.5, dtype)
    s[2 * u:3 * u] = 1.0
    return s


def forward(weights: Weights, x: np.ndarray, layers: int | None = None) -> list[_Layer]:
    """Every layer (the first `layers`) over embedded inputs x (B, T, emb) from an empty state, all recorded.

    As lstm_np.Stepper: the sigmoid gates' columns are halved once (exact in floating point), so one tanh of
    the step's pre-activations gives all four gates.
    """
    out = []
    x = np.ascontiguousarray(np.swapaxes(x, 0, 1))  # (T, B, emb)
    for lw in weights.layers[:layers]:
        T, B, _ = x.shape
        u, dt = lw.units, x.dtype
        half = _halves(u, dt)
        shift = np.where(half == 0.5, 0.5, 0.0).astype(dt)
        r = np.asarray(lw.recurrent, dt) * half
        xz = x @ (np.asarray(lw.kernel, dt) * half) + np.asarray(lw.bias, dt) * half  # (T, B, 4u) at once
        A = np.empty((T, B, 4 * u), dt)
        C = np.empty((T, B, u), dt)
        H = np.empty((T, B, u), dt)
        h, c = np.zeros((B, u), dt), np.zeros((B, u), dt)
        for t in range(T):
            a = np.matmul(h, r, out=A[t])
            a += xz[t]
            np.tanh(a, out=a)
            a *= half
            a += shift  # i, f, o: sigmoid; g: tanh
            c = np.multiply(a[:, u:2 * u], c, out=C[t])
            c += a[:, :u] * a[:, 2 * u:3 * u]
            h = np.multiply(a[:, 3 * u:], np.tanh(c), out=H[t])
        out.append(_Layer(a=A, c=C, h=H))
        x = H
    return out


_SEED = {"input": "i", "forget": "f", "candidate": "g", "output": "o", "cell": "c", "hidden": "h"}


def backward(weights: Weights, cache: list[_Layer], dh_top: np.ndarray | None = None,
             seed: tuple[str, np.ndarray] | None = None) -> np.ndarray:
    """The gradient with respect to the first layer's inputs, (B, T, emb).

    dh_top (B, units) is the gradient on the last cached layer's hidden state at the last step; seed
    (name in GATES, (B, units)) a gradient on that layer's gate, cell or hidden value at the last step.
    Only the last step is ever seeded: the text is cut at the position explained.
    """
    T, B, u = cache[-1].h.shape
    dt = cache[-1].h.dtype
    dh_seq = np.zeros((T, B, u), dt)
    if dh_top is not None:
        dh_seq[-1] += dh_top
    for k in range(len(cache) - 1, -1, -1):
        lw, L = weights.layers[k], cache[k]
        u = lw.units
        A, C = L.a, L.c
        TC = np.tanh(C)  # (T, B, u)
        OT = A[:, :, 3 * u:] * (1.0 - TC * TC)  # d c / d h through h = o tanh(c)
        D = A * (1.0 - A)  # the sigmoid gates' derivatives...
        D[:, :, 2 * u:3 * u] = 1.0 - A[:, :, 2 * u:3 * u] ** 2  # ... and the candidate's tanh
        seeded = seed is not None and k == len(cache) - 1
        name = _SEED[seed[0]] if seeded else None
        dz = np.empty((T, B, 4 * u), dt)
        dh_next, dc_next = np.zeros((B, u), dt), np.zeros((B, u), dt)
        zero = np.zeros((B, u), dt)
        r_t = np.ascontiguousarray(np.asarray(lw.recurrent, dt).T)  # (4u, u)
        for t in range(T - 1, -1, -1):
            dh = dh_seq[t] + dh_next
            if seeded and t == T - 1 and name == "h":
                dh += seed[1]
            dc = dh * OT[t]
            dc += dc_next
            if seeded and t == T - 1 and name == "c":
                dc += seed[1]
            d, a = dz[t], A[t]
            np.multiply(dc, a[:, 2 * u:3 * u], out=d[:, :u])  # d i = dc g
            np.multiply(dc, C[t - 1] if t > 0 else zero, out=d[:, u:2 * u])  # d f = dc c_prev
            np.multiply(dc, a[:, :u], out=d[:, 2 * u:3 * u])  # d g = dc i
            np.multiply(dh, TC[t], out=d[:, 3 * u:])  # d o = dh tanh(c)
            if seeded and t == T - 1 and name in "ifgo":
                n = "ifgo".index(name)
                d[:, n * u:(n + 1) * u] += seed[1]
            d *= D[t]  # through each gate's activation
            dh_next = d @ r_t
            dc_next = dc * a[:, u:2 * u]
        dh_seq = dz @ np.asarray(lw.kernel, dt).T  # (T, B, input): on to the layer below
    return np.swapaxes(dh_seq, 0, 1)  # (B, T, emb)


def _value(weights: Weights, cache: list[_Layer], target: Target, char_id: int | None
           ) -> tuple[np.ndarray, np.ndarray | None]:
    """The target at the last step, (B,), and for "next" the gradient on the top hidden state there, (B, units)."""
    if target.kind != "next":
        return cache[-1].gate(_SEED[target.kind])[-1, :, target.unit], None
    h = cache[-1].h[-1]  # (B, units)
    dense_w = np.asarray(weights.dense_w, h.dtype)
    logits = h @ dense_w + np.asarray(weights.dense_b, h.dtype)  # (B, vocab)
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    dlogits = -np.exp(logp)  # d log p[char] / d logits = onehot - softmax
    dlogits[:, char_id] += 1.0
    return logp[:, char_id], dlogits @ dense_w.T


def value(weights: Weights, x: np.ndarray, target: Target, char_id: int | None = None) -> np.ndarray:
    """The target at the last step of x (B, T, emb), forward only: (B,)."""
    layers = None if target.kind == "next" else check_unit(weights, target) + 1
    return _value(weights, forward(weights, x, layers), target, char_id)[0]


def value_and_grad(weights: Weights, x: np.ndarray, target: Target, char_id: int | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The target at the last step of x (B, T, emb), and its gradient with respect to x: ((B,), (B, T, emb))."""
    if target.kind == "next":
        cache = forward(weights, x)
        v, dh = _value(weights, cache, target, char_id)
        return v, backward(weights, cache, dh_top=dh)
    layer = check_unit(weights, target)
    cache = forward(weights, x, layers=layer + 1)
    seed = np.zeros((x.shape[0], weights.layers[layer].units), x.dtype)
    seed[:, target.unit] = 1.0
    return _value(weights, cache, target, None)[0], backward(weights, cache, seed=(target.kind, seed))


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
    if baseline is not None and baseline not in vocab.stoi:
        raise ValueError(f"the baseline character {baseline!r} is not in the model's vocabulary")
    with one_blas_thread():
        char_id, target = _resolve(weights, vocab, ids, start, position, target)
        return _attribute(weights, vocab, ids, position, start, char_id, target, method, steps, baseline, text)


def one_blas_thread():
    """BLAS on one thread while attributing: each step's matrix product is small (16 x 256 by 256 x 1,024), and
    OpenBLAS's two threads on a busy 2-core machine measured 40 times slower than one (41 s against 1.2 s for 64
    steps of integrated gradients over 80 characters of the shipped model). threadpoolctl comes with scikit-learn."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # without it, BLAS's own default
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _attribute(weights: Weights, vocab: Vocab, ids: np.ndarray, position: int, start: int, char_id: int | None,
               target: Target, method: str, steps: int, baseline: str | None, text: str) -> Attribution:
    T = len(ids)
    emb = np.asarray(weights.embedding, np.float32)  # float32 as the trace: 4 to 10 times faster than float64
    x = emb[ids[start:position + 1]][None]  # (1, n, emb)
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
        value = float(_value_of(weights, x, target, char_id))
        base_value = float(_value_of(weights, np.array(base), target, char_id))
    else:
        v, grad = value_and_grad(weights, x, target, char_id)
        value = float(v[0])
        part = (grad[0] * x[0]).sum(axis=1) if method == "gxi" else np.linalg.norm(grad[0], axis=1)
    scores[start:position + 1] = part
    return Attribution(text=vocab.decode(ids), position=position, start=start, scores=scores, method=method,
                       target=target, what=describe(target, text[position] if position < len(text) else ""),
                       value=value, baseline_value=base_value, baseline="zero" if baseline is None else baseline)


def _value_of(weights: Weights, x: np.ndarray, target: Target, char_id: int | None) -> float:
    return float(value(weights, x, target, char_id)[0])


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
        h = forward(weights, emb[ids[start:position + 1]][None])[-1].h[-1, 0]
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
           "describe", "forward", "neutral_char", "top_characters", "value", "value_and_grad"]
