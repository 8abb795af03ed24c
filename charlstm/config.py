"""Training configuration: one frozen dataclass, saved as JSON beside the weights."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

# How text becomes training examples. "sequence": char-rnn's, every position of a sequence is a
# target. "window": the classic Keras tutorial's, each window of seq_len characters predicts the one
# character after it, read from an empty state, its input the scaled integer i / V (charlstm/window.py).
FORMULATIONS = ("sequence", "window")
# Fields added after runs were first stored, with the value every older run had. At that value they
# are left out of to_json(), and so of the run key: older runs keep their keys and their bundles import.
LATER_FIELDS = {"formulation": "sequence"}


@dataclass(frozen=True)
class Config:
    # model
    layers: int = 2  # stacked LSTM layers
    units: int = 128  # hidden units per LSTM layer; 256 learns less per CPU-minute here (README.md, Benchmarks)
    embedding: int = 32  # size of the learned character embedding
    dropout: float = 0.2  # after each LSTM layer, as in the classic tutorial
    lowercase: bool = False  # fold the corpus to lower case before training
    # optimisation, measured on 2-core CPUs (README.md, Benchmarks): Keras's LSTM loop costs about
    # the same per time step whatever the batch, so short sequences in wide batches learn most
    # per minute; 128 x 32 beat 32 x 64, 64 x 32 and 256 x 32
    seq_len: int = 32  # characters per training sequence; every position is a target
    batch_size: int = 128  # sequences per optimizer step
    learning_rate: float = 1e-2  # Adam; clipping keeps this large step stable
    clipnorm: float = 5.0  # gradient clipping by global norm, as in char-rnn
    val_fraction: float = 0.1  # the last part of the text is held out for validation
    epochs: int = 8  # passes over the training part; 8 on tiny Shakespeare take about 5 minutes here
    seed: int = 0  # seeds Keras, TensorFlow and our numpy generators
    # added later (LATER_FIELDS): how text becomes examples, one of FORMULATIONS; "window" needs embedding 1
    formulation: str = dataclasses.field(default="sequence", metadata={"choices": FORMULATIONS})

    def __post_init__(self) -> None:
        problems = validate(self)
        if problems:
            raise ValueError("invalid config: " + "; ".join(problems))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        d = {k: v for k, v in self.to_dict().items() if k not in LATER_FIELDS or v != LATER_FIELDS[k]}
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> Config:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown config fields: {', '.join(unknown)}")
        return cls(**d)

    def replace(self, **changes) -> Config:
        return dataclasses.replace(self, **changes)

    def fingerprint(self, exclude: tuple[str, ...] = ()) -> str:
        d = {k: v for k, v in self.to_dict().items() if k not in exclude}
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()


def validate(c: Config) -> list[str]:
    """Plain-language problems with a config, empty when it is usable."""
    out = []
    for name, lo in (("layers", 1), ("units", 1), ("embedding", 1), ("seq_len", 2),
                     ("batch_size", 1), ("epochs", 1)):
        v = getattr(c, name)
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            out.append(f"{name} must be an integer >= {lo}, got {v!r}")
    if not 0.0 <= c.dropout < 1.0:
        out.append(f"dropout must be in [0, 1), got {c.dropout!r}")
    if not 0.0 < c.val_fraction < 0.5:
        out.append(f"val_fraction must be in (0, 0.5), got {c.val_fraction!r}")
    if not c.learning_rate > 0:
        out.append(f"learning_rate must be > 0, got {c.learning_rate!r}")
    if not c.clipnorm >= 0:
        out.append(f"clipnorm must be >= 0 (0 turns clipping off), got {c.clipnorm!r}")
    if c.formulation not in FORMULATIONS:
        out.append(f"formulation must be one of {', '.join(FORMULATIONS)}, got {c.formulation!r}")
    elif c.formulation == "window" and c.embedding != 1:
        out.append(f"the window formulation reads one number per character (i / V): embedding must be 1, "
                   f"got {c.embedding!r}")
    return out


# Presets offered by the Train page and the command line.
PRESETS: dict[str, Config] = {
    # trains in well under a minute on the built-in corpus: enough to see gates take shape
    "quick demo": Config(layers=1, units=64, embedding=16, seq_len=32, batch_size=128, epochs=3),
    # the default: best validation loss per CPU-minute we measured (README.md, Benchmarks)
    "default": Config(),
    # the classic Keras tutorial's sizes (2 x 300, dropout 0.2), trained the char-rnn way
    "classic tutorial": Config(layers=2, units=300, dropout=0.2, seq_len=100, batch_size=128,
                               learning_rate=2e-3, lowercase=True),
    # the classic tutorial's own model and training (charlstm/window.py): every window of 50 lowercased
    # characters predicts the one after it; input i / V; 2 x LSTM(300) + Dropout(0.2); softmax; Adam at
    # Keras's default step, no clipping. One epoch: about 1 h 40 min on the built-in corpus here (README,
    # "The classic tutorial, exactly")
    "the tutorial, exactly": Config(layers=2, units=300, embedding=1, dropout=0.2, seq_len=50, batch_size=128,
                                    learning_rate=1e-3, clipnorm=0.0, lowercase=True, epochs=1,
                                    formulation="window"),
}
