"""How a unit learns: a probe text traced after every finished epoch of training, kept with the run.

The trainer calls probe_epoch after each kept epoch; the store writes the result as probes.npz
beside the weights (a run trained before this existed has none, and loads as before).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from charlstm.insight.gates import EXAMPLE, trace_weights
from charlstm.model.lstm_np import Weights
from charlstm.text.corpus import Vocab, prepare

PROBE = EXAMPLE  # the tutorial's two sentences: watch the forget gate learn to drop at the period
STATES = ("input", "forget", "output", "cell")  # what is kept per epoch (the candidate and h are left out)
FILE = "probes.npz"
MAX_CHARS = 200  # a probe is one or two sentences; this keeps the file small whatever the epochs


@dataclass(frozen=True)
class Probes:
    text: str  # as the model read it
    epochs: tuple[int, ...]  # 1-based, one per finished epoch traced
    layers: tuple[dict[str, np.ndarray], ...]  # per layer: state in STATES -> (epochs, T, units)

    def at(self, k: int) -> tuple[dict[str, np.ndarray], ...]:
        """Every layer's states after the k-th traced epoch (0-based index into epochs): state -> (T, units)."""
        return tuple({s: v[k] for s, v in rec.items()} for rec in self.layers)

    def to_bytes(self) -> bytes:
        arrays = {"text": np.array(self.text), "epochs": np.array(self.epochs, np.int64)}
        for i, rec in enumerate(self.layers):
            arrays |= {f"{s}_{i}": v.astype(np.float32) for s, v in rec.items()}
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Probes:
        """Read probes.npz; ValueError when it is not one or does not hang together."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                text, epochs = str(z["text"]), tuple(int(e) for e in z["epochs"])
                n = sum(1 for k in z.files if k.startswith("forget_"))
                layers = tuple({s: z[f"{s}_{i}"] for s in STATES} for i in range(n))
        except (OSError, KeyError, ValueError, EOFError) as e:
            raise ValueError(f"probes.npz is unreadable ({e})") from None
        for rec in layers:
            for s, v in rec.items():
                if v.ndim != 3 or v.shape[:2] != (len(epochs), len(text)):
                    raise ValueError(f"probes.npz: {s} has shape {v.shape}, not ({len(epochs)}, {len(text)}, units)")
        if not layers:
            raise ValueError("probes.npz holds no layers")
        return cls(text=text, epochs=epochs, layers=layers)


def probe_states(weights: Weights, vocab: Vocab, text: str) -> tuple[str, tuple[dict[str, np.ndarray], ...]]:
    """The text as read (unknown characters left out) and every layer's STATES (T, units)."""
    tr = trace_weights(weights, vocab, text, drop_unknown=True)
    return tr.text, tuple({s: rec[s] for s in STATES} for rec in tr.layers)


def probe_epoch(probes: Probes | None, weights: Weights, vocab: Vocab, text: str, epoch: int,
                lowercase: bool = False) -> Probes | None:
    """probes with the trace of text under weights added as epoch (1-based).

    None when the text holds no character the model knows. A different probe text than the one
    stored (a resumed run) starts the record afresh.
    """
    text = prepare(text, lowercase)[:MAX_CHARS]
    if not any(c in vocab.stoi for c in text):
        return None
    seen, states = probe_states(weights, vocab, text)
    if len(seen) < 2:
        return None
    if probes is None or probes.text != seen:
        return Probes(seen, (epoch,), tuple({s: v[None] for s, v in rec.items()} for rec in states))
    return Probes(seen, (*probes.epochs, epoch),
                  tuple({s: np.concatenate([old[s], new[s][None]]) for s in STATES}
                        for old, new in zip(probes.layers, states, strict=True)))
