"""Interventions: clamp one unit's gate or cell from a position on, and compare the prediction with and without.

A test of cause, not only correlation (as ecco does for transformers): if a unit's forget gate
dropping at a sentence boundary is what lets the model start afresh, holding that gate at 1
should change what it predicts next. The clamped path is its own loop (ClampedStepper), so the
plain Stepper.step that generation runs stays exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charlstm.insight.gates import forgetters, sentence_boundaries, trace_weights
from charlstm.model.lstm_np import LayerWeights, Stepper, Weights, sigmoid, softmax
from charlstm.model.sampling import continue_ids
from charlstm.text.corpus import Vocab

TARGETS = ("input", "forget", "output", "cell")  # what a clamp can hold fixed
STORY = "Divya likes to eat. Reena is not fat."  # the tutorial's forget-gate example


@dataclass(frozen=True)
class Clamp:
    layer: int  # 0-based
    unit: int
    target: str  # one of TARGETS
    value: float
    start: int  # the first position (0-based, in the text as the model reads it) that is clamped

    def check(self, weights: Weights) -> None:
        """Raise ValueError naming what does not fit the network."""
        if self.target not in TARGETS:
            raise ValueError(f"cannot clamp {self.target!r}; choose from {', '.join(TARGETS)}")
        if not 0 <= self.layer < len(weights.layers):
            raise ValueError(f"layer {self.layer + 1} does not exist: the model has {len(weights.layers)}")
        if not 0 <= self.unit < weights.layers[self.layer].units:
            raise ValueError(f"unit {self.unit} does not exist: layer {self.layer + 1} has "
                             f"{weights.layers[self.layer].units} (0 to {weights.layers[self.layer].units - 1})")
        if self.target != "cell" and not 0.0 <= self.value <= 1.0:
            raise ValueError(f"a gate is between 0 and 1, so it cannot be held at {self.value:g}")
        if self.start < 0:
            raise ValueError(f"the clamp starts at a position >= 0, not {self.start}")


def clamped_layer(lw: LayerWeights, x: np.ndarray, h: np.ndarray, c: np.ndarray, unit: int | None,
                  target: str, value: float, start: int, offset: int = 0):
    """run_layer with one unit's gate or cell held at value at positions offset + t >= start.

    unit None: no clamp (this layer is not the clamped one). Returns (outputs (T, units), h, c).
    """
    u = lw.units
    xz = x @ lw.kernel + lw.bias  # (T, 4u)
    out = np.empty((x.shape[0], u), dtype=np.float32)
    for t in range(x.shape[0]):
        z = xz[t] + h @ lw.recurrent
        i, f, g, o = sigmoid(z[:u]), sigmoid(z[u:2 * u]), np.tanh(z[2 * u:3 * u]), sigmoid(z[3 * u:])
        on = unit is not None and offset + t >= start
        if on and target in ("input", "forget", "output"):
            {"input": i, "forget": f, "output": o}[target][unit] = value
        c = f * c + i * g
        if on and target == "cell":
            c[unit] = value
        h = o * np.tanh(c)
        out[t] = h
    return out, h, c


class ClampedStepper(Stepper):
    """A Stepper that holds one unit fixed from clamp.start on; slower than Stepper.step, and never used by it."""

    def __init__(self, w: Weights, clamp: Clamp):
        clamp.check(w)
        super().__init__(w)
        self.clamp = clamp
        self.pos = 0  # position of the next character fed

    def _run(self, ids: np.ndarray) -> np.ndarray:
        cl = self.clamp
        x = self.w.embedding[np.asarray(ids, dtype=np.int64)]  # (T, emb)
        for k, lw in enumerate(self.w.layers):
            x, self.h[k], self.c[k] = clamped_layer(lw, x, self.h[k], self.c[k], cl.unit if k == cl.layer else None,
                                                    cl.target, cl.value, cl.start, self.pos)
        self.pos += len(ids)
        return x @ self.w.dense_w + self.w.dense_b  # (T, vocab)

    def feed_all(self, ids: np.ndarray) -> np.ndarray:
        """Advance over ids (T,); the logits (T, vocab) after every one of them."""
        return self._run(ids)

    def feed(self, ids: np.ndarray) -> np.ndarray:
        return self._run(ids)[-1]

    def step(self, idx: int) -> np.ndarray:
        return self._run(np.array([idx]))[0]


@dataclass(frozen=True)
class Comparison:
    text: str  # as the model read it
    clamp: Clamp
    plain: np.ndarray  # (T, vocab) next-character probabilities after each position, untouched
    clamped: np.ndarray  # (T, vocab) ... with the clamp
    continuation_plain: str
    continuation_clamped: str  # generated with the clamp still held, same seed
    vocab: Vocab

    @property
    def divergence(self) -> np.ndarray:
        """KL(plain || clamped) at every position, in nats: how much the clamp moved each prediction."""
        p, q = np.clip(self.plain, 1e-12, 1), np.clip(self.clamped, 1e-12, 1)
        kl = (p * (np.log(p) - np.log(q))).sum(axis=-1)  # (T,)
        return np.maximum(kl, 0.0)  # never below 0: rounding made an untouched prediction read "-0.0000 nats"

    def top(self, position: int, k: int = 8) -> list[tuple[str, float, float]]:
        """The characters likeliest after `position` either way: (char, p untouched, p clamped), by the larger."""
        p, q = self.plain[position], self.clamped[position]
        order = np.argsort(-np.maximum(p, q))[:k]
        return [(self.vocab.chars[j], float(p[j]), float(q[j])) for j in order]


def _continue(stepper: Stepper, logits: np.ndarray, vocab: Vocab, length: int, temperature: float,
              seed: int | None) -> str:
    ids = continue_ids(stepper, logits, length, temperature, 0, np.random.default_rng(seed))  # as generate draws
    return "".join(vocab.chars[i] for i in ids)


def compare(weights: Weights, vocab: Vocab, text: str, clamp: Clamp, length: int = 120, temperature: float = 0.5,
            seed: int | None = 0, drop_unknown: bool = False) -> Comparison:
    """Read text with and without the clamp; the predictions at every position and a continuation from each.

    text is taken as the model reads it (see gates.trace for lowercasing); unknown characters raise
    CorpusError naming them unless drop_unknown.
    """
    clamp.check(weights)
    ids = vocab.encode(text, drop_unknown=drop_unknown)
    if len(ids) == 0:
        raise ValueError("nothing to read: the text is empty")
    if clamp.start >= len(ids):
        raise ValueError(f"the clamp starts at position {clamp.start}, after the text ends ({len(ids)} characters)")
    plain = Stepper(weights)
    x = weights.embedding[ids]
    for k, lw in enumerate(weights.layers):  # the untouched path: the same recurrence as gates.trace
        x, plain.h[k], plain.c[k] = clamped_layer(lw, x, plain.h[k], plain.c[k], None, "forget", 0.0, 0)
    logits_plain = x @ weights.dense_w + weights.dense_b
    held = ClampedStepper(weights, clamp)
    logits_held = held.feed_all(ids)
    return Comparison(
        text=vocab.decode(ids), clamp=clamp, plain=softmax(logits_plain), clamped=softmax(logits_held),
        continuation_plain=_continue(plain, logits_plain[-1], vocab, length, temperature, seed),
        continuation_clamped=_continue(held, logits_held[-1], vocab, length, temperature, seed),
        vocab=vocab)


def strongest_forgetter(weights: Weights, vocab: Vocab, text: str = STORY) -> tuple[int, int, int]:
    """(layer, unit, boundary) of the unit whose forget gate drops most at text's first sentence boundary."""
    tr = trace_weights(weights, vocab, text, drop_unknown=True)
    bounds = sentence_boundaries(tr.text)
    if not bounds:
        raise ValueError("the text has no sentence boundary (., ! or ? followed by more text)")
    best = max(((forgetters(tr, layer, bounds[0], k=1)[0], layer) for layer in range(len(tr.layers))),
               key=lambda fl: fl[0].drop)
    return best[1], best[0].unit, bounds[0]


