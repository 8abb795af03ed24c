"""Training configuration: one frozen dataclass, saved as JSON beside the weights.

Each field declares itself once, in its metadata: its label and help text, its valid bounds and
how the Train form draws it. The command line's flags, the Train form, the form's persisted
widget keys and `validate` are all generated from that, so a new setting is one line here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass

# How text becomes training examples. "sequence": char-rnn's, every position of a sequence is a
# target. "window": the classic Keras tutorial's, each window of seq_len characters predicts the one
# character after it, read from an empty state, its input the scaled integer i / V (charlstm/text/window.py).
FORMULATIONS = ("sequence", "window")
# Fields added after runs were first stored, with the value every older run had. At that value they
# are left out of to_json(), and so of the run key: older runs keep their keys and their bundles import.
LATER_FIELDS = {"formulation": "sequence", "minutes": 0.0, "patience": 0, "lr_decay": 1.0}


def setting(default, label: str, help: str, **spec) -> dataclasses.Field:
    """A Config field with its declaration: keyword names are those of Setting below."""
    return dataclasses.field(default=default, metadata={"label": label, "help": help, **spec})


@dataclass(frozen=True)
class Config:
    # model
    layers: int = setting(2, "Layers", "Stacked LSTM layers; each reads the hidden states of the one below.",
                          min=1, step=1, column=0)
    # 256 units learn less per CPU-minute here (docs/benchmarks.md)
    units: int = setting(128, "Units per layer", "Hidden units (memory cells) in each LSTM layer.",
                         min=1, step=16, column=0)
    embedding: int = setting(32, "Embedding size", "Each character id becomes a learned vector of this size.",
                             min=1, step=8, column=0)
    # after each LSTM layer, as in the classic tutorial
    dropout: float = setting(0.2, "Dropout", "Share of each layer's outputs zeroed at random while training, "
                             "against overfitting.", min=0.0, below=1.0, step=0.05, widget="slider",
                             form_range=(0.0, 0.9), column=0)
    lowercase: bool = setting(False, "Lowercase the text", "Fold the corpus to lower case: a smaller vocabulary, "
                              "easier to learn.", column=2)
    # optimisation, measured on 2-core CPUs (docs/benchmarks.md): Keras's LSTM loop costs about
    # the same per time step whatever the batch, so short sequences in wide batches learn most
    # per minute; 128 x 32 beat 32 x 64, 64 x 32 and 256 x 32
    # every position of a sequence is a target
    seq_len: int = setting(32, "Sequence length", "Characters per training sequence: how far back the gradient "
                           "reaches.", min=2, step=16, column=1)
    batch_size: int = setting(128, "Batch size", "Sequences per optimizer step.", min=1, step=16, column=1)
    # Adam; clipping keeps this large step stable
    learning_rate: float = setting(1e-2, "Learning rate", "Adam's step size.", above=0.0, step=5e-4,
                                   format="%.4f", form_range=(1e-5, 1.0), column=2)
    # as in char-rnn; not on the Train form: the preset decides
    clipnorm: float = setting(5.0, "Gradient clipping", "Clip gradients to this global norm.", min=0.0,
                              note="0 turns clipping off")
    # not on the Train form: the preset decides
    val_fraction: float = setting(0.1, "Validation share", "The last part of the text, held out for validation.",
                                  above=0.0, below=0.5)
    # 8 on tiny Shakespeare take about 5 minutes here
    epochs: int = setting(8, "Epochs", "Passes over the training part of the text.", min=1, step=1, column=1)
    seed: int = setting(0, "Random seed", "Seeds the initial weights, dropout and batch order: same seed, same "
                        "model.", min=0, step=1, column=2)
    # added later (LATER_FIELDS): a time budget instead of a number of epochs; epochs stays the cap. The
    # run stops at the epoch boundary nearest the budget (train.py, Trainer.over_budget)
    minutes: float = setting(0.0, "Or train for (minutes)", "Train for about this many minutes instead, stopping at "
                             "the epoch boundary nearest the budget; 0: train for the number of epochs.", min=0.0,
                             step=1.0, format="%.1f", note="0 means no time budget: train for the number of epochs",
                             column=1)
    # added later (LATER_FIELDS): char-rnn's learning_rate_decay; not on the Train form (bench/make_demo.py uses it)
    lr_decay: float = setting(1.0, "Learning-rate decay", "Each epoch's learning rate is the previous one's times "
                              "this (epoch n: learning rate x decay^(n-1)).", above=0.0, max=1.0,
                              note="1 keeps the rate constant")
    # added later (LATER_FIELDS): early stopping; the weights kept are always those of the best epoch
    patience: int = setting(0, "Early stopping (epochs)", "Stop after this many epochs in a row without a lower "
                            "validation loss; 0: never. The weights kept are always the best epoch's.", min=0, step=1,
                            note="0 turns early stopping off", column=2)
    # added later (LATER_FIELDS): how text becomes examples; "window" needs embedding 1; the preset decides
    formulation: str = setting("sequence", "Formulation", "How text becomes training examples: 'sequence' (every "
                               "position is a target) or 'window' (the classic tutorial: each window predicts "
                               "the one character after it).", choices=FORMULATIONS)

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


@dataclass(frozen=True)
class Setting:
    """One Config field as the command line, the Train form and validation see it."""

    name: str
    kind: type  # int, float, bool or str
    default: object
    label: str
    help: str
    min: float | None = None  # valid values are >= min ...
    max: float | None = None  # ... and <= max
    above: float | None = None  # ... and > above
    below: float | None = None  # ... and < below
    choices: tuple = ()  # a str setting: the values allowed
    note: str = ""  # said with a problem, e.g. what 0 means
    step: float | None = None  # the form widget's step
    format: str | None = None  # the form widget's number format
    widget: str | None = None  # "slider"; otherwise by kind: a number box, checkbox, text box or select box
    form_range: tuple[float, float] | None = None  # the form widget's range, when narrower than the valid one
    column: int | None = None  # the Train form's column (0-2); None: not on the form, the preset decides

    def parse(self, value):
        """A form or command-line value as this setting's type (number boxes hand back floats or ints)."""
        return self.kind(value)

    def problem(self, value) -> str | None:
        """What is wrong with value, in words ('units must be an integer >= 1, got 0'), or None."""
        if self.choices:
            ok, need = value in self.choices, "one of " + ", ".join(map(str, self.choices))
        else:
            ok, need = _is_a(value, self.kind) and self._in_bounds(value), self._requirement()
        return None if ok else f"{self.name} must be {need}, got {value!r}"

    def _in_bounds(self, v) -> bool:
        return ((self.min is None or v >= self.min) and (self.max is None or v <= self.max)
                and (self.above is None or v > self.above) and (self.below is None or v < self.below))

    def _requirement(self) -> str:
        """'an integer >= 1', 'in [0, 1)', '> 0', '>= 0 (0 turns clipping off)', 'true or false'."""
        lo = ("[", ">=", self.min) if self.min is not None else None
        lo = lo or (("(", ">", self.above) if self.above is not None else None)
        hi = ("]", "<=", self.max) if self.max is not None else None
        hi = hi or ((")", "<", self.below) if self.below is not None else None)
        bounds = (f"in {lo[0]}{lo[2]:g}, {hi[2]:g}{hi[0]}" if lo and hi else
                  f"{lo[1]} {lo[2]:g}" if lo else f"{hi[1]} {hi[2]:g}" if hi else "")
        kind = _A[self.kind] if self.kind is not float or not bounds else ""
        return " ".join(p for p in (kind, bounds, f"({self.note})" if self.note else "") if p)


