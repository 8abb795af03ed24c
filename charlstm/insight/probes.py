"""How a unit learns: probe texts traced after every finished epoch of training, kept with the run.

The trainer calls probe_epoch after each kept epoch; the store writes the result as probes.npz beside
the weights. Each probe text teaches one gate: the Teach page's lesson whose sentence it is, else the
forget gate. Only what the Teach page's "How a unit learns" draws is written: that gate, for the KEEP
units of each layer it moves most at the lesson's moment after the latest epoch, in float16, compressed.
200 epochs of the three lesson sentences on 2 x 256 stay under 1.4 MB before compression. A run
trained before this (one text, four states of every unit in float32) still reads, and a run without
probes loads as before.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from charlstm.insight.gates import EXAMPLE, trace_weights
from charlstm.insight.lessons import LESSONS, Focus, Lesson, moves
from charlstm.model.lstm_np import Weights
from charlstm.text.corpus import Vocab, prepare

PROBE = EXAMPLE  # the tutorial's two sentences: watch the forget gate learn to drop at the period
LESSON_PROBES = tuple(lesson.text for lesson in LESSONS.values())  # one sentence per gate: the shipped model's
STATES = ("input", "forget", "output", "cell")  # what runs trained before compact probes kept per epoch
FILE = "probes.npz"
MAX_CHARS = 200  # a probe is one or two sentences; this keeps the file small whatever the epochs
KEEP = 8  # units written per layer and probe text: 200 epochs x 211 characters x 2 x 8 x 2 bytes = 1.4 MB
VERSION = 2  # probes.npz without a version: one text, every state of every unit (read as it is)


def lesson_for(text: str) -> Lesson:
    """The lesson a probe text teaches: the Teach page's whose sentence it is, else the forget gate's."""
    match = next((lesson for lesson in LESSONS.values() if lesson.text == text), LESSONS["forget"])
    return dataclasses.replace(match, text=text)


@dataclass(frozen=True)
class Probe:
    """One probe text's trace after every epoch: some units of each layer (all of them, until compacted)."""
    text: str  # as the model read it
    gate: str  # the gate it teaches ("forget", "input" or "output"): the units kept are those it moves most
    layers: tuple[dict[str, np.ndarray], ...]  # per layer: state -> (epochs, T, n); the gate (older runs: STATES)
    units: tuple[np.ndarray, ...]  # per layer: the unit (0-based, of all the layer's units) of each of the n columns

    @property
    def lesson(self) -> Lesson:
        return dataclasses.replace(LESSONS[self.gate], text=self.text)

    def moves(self, k: int = -1) -> tuple[int, list[tuple[np.ndarray, ...]]]:
        """lessons.moves of the gate after the k-th traced epoch (0-based; -1: the latest), over the held units."""
        return moves(self.text, [rec[self.gate][k].astype(np.float32) for rec in self.layers], self.lesson)

    def focus(self, k: int = -1) -> Focus:
        """The held unit, of any layer, that shows the lesson best after the k-th traced epoch (unit: its number)."""
        pos, per_layer = self.moves(k)
        best = max(((float(move[c]), layer, c) for layer, (_, _, move) in enumerate(per_layer)
                    for c in range(len(move))))
        _, layer, c = best
        before, now, _ = per_layer[layer]
        return Focus(layer, int(self.units[layer][c]), pos, float(before[c]), float(now[c]))

    def then(self, focus: Focus, k: int) -> Focus:
        """The same unit and moment after the k-th traced epoch (0-based): how the lesson looked then."""
        _, per_layer = self.moves(k)
        c = self.column(focus.layer, focus.unit)
        before, now, _ = per_layer[focus.layer]
        return Focus(focus.layer, focus.unit, focus.position, float(before[c]), float(now[c]))

    def column(self, layer: int, unit: int) -> int:
        """Where a held unit's values are in its layer's arrays."""
        return int(np.flatnonzero(self.units[layer] == unit)[0])

    def values(self, layer: int, unit: int, state: str | None = None) -> np.ndarray:
        """One held unit's state (default: the gate) along the text after every epoch: (epochs, T)."""
        c = self.column(layer, unit)
        return self.layers[layer][state or self.gate][:, :, c]

    def compact(self, keep: int = KEEP) -> Probe:
        """Only what the Teach page draws: the gate, of the `keep` units per layer it moves most after the latest
        epoch, as float16."""
        _, per_layer = self.moves()
        layers, units = [], []
        for rec, u, (_, _, move) in zip(self.layers, self.units, per_layer, strict=True):
            cols = np.sort(np.argsort(-move, kind="stable")[:keep])  # the strongest, kept in unit order
            layers.append({self.gate: rec[self.gate][:, :, cols].astype(np.float16)})
            units.append(u[cols])
        return Probe(self.text, self.gate, tuple(layers), tuple(units))