@dataclass(frozen=True)
class Moved:
    """What a clamp did to one prediction, in the terms a class can read."""
    position: int
    char: str | None  # the character that comes next in the text (None after its last)
    p_plain: float | None  # its probability untouched ...
    p_clamped: float | None  # ... and clamped
    top_plain: str  # the likeliest next character untouched
    top_clamped: str  # ... and clamped

    @property
    def visible(self) -> bool:
        """Visible to a class: the right character's probability moved by at least 0.2, or the top one changed."""
        return self.top_plain != self.top_clamped or (
            self.p_plain is not None and abs(self.p_clamped - self.p_plain) >= 0.2)


def moved(cmp: Comparison, at: int) -> Moved:
    """How the clamp moved the prediction after position `at` of the text."""
    nxt = cmp.vocab.stoi[cmp.text[at + 1]] if at + 1 < len(cmp.text) else None
    p, q = cmp.plain[at], cmp.clamped[at]
    return Moved(at, cmp.text[at + 1] if nxt is not None else None,
                 float(p[nxt]) if nxt is not None else None, float(q[nxt]) if nxt is not None else None,
                 cmp.vocab.chars[int(p.argmax())], cmp.vocab.chars[int(q.argmax())])


@dataclass(frozen=True)
class ClampLesson:
    """Where the Teach page's clamp view starts: a text, a clamp, the prediction to read, and why."""
    text: str
    clamp: Clamp
    at: int  # the position whose next-character prediction the lesson reads
    explain: str  # markdown


