"""Finding what units do: a cell finder over a corpus sample, and span search and match (LSTMVis).

The cell finder (Karpathy, Johnson and Fei-Fei, 2015) scores every unit of every layer against
a character label (labels.py): the area under the ROC curve for a yes/no label, the correlation
for position in the line. Span search (Strobelt et al., 2017, "LSTMVis") takes a span of a
traced text and a threshold and keeps the units that are on through the span and off just
before and after it; match then finds the places in the corpus sample where those units turn
on together. Everything is numpy over the numpy LSTM (lstm_np.py); no TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charlstm.insight.labels import MAX_REGEX, Label, label_values
from charlstm.model.lstm_np import GATES, Weights
from charlstm.text.corpus import BUILTIN_NAME, Corpus, Vocab, builtin, prepare

SAMPLE_CHARS = 20_000  # characters of the corpus the finders read: enough for rare labels, fast to trace
SLICE = 512  # the sample is read as slices of this many characters side by side, one matrix product a step
WARMUP = 128  # ... each slice starting this many characters early, so its memory is warm when it counts
BLOCK = 64  # steps whose input part is computed in one matrix product
BINS = 1024  # histogram bins per unit for the first, approximate AUC of every unit
EXACT = 32  # units whose AUC is then computed exactly, from a sort


# ---- the corpus sample
@dataclass(frozen=True)
class Sample:
    text: str  # as the model reads it (lowercased if the run was), unknown characters left out
    start: int  # where it starts in the corpus
    source: str  # one line for the reader: how much, from where


def run_corpus(run, store) -> Corpus | None:
    """The text a run was trained on: kept in the store by hash, or the built-in corpus."""
    sha = run.meta.get("corpus_sha256", "")
    found = store.load_corpus(sha) if store is not None and sha else None
    if found is None and run.meta.get("corpus_name") == BUILTIN_NAME:
        b = builtin()
        found = b if b.sha256 == sha else None
    return found


def held_out_sample(corpus: Corpus, vocab: Vocab, lowercase: bool, val_fraction: float,
                    chars: int = SAMPLE_CHARS, trained_on: bool = True) -> Sample:
    """`chars` characters from the start of the held-out end (the model never trained on it).

    A held-out part shorter than `chars` is extended backwards into the training text, and
    the source line says so. trained_on=False: a text the run was not trained on, sampled
    the same way.
    """
    if chars < 1:
        raise ValueError(f"the sample needs at least one character, not {chars}")
    ids = vocab.encode(prepare(corpus.text, lowercase), drop_unknown=True)
    n = int(len(ids) * (1 - val_fraction))  # the same split as train.split
    start = min(n, max(0, len(ids) - chars))
    text = vocab.decode(ids[start:start + chars])
    if not trained_on:
        source = f"{len(text):,} characters from the end of {corpus.name}"
    elif start == n:
        source = f"{len(text):,} characters from the held-out end of {corpus.name}, which the model never trained on"
    else:
        source = (f"the last {len(text):,} characters of {corpus.name} ({len(ids) - n:,} of them held out, "
                  "the rest training text)")
    return Sample(text=text, start=start, source=source)


def run_sample(run, store, chars: int = SAMPLE_CHARS, corpus: Corpus | None = None) -> Sample | None:
    """The sample for a run (anything with .meta, .vocab and .config), from its own corpus or from `corpus`.

    None when the run's corpus is not at hand.
    """
    own = run_corpus(run, store) if corpus is None else None
    if corpus is None and own is None:
        return None
    return held_out_sample(corpus or own, run.vocab, run.config.lowercase, run.config.val_fraction, chars,
                           trained_on=corpus is None)


# ---- tracing a long text, slices side by side
@dataclass(frozen=True)
class LongTrace:
    text: str
    layers: tuple[dict[str, np.ndarray], ...]  # per layer: each state asked for -> (T, units), read-only


def trace_long(weights: Weights, vocab: Vocab, text: str, states: tuple[str, ...] = ("cell", "hidden"),
               layers: int | None = None, slice_len: int = SLICE, warmup: int = WARMUP) -> LongTrace:
    """Every layer's `states` at every character of a long text, read as slices side by side.

    One character at a time would be one small vector-matrix product per step, 20,000 of them
    per layer; side by side, slice s reads text[s * slice_len - warmup : (s + 1) * slice_len]
    from an empty memory and keeps only its last slice_len characters, and a step is one
    matrix product for all slices. A unit whose state depends on more than `warmup`
    characters of the past can read differently from a single pass; the models here were
    trained on windows of seq_len characters, each from an empty memory, so a warm-up longer
    than seq_len is what they are used to. slice_len >= len(text) is one exact pass. `layers`
    stops after that many layers (the later ones are not needed for an earlier layer's states).
    """
    unknown = set(states) - set(GATES)
    if unknown:
        raise ValueError(f"unknown state {sorted(unknown)[0]!r}; choose from {', '.join(GATES)}")
    ids = vocab.encode(text)
    T = len(ids)
    n = max(1, -(-T // slice_len))  # slices
    steps = warmup + slice_len
    pos = np.arange(steps)[:, None] - warmup + np.arange(n)[None, :] * slice_len  # (steps, n): position read
    live = (pos >= 0).astype(np.float32)[:, :, None]  # before the text starts, a slice waits with an empty memory
    read = ids[np.clip(pos, 0, max(T - 1, 0))]  # (steps, n); past the text's end: read, then dropped
    x = None  # the layer below's hidden states, (steps, n, units)
    out_layers = []
    for lw in weights.layers[:layers]:
        u = lw.units
        # sigmoid(z) = 0.5 + 0.5 * tanh(z / 2): halve the sigmoid gates' columns once, then one tanh per step
        half = np.full(4 * u, 0.5, np.float32)
        half[2 * u:3 * u] = 1.0
        shift = 1.0 - half  # 0.5 for the sigmoid gates, 0 for the candidate
        kernel, bias, recurrent = lw.kernel * half, lw.bias * half, lw.recurrent * half
        table = weights.embedding @ kernel + bias if x is None else None  # (vocab, 4u): the first layer looks up
        c = np.zeros((n, u), np.float32)
        h = np.zeros((n, u), np.float32)
        out = np.empty((steps, n, u), np.float32)  # the hidden state, which the next layer reads
        rec = {s: np.empty((steps, n, u), np.float32) for s in states if s != "hidden"}
        a = np.empty((n, 4 * u), np.float32)
        for j0 in range(0, steps, BLOCK):  # the input part of BLOCK steps in one product, small enough for the cache
            j1 = min(steps, j0 + BLOCK)
            xz = table[read[j0:j1]] if x is None else (
                (x[j0:j1].reshape(-1, x.shape[-1]) @ kernel + bias).reshape(j1 - j0, n, 4 * u))
            for j in range(j0, j1):
                np.matmul(h, recurrent, out=a)
                a += xz[j - j0]
                np.tanh(a, out=a)
                a *= half
                a += shift  # a is now i, f, g, o side by side
                i, f, g, o = a[:, :u], a[:, u:2 * u], a[:, 2 * u:3 * u], a[:, 3 * u:]
                c *= f
                c += i * g
                h = out[j]
                np.tanh(c, out=h)
                h *= o
                if j < warmup:
                    c *= live[j]
                    h *= live[j]
                for name, v in rec.items():
                    v[j] = {"input": i, "forget": f, "candidate": g, "output": o, "cell": c}[name]
        rec["hidden"] = out
        out_layers.append({s: _flat(rec[s][warmup:], T) for s in states})
        x = out
    return LongTrace(text=vocab.decode(ids), layers=tuple(out_layers))


def _flat(a: np.ndarray, T: int) -> np.ndarray:
    flat = a.transpose(1, 0, 2).reshape(-1, a.shape[-1])[:T]  # (slice_len, n, units) -> slices in order: (T, units)
    flat.setflags(write=False)  # shared between sessions by the app's cache
    return flat


# ---- the cell finder
@dataclass(frozen=True)
class UnitScore:
    layer: int  # 0-based
    state: str  # "cell" or "hidden"
    unit: int
    score: float  # AUC for a yes/no label (0.5: no better than chance), Pearson r for a count
    strength: float  # how well it separates, 0 to 1, in either direction: |2 AUC - 1| or |r|


def _auc_binned(X: np.ndarray, y: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Approximate AUC of every column of X (T, C) for a boolean y (T,), from one histogram per column.

    Values in one bin count as ties (half a win): exact for real ties, off by at most half the
    share of positive-negative pairs that share a bin for near ties.
    """
    C = X.shape[1]
    lo, hi = X.min(axis=0), X.max(axis=0)
    scale = (bins - 1) / np.where(hi > lo, hi - lo, 1.0)
    b = ((X - lo) * scale).astype(np.int64) + np.arange(C) * bins  # (T, C) global bin index
    pos = np.bincount(b[y].ravel(), minlength=C * bins).reshape(C, bins)
    allc = np.bincount(b.ravel(), minlength=C * bins).reshape(C, bins)
    neg = allc - pos
    below = np.cumsum(neg, axis=1) - neg  # negatives in lower bins
    wins = (pos * (below + 0.5 * neg)).sum(axis=1)
    return wins / (y.sum() * (~y).sum())


def auc_exact(x: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve of one score x (T,) for a boolean y (T,): Mann-Whitney U with mid-ranks for ties."""
    order = np.argsort(x, kind="stable")
    s = x[order]
    new = np.r_[True, s[1:] != s[:-1]]
    group = np.cumsum(new) - 1  # tie group of each sorted value
    first = np.flatnonzero(new)
    last = np.r_[first[1:], len(s)] - 1
    midrank = (first + last)[group] / 2 + 1  # 1-based
    p, n = int(y.sum()), int((~y).sum())
    return float((midrank[y[order]].sum() - p * (p + 1) / 2) / (p * n))


def _corr(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of every column of X (T, C) with y (T,)."""
    yc = (y - y.mean()).astype(np.float32)
    Xc = X - X.mean(axis=0)
    den = np.sqrt((Xc * Xc).sum(axis=0)) * float(np.sqrt((yc * yc).sum()))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (yc @ Xc) / den
    return np.nan_to_num(r)  # a constant unit correlates with nothing


def rank_units(tr: LongTrace, y: np.ndarray, binary: bool, states: tuple[str, ...] = ("cell", "hidden"),
               k: int | None = 10) -> list[UnitScore]:
    """Every unit of every layer, in each of `states`, ranked by how well it separates the label y (T,)."""
    y = np.asarray(y)
    if y.shape != (len(tr.text),):
        raise ValueError(f"{len(tr.text)} characters but {y.shape} labels")
    if binary:
        y = y.astype(bool)
        if y.all() or not y.any():
            raise ValueError("every character of the sample has the same label, so nothing can separate them")
    elif np.ptp(y) == 0:
        raise ValueError("the label is the same number at every character of the sample")
    rows = []  # (strength, layer, state, unit, score)
    for layer, rec in enumerate(tr.layers):
        for state in states:
            X = rec[state]  # (T, units)
            score = _auc_binned(X, y) if binary else _corr(X, y.astype(np.float64))
            strength = np.abs(2 * score - 1) if binary else np.abs(score)
            rows += [(float(strength[u]), layer, state, u, float(score[u])) for u in range(X.shape[1])]
    best_first = lambda r: (-r[0], r[1], r[2], r[3])  # noqa: E731
    rows.sort(key=best_first)
    if binary:  # the histogram's AUC can be a hair off: the best EXACT units get the exact one
        exact = [auc_exact(tr.layers[layer][state][:, u], y) for _, layer, state, u, _ in rows[:EXACT]]
        head = [(abs(2 * a - 1), layer, state, u, a) for a, (_, layer, state, u, _) in zip(exact, rows, strict=False)]
        rows = sorted(head, key=best_first) + rows[EXACT:]
    rows = rows if k is None else rows[:k]
    return [UnitScore(layer=layer, state=state, unit=u, score=sc, strength=st) for st, layer, state, u, sc in rows]


def label_for(text: str, name: str | None = None, regex: str | None = None,
              max_pattern: int = MAX_REGEX) -> tuple[Label, np.ndarray]:
    """A built-in label (labels.LABELS) or a regular expression (at most max_pattern characters) over text;
    ValueError when it cannot be scored."""
    label, y = label_values(text, name, regex, max_pattern)
    if label.binary and not y.any():
        raise ValueError(f"no character of the sample is labelled “{label.title}”: "
                         "the corpus has none, so no unit can be scored for it")
    if label.binary and y.all():
        raise ValueError(f"every character of the sample is labelled “{label.title}”: nothing to tell apart")
    return label, y


def cell_finder(tr: LongTrace, name: str | None = None, regex: str | None = None,
                states: tuple[str, ...] = ("cell", "hidden"), k: int | None = 10
                ) -> tuple[Label, np.ndarray, list[UnitScore]]:
    """A label over the traced sample, and the units that follow it best."""
    label, y = label_for(tr.text, name, regex)
    return label, y, rank_units(tr, y, label.binary, states, k)


# ---- span search and match (LSTMVis)
def parse_span(spec: str, length: int) -> tuple[int, int]:
    """'START:END' (END excluded, as a Python slice) into two checked positions."""
    try:
        a, b = (int(p) for p in spec.split(":"))
    except ValueError:
        raise ValueError(f"a span is START:END, two whole numbers such as 8:14, not {spec!r}") from None
    if not 0 <= a < b <= length:
        raise ValueError(f"span {a}:{b} is not inside the text: it needs 0 <= START < END <= {length}")
    return a, b


@dataclass(frozen=True)
class SpanUnit:
    unit: int
    inside: float  # the weakest value through the span: its minimum (its maximum when looking for "below")
    around: float  # the strongest just before and after: their maximum (minimum for "below"); nan if none
    margin: float  # inside - around (around - inside for "below"): how clearly it switches at the span's edges


def span_search(values: np.ndarray, start: int, end: int, threshold: float, below: bool = False,
                around: int = 1) -> list[SpanUnit]:
    """Units of values (T, units) on (>= threshold) through [start, end) and off just before and after, best first.

    With below=True the other way round: under the threshold through the span, at or over it around it
    (a forget gate that lets go at a boundary). `around` characters on each side must be off.
    """
    T = values.shape[0]
    if not 0 <= start < end <= T:
        raise ValueError(f"span {start}:{end} is not inside the text of {T} characters")
    v = -values if below else values  # "below" is "above" for the negated values
    th = -threshold if below else threshold
    inside = v[start:end].min(axis=0)  # (units,)
    edges = np.r_[np.arange(max(0, start - around), start), np.arange(end, min(T, end + around))]
    if len(edges):
        out = v[edges].max(axis=0)
        chosen = (inside >= th) & (out < th)
        margin = inside - out
    else:  # the span is the whole text: nothing around it to be off
        out = np.full(v.shape[1], np.nan)
        chosen = inside >= th
        margin = inside - th
    sign = -1.0 if below else 1.0
    order = np.flatnonzero(chosen)[np.argsort(-margin[chosen], kind="stable")]
    return [SpanUnit(int(u), sign * float(inside[u]), sign * float(out[u]), float(margin[u])) for u in order]


@dataclass(frozen=True)
class Match:
    start: int  # in the sample
    end: int  # excluded
    score: float  # coverage x length similarity: 1 when every unit is on for exactly the span's length
    coverage: float  # the share of the units on, averaged over the match


def match(values: np.ndarray, units, threshold: float, length: int, below: bool = False, k: int = 10,
          min_share: float = 0.5) -> list[Match]:
    """Places in values (T, all units) where the chosen units turn on together, best first.

    A candidate is a maximal run of characters at which at least min_share of the units are on;
    it scores its mean share of units on times min(run, length) / max(run, length), so a run
    as long as the query span, with every unit on throughout, scores 1.
    """
    units = list(units)
    if not units:
        return []
    v = values[:, units]  # (T, k)
    on = (v < threshold) if below else (v >= threshold)
    share = on.mean(axis=1)  # (T,)
    hit = np.r_[False, share >= min_share, False]
    edges = np.flatnonzero(hit[1:] != hit[:-1])
    starts, ends = edges[0::2], edges[1::2]
    if not len(starts):
        return []
    cs = np.r_[0.0, np.cumsum(share)]
    n = ends - starts
    coverage = (cs[ends] - cs[starts]) / n
    score = coverage * np.minimum(n, length) / np.maximum(n, length)
    level = np.r_[0.0, np.cumsum((threshold - v if below else v - threshold).mean(axis=1))]
    depth = (level[ends] - level[starts]) / n  # how far past the threshold: breaks ties between equal scores
    order = np.lexsort((starts, -depth, -score))[:k]
    return [Match(int(starts[j]), int(ends[j]), float(score[j]), float(coverage[j])) for j in order]


__all__ = [
    "SAMPLE_CHARS",
    "LongTrace",
    "Match",
    "Sample",
    "SpanUnit",
    "UnitScore",
    "auc_exact",
    "cell_finder",
    "held_out_sample",
    "label_for",
    "match",
    "parse_span",
    "rank_units",
    "run_corpus",
    "run_sample",
    "span_search",
    "trace_long",
]