@dataclass(frozen=True)
class Probes:
    epochs: tuple[int, ...]  # 1-based, one per finished epoch traced
    probes: tuple[Probe, ...]  # one per probe text, each read from an empty state

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(p.text for p in self.probes)

    def to_bytes(self) -> bytes:
        arrays = {"version": np.array(VERSION), "epochs": np.array(self.epochs, np.int32)}
        for j, p in enumerate(self.probes):
            p = p.compact()
            arrays |= {f"text_{j}": np.array(p.text), f"gate_{j}": np.array(p.gate)}
            for i, (rec, u) in enumerate(zip(p.layers, p.units, strict=True)):
                arrays |= {f"units_{j}_{i}": u.astype(np.int32), f"values_{j}_{i}": rec[p.gate]}
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Probes:
        """Read probes.npz, either version; ValueError when it is not one or does not hang together."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                out = cls._read(z) if "version" in z.files else cls._read_first(z)
        except (OSError, KeyError, ValueError, EOFError, IndexError) as e:
            raise ValueError(f"probes.npz is unreadable ({e})") from None
        E = len(out.epochs)
        if not out.probes or not all(p.layers for p in out.probes):
            raise ValueError("probes.npz holds no layers")
        for p in out.probes:
            if p.gate not in LESSONS:
                raise ValueError(f"probes.npz: {p.gate!r} is not a gate")
            for rec, u in zip(p.layers, p.units, strict=True):
                if u.ndim != 1 or len(np.unique(u)) != len(u) or (len(u) and u.min() < 0):
                    raise ValueError("probes.npz: its unit numbers are not distinct units")
                for s, v in rec.items():
                    if v.ndim != 3 or v.shape != (E, len(p.text), len(u)):
                        raise ValueError(f"probes.npz: {s} has shape {v.shape}, not ({E}, {len(p.text)}, {len(u)})")
        return out

    @classmethod
    def _read(cls, z) -> Probes:
        if int(z["version"]) != VERSION:
            raise ValueError(f"version {int(z['version'])}, not {VERSION}")
        probes = []
        for j in range(sum(1 for k in z.files if k.startswith("text_"))):
            n = sum(1 for k in z.files if k.startswith(f"units_{j}_"))
            gate = str(z[f"gate_{j}"])
            probes.append(Probe(str(z[f"text_{j}"]), gate, tuple({gate: z[f"values_{j}_{i}"]} for i in range(n)),
                                tuple(z[f"units_{j}_{i}"].astype(np.int64) for i in range(n))))
        return cls(tuple(int(e) for e in z["epochs"]), tuple(probes))

    @classmethod
    def _read_first(cls, z) -> Probes:
        """The first format: one text, every state in STATES of every unit."""
        n = sum(1 for k in z.files if k.startswith("forget_"))
        layers = tuple({s: z[f"{s}_{i}"] for s in STATES} for i in range(n))
        units = tuple(np.arange(rec["forget"].shape[-1]) for rec in layers)
        return cls(tuple(int(e) for e in z["epochs"]), (Probe(str(z["text"]), "forget", layers, units),))


def probe_states(weights: Weights, vocab: Vocab, text: str) -> tuple[str, tuple[dict[str, np.ndarray], ...]]:
    """The text as read (unknown characters left out) and every layer's STATES (T, units)."""
    tr = trace_weights(weights, vocab, text, drop_unknown=True)
    return tr.text, tuple({s: rec[s] for s in STATES} for rec in tr.layers)


def probe_epoch(probes: Probes | None, weights: Weights, vocab: Vocab, texts: str | Sequence[str], epoch: int,
                lowercase: bool = False) -> Probes | None:
    """probes with the trace of each text under weights added as epoch (1-based).

    A text with fewer than two characters the model knows is left out; None when none is left. Different
    probe texts than the ones stored (a resumed run) start the record afresh. A fresh record holds every unit
    of each text's gate (float16); the store writes only the units the Teach page draws (Probes.to_bytes).
    """
    traced = []
    for raw in [texts] if isinstance(texts, str) else texts:
        text = prepare(raw, lowercase)[:MAX_CHARS]
        if not any(c in vocab.stoi for c in text):
            continue
        seen, states = probe_states(weights, vocab, text)
        if len(seen) >= 2:
            traced.append((lesson_for(raw).gate, seen, states))
    if not traced:
        return None
    if probes is None or probes.texts != tuple(seen for _, seen, _ in traced):
        return Probes((epoch,), tuple(
            Probe(seen, gate, tuple({gate: rec[gate][None].astype(np.float16)} for rec in states),
                  tuple(np.arange(rec[gate].shape[1]) for rec in states))
            for gate, seen, states in traced))
    grown = []
    for p, (_, _, states) in zip(probes.probes, traced, strict=True):
        layers = tuple({s: np.concatenate([v, new[s][None, :, u].astype(v.dtype)]) for s, v in old.items()}
                       for old, new, u in zip(p.layers, states, p.units, strict=True))
        grown.append(dataclasses.replace(p, layers=layers))
    return Probes((*probes.epochs, epoch), tuple(grown))
