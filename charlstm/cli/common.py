"""What the command line's verbs share: config flags, the progress bar, run references, layer numbers."""

from __future__ import annotations

import argparse
import sys
import time

from charlstm.config import PRESETS, Config, settings
from charlstm.model.devices import STRATEGIES
from charlstm.runs.store import RunStore, demo_run
from charlstm.text.corpus import prepare
from charlstm.training import fit as fit_mod


def add_config_args(p: argparse.ArgumentParser, cls: type = Config) -> None:
    """--preset, and one flag per setting of the Config class, declared by its field (config.py)."""
    p.add_argument("--preset", choices=[fit_mod.NAME, *sorted(PRESETS)], default=fit_mod.NAME,
                   help="start from a preset config; options below override it. The default, '%(default)s', "
                        "chooses batch size, sequence length, epochs and learning rate from the text's size and "
                        f"a {fit_mod.DEFAULT_MINUTES:g}-minute budget (--minutes sets another)")
    for s in settings(cls):
        flag = "--" + s.name.replace("_", "-")
        text = f"{s.help} (default: from the preset)".replace("%", "%%")  # argparse formats help
        if s.kind is bool:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text)
        else:
            p.add_argument(flag, type=s.kind, choices=s.choices or None, default=None, help=text)


def config_from(args, cls: type = Config, corpus=None):
    """The chosen preset with the flags given on top of it; ValueError names any invalid setting.

    "fit to my corpus" needs the corpus (its size). --minutes without --epochs trains for the budget,
    up to the preset's cap of fit.MAX_EPOCHS epochs.
    """
    changes = {s.name: getattr(args, s.name) for s in settings(cls) if getattr(args, s.name) is not None}
    if args.preset == fit_mod.NAME:  # without a corpus: the measured default, what it fits a large text to
        base = fitted(args, corpus).config if corpus is not None else Config()
    else:
        base = PRESETS[args.preset]
    if changes.get("minutes") and "epochs" not in changes:
        changes["epochs"] = fit_mod.MAX_EPOCHS
    return cls(**{**base.to_dict(), **changes})


def fitted(args, corpus) -> fit_mod.Fitted:
    """The fitted settings for the corpus as the run will read it (lowercased or not)."""
    if corpus is None:
        raise ValueError(f"the preset '{fit_mod.NAME}' needs the corpus to fit")
    lowercase = bool(getattr(args, "lowercase", None))
    minutes = getattr(args, "minutes", None) or fit_mod.DEFAULT_MINUTES
    return fit_mod.fit(len(prepare(corpus.text, lowercase)), minutes)


def run_ref(store: RunStore, ref: str):
    return demo_run() if ref == "demo" else store.find(ref)


class Bar:
    """A one-line progress bar on stderr, redrawn at most ten times a second, under a line saying where it trains."""

    def __init__(self, stream=sys.stderr):
        self.stream, self.last, self.seen, self.device = stream, 0.0, None, None

    def __call__(self, p) -> None:
        if p.device and p.device != self.device:
            self.device = p.device
            self.stream.write(("\n" if self.seen else "") + f"training on {p.device}\n")  # under the bar's \r
        now = time.monotonic()
        if p is self.seen or (self.seen is not None and now - self.last < 0.1 and p.phase == self.seen.phase):
            return
        self.last, self.seen = now, p
        n = int(p.fraction * 30)
        loss = f"{p.train_loss:.3f}" if p.train_loss is not None else "-"
        val = f"{p.val_loss:.3f}" if p.val_loss is not None else "-"
        eta = f"{p.eta:.0f}s" if p.eta is not None else "?"
        self.stream.write(f"\r[{'#' * n}{'.' * (30 - n)}] epoch {p.epoch}/{p.epochs} step {p.step}/{p.steps_per_epoch} "
                          f"loss {loss} val {val} {p.chars_per_sec:,.0f} chars/s eta {eta} {p.phase:<10}")
        self.stream.flush()


def add_strategy_arg(p: argparse.ArgumentParser, choices: tuple[str, ...] | None = None) -> None:
    p.add_argument("--strategy", choices=choices or STRATEGIES, default="none",
                   help="none: one device (the first GPU, else the CPU); mirrored: tf.distribute.MirroredStrategy "
                        "over every GPU of this machine; multiworker: MultiWorkerMirroredStrategy over the machines "
                        "in TF_CONFIG. --batch-size is the global batch, split across the replicas; the learning "
                        "rate is not scaled (default: %(default)s)")


def oneline(text: str) -> str:
    return text.replace("\n", "↵").replace("\t", "⇥")


def layer_index(run, layer: int | None) -> int:
    """A 1-based --layer (None: the last) as a 0-based index."""
    n = run.config.layers
    if layer is None:
        return n - 1
    if not 1 <= layer <= n:
        raise ValueError(f"--layer must be 1 to {n} for this {n}-layer model, not {layer}")
    return layer - 1