STORY_EXPLAIN = ("The story first: the unit whose forget gate drops most at the period of the tutorial's sentence, "
                 "held open (at 1) so it cannot forget.")
LINES = "KING RICHARD III:\nNow is the winter of our discontent\nMade glorious summer by this sun of York;\n"
# Found on the shipped model by bench/clamp_search.py (every unit of both layers, nine clamps each) and
# bench/choose_demo.py: the story's strongest forgetter held open from its period moves nothing a class can see
# (KL 0.025 nats at most), while the unit that measures the line (the Units page's line-position cell, r = +0.93)
# held where every line starts moves the line's end from 97.3% to 1.9%.
SHIPPED = {("1c06e0fd443e99f6", "2026-12-04T09:16:41Z"): ClampLesson(
    LINES, Clamp(layer=0, unit=252, target="cell", value=-1.0, start=LINES.index("\n")), LINES.index(";"),
    "The lesson: a unit that measures the line. Layer 1, unit 252 of the shipped model is its strongest "
    "line-position cell (the Units page finds it): its **cell** drops to about −1 at every line break and climbs "
    "steadily as the line goes on, and the model ends a line when it is high. Hold the cell at −1, where every "
    "line starts, from the first line break: the model no longer expects the line to end.")}


def lesson_for(run) -> ClampLesson:
    """The clamp lesson for a run: the shipped model's own (SHIPPED, by its key and when it was made), else the
    story's strongest forgetter held open from the period (ValueError when the model knows too little of it)."""
    shipped = SHIPPED.get((run.key, run.meta.get("created")))
    if shipped is not None:
        return shipped
    clamp = story_clamp(run.weights, run.vocab)
    return ClampLesson(STORY, clamp, clamp.start, STORY_EXPLAIN)


def story_clamp(weights: Weights, vocab: Vocab, text: str = STORY) -> Clamp:
    """The tutorial's first example: the strongest forgetter's forget gate held at 1 from the boundary on."""
    layer, unit, boundary = strongest_forgetter(weights, vocab, text)
    return Clamp(layer=layer, unit=unit, target="forget", value=1.0, start=boundary)
