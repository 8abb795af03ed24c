"""A numpy LSTM over the Keras weights: the stepper behind sampling and the gate tracer.

No TensorFlow here, so generation and gate tracing start instantly. Keras packs each
LSTM's gates as i, f, c (the tanh candidate), o along the last axis of kernel,
recurrent_kernel and bias; tests/test_gates.py checks this file against Keras itself.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LayerWeights:
    kernel: np.ndarray  # (input, 4 * units), gates i, f, c, o
    recurrent: np.ndarray  # (units, 4 * units)
    bias: np.ndarray  # (4 * units,)

    @property
    def units(self) -> int:
        return self.recurrent.shape[0]


@dataclass(frozen=True)
class Weights:
    embedding: np.ndarray  # (vocab, embedding)
    layers: tuple[LayerWeights, ...]
    dense_w: np.ndarray  # (units, vocab)
    dense_b: np.ndarray  # (vocab,)

    @property
    def vocab_size(self) -> int:
        return self.embedding.shape[0]

    @classmethod
    def from_keras(cls, model) -> Weights:
        """Copy the weights out of a model made by charlstm.model.network.build_model."""
        layers = []
        i = 0
        while True:
            try:
                lstm = model.get_layer(f"lstm_{i}")
            except ValueError:
                break
            k, r, b = (np.asarray(w, dtype=np.float32) for w in lstm.get_weights())
            layers.append(LayerWeights(k, r, b))
            i += 1
        (emb,) = model.get_layer("embedding").get_weights()
        dw, db = model.get_layer("logits").get_weights()
        return cls(np.asarray(emb, np.float32), tuple(layers), np.asarray(dw, np.float32), np.asarray(db, np.float32))

    def to_bytes(self) -> bytes:
        arrays = {"embedding": self.embedding, "dense_w": self.dense_w, "dense_b": self.dense_b}
        for i, lw in enumerate(self.layers):
            arrays |= {f"kernel_{i}": lw.kernel, f"recurrent_{i}": lw.recurrent, f"bias_{i}": lw.bias}
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Weights:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            n = sum(1 for k in z.files if k.startswith("kernel_"))
            layers = tuple(LayerWeights(z[f"kernel_{i}"], z[f"recurrent_{i}"], z[f"bias_{i}"]) for i in range(n))
            w = cls(z["embedding"], layers, z["dense_w"], z["dense_b"])
        w.check()
        return w

    def check(self) -> None:
        """Raise ValueError when the shapes do not chain into one network."""
        width = self.embedding.shape[1]
        for i, lw in enumerate(self.layers):
            u = lw.units
            if lw.kernel.shape != (width, 4 * u) or lw.recurrent.shape != (u, 4 * u) or lw.bias.shape != (4 * u,):
                raise ValueError(f"LSTM layer {i} weights have inconsistent shapes")
            width = u
        v = self.vocab_size
        if not self.layers or self.dense_w.shape != (width, v) or self.dense_b.shape != (v,):
            raise ValueError("output layer weights have inconsistent shapes")


def sigmoid(x: np.ndarray) -> np.ndarray:
    # 1 / (1 + exp(-x)) written through tanh: one call, and exp never overflows
    return 0.5 + 0.5 * np.tanh(0.5 * x)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


GATES = ("input", "forget", "candidate", "output", "cell", "hidden")


def run_layer(lw: LayerWeights, x: np.ndarray, h: np.ndarray, c: np.ndarray, record: bool = False):
    """One LSTM layer over a sequence x (T, input) from state (h, c), each (units,).

    Returns (outputs (T, units), h, c, gates) where gates maps each name in GATES to (T, units)
    when record is True, else None.
    """
    u = lw.units
    xz = x @ lw.kernel + lw.bias  # (T, 4u): the input part of every step at once
    T = x.shape[0]
    out = np.empty((T, u), dtype=np.float32)
    rec = {g: np.empty((T, u), dtype=np.float32) for g in GATES} if record else None
    for t in range(T):
        z = xz[t] + h @ lw.recurrent  # (4u,)
        i = sigmoid(z[:u])
        f = sigmoid(z[u:2 * u])
        g = np.tanh(z[2 * u:3 * u])
        o = sigmoid(z[3 * u:])
        c = f * c + i * g
        h = o * np.tanh(c)
        out[t] = h
        if rec is not None:
            for name, v in zip(GATES, (i, f, g, o, c, h), strict=True):
                rec[name][t] = v
    return out, h, c, rec


class Stepper:
    """Carries (h, c) for every layer; feed characters, get next-character logits."""

    def __init__(self, w: Weights):
        self.w = w
        self.reset()
        # sigmoid(z) = 0.5 + 0.5 * tanh(z / 2): the columns of the three sigmoid gates are halved here, once,
        # so one tanh of one matrix product gives all four gates. Halving is exact in floating point, so
        # tanh(x @ (W * half)) is the very number tanh((x @ W) * half) was.
        self.half = []
        for lw in w.layers:
            s = np.full(4 * lw.units, 0.5, np.float32)
            s[2 * lw.units:3 * lw.units] = 1.0
            self.half.append(s)
        # the first layer's input part for every character, looked up instead of multiplied: (vocab, 4 * units)
        self.first = (w.embedding @ w.layers[0].kernel + w.layers[0].bias) * self.half[0]
        self.recurrent0 = w.layers[0].recurrent * self.half[0]  # (units, 4 * units)
        # above the first layer, [x, h] @ [kernel; recurrent]: one matrix product for both parts, (2 * units, 4 * units)
        self.stacked = [None] + [np.vstack([lw.kernel, lw.recurrent]) * s
                                 for lw, s in zip(w.layers[1:], self.half[1:], strict=True)]
        self.bias = [lw.bias * s for lw, s in zip(w.layers, self.half, strict=True)]
        self.units = [lw.units for lw in w.layers]

    def reset(self) -> None:
        """Back to the empty state (h = c = 0), as at the start of a text or of a window."""
        self.h = [np.zeros(lw.units, np.float32) for lw in self.w.layers]
        self.c = [np.zeros(lw.units, np.float32) for lw in self.w.layers]

    def feed(self, ids: np.ndarray) -> np.ndarray:
        """Advance over ids (T,); returns the logits (vocab,) after the last one."""
        x = self.w.embedding[np.asarray(ids, dtype=np.int64)]  # (T, emb)
        for k, lw in enumerate(self.w.layers):
            x, self.h[k], self.c[k], _ = run_layer(lw, x, self.h[k], self.c[k])
        return x[-1] @ self.w.dense_w + self.w.dense_b

    def step(self, idx: int) -> np.ndarray:
        """One character in, logits out: the hot loop of generation, as few numpy calls as the maths allows."""
        h, c, x = self.h, self.c, None
        for k, u in enumerate(self.units):
            if k == 0:
                z = self.first[idx] + h[0] @ self.recurrent0  # (4u,), sigmoid columns halved
            else:
                z = np.concatenate((x, h[k])) @ self.stacked[k] + self.bias[k]
            a = np.tanh(z)  # the candidate, and tanh(z / 2) for the three sigmoid gates
            s = 0.5 * a + 0.5  # sigmoid for i, f and o (the candidate's slice of s is not used)
            c[k] = s[u:2 * u] * c[k] + s[:u] * a[2 * u:3 * u]
            x = h[k] = s[3 * u:] * np.tanh(c[k])
        return x @ self.w.dense_w + self.w.dense_b