_A = {int: "an integer", float: "a number", bool: "true or false", str: "text"}


def _is_a(value, kind: type) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):  # True is an int to Python, never a number here
        return False
    return isinstance(value, (int, float)) if kind is float else isinstance(value, kind)


def settings(cls: type = Config) -> tuple[Setting, ...]:
    """Every field of a Config class (or a subclass) with its declaration, in field order."""
    kinds = typing.get_type_hints(cls)
    return tuple(Setting(name=f.name, kind=kinds[f.name], default=f.default, **f.metadata)
                 for f in dataclasses.fields(cls))


def form_settings(cls: type = Config) -> tuple[Setting, ...]:
    """The settings on the Train form, column by column; checkboxes go under the number boxes."""
    on_form = [s for s in settings(cls) if s.column is not None]
    return tuple(sorted(on_form, key=lambda s: (s.column, s.kind is bool)))


def validate(c: Config) -> list[str]:
    """Plain-language problems with a config, empty when it is usable."""
    found = (s.problem(getattr(c, s.name)) for s in settings(type(c)))
    out = [p for p in found if p]
    if c.formulation == "window" and c.embedding != 1:
        out.append(f"the window formulation reads one number per character (i / V): embedding must be 1, "
                   f"got {c.embedding!r}")
    return out


# Presets offered by the Train page and the command line.
PRESETS: dict[str, Config] = {
    # trains in well under a minute on the built-in corpus: enough to see gates take shape
    "quick demo": Config(layers=1, units=64, embedding=16, seq_len=32, batch_size=128, epochs=3),
    # the default: best validation loss per CPU-minute we measured (docs/benchmarks.md)
    "default": Config(),
    # the classic Keras tutorial's sizes (2 x 300, dropout 0.2), trained the char-rnn way
    "classic tutorial": Config(layers=2, units=300, dropout=0.2, seq_len=100, batch_size=128,
                               learning_rate=2e-3, lowercase=True),
    # the classic tutorial's own model and training (charlstm/text/window.py): every window of 50 lowercased
    # characters predicts the one after it; input i / V; 2 x LSTM(300) + Dropout(0.2); softmax; Adam at
    # Keras's default step, no clipping. One epoch: about 1 h 40 min on the built-in corpus here (docs/benchmarks.md,
    # "The classic tutorial, exactly")
    "the tutorial, exactly": Config(layers=2, units=300, embedding=1, dropout=0.2, seq_len=50, batch_size=128,
                                    learning_rate=1e-3, clipnorm=0.0, lowercase=True, epochs=1,
                                    formulation="window"),
}
