"""Train the small model that ships in charlstm/data/demo, with the project's own trainer, in one command.

    KERAS_BACKEND=jax python bench/make_demo.py --minutes 3   # the recipe on a GPU machine
    python bench/make_demo.py --minutes 70 --out /tmp/demo --no-install --keep-epochs /tmp/epochs  # the shipped one
    python bench/make_demo.py --minutes 10 --out /tmp/demo --no-install   # try it without touching the package

It trains on the built-in corpus through the run store, like the app does, keeping the weights of the
epoch with the lowest validation loss and the Teach page's three lesson sentences traced after every
epoch (probes.npz, compact: under 2 MB for 200 epochs), and stops at the epoch boundary nearest the
time budget. The shipped copy holds the weights once, as weights.npz (the server's numpy stepper reads them; the demo is
never continued, so model.keras and its optimizer state are left out: Run.keras_model rebuilds the model
from config.json and weights.npz when one is asked for). It then checks the forget-gate story of the
Gates page on it (the units that let go at the sentence boundary of "Divya likes to eat. Reena is not
fat.") and what "How a unit learns" shows, and writes what it measured to bench/results/demo.json.
docs/shipped-model.md records the command and the figures.

Nothing here is TensorFlow-only: with KERAS_BACKEND=torch (and torch installed) it trains the same
model on a GPU machine; weights.npz and the numpy stepper do not care which backend trained them.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from record import append  # bench/record.py: one file per benchmark, one machine record

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from charlstm.cli.common import Bar
from charlstm.config import Config
from charlstm.insight.probes import LESSON_PROBES
from charlstm.runs.store import OPTIONAL, SHIPPED, RunStore, read_run
from charlstm.text.corpus import builtin
from charlstm.training.trainer import Trainer, train

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "charlstm" / "data" / "demo"
RESULTS = "demo"  # bench/results/demo.json (record.py)
MAX_BYTES = 8_000_000  # the shipped folder must stay under 8 MB
STORY = "Divya likes to eat. Reena is not fat."
# The recipe: the shipped model's (bench/gpu/demo-h200-jax, README "The shipped model"): 2 x 256, embedding 64,
# dropout 0.3, sequences of 64 in batches of 64, Adam 3e-3 with char-rnn's decay, the best epoch's weights kept.
# On an H200 it reached 1.497 in 3 minutes (best epoch 46); on this project's 2 CPUs, 1.479 in 70 minutes (best
# epoch 29 of 54, the model shipped now, docs/shipped-model.md). The 2 x 128 recipe stops near 1.575 on the same GPU,
# and at sequences of 32 it grew no line-position unit at all (best |r| 0.61), since most lines are longer.
RECIPE = Config(layers=2, units=256, embedding=64, dropout=0.3, seq_len=64, batch_size=64, learning_rate=3e-3,
                lr_decay=0.98, epochs=200)

def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=60.0, help="time budget (default: %(default)s); 0: all epochs")
    for name, kind in (("layers", int), ("units", int), ("embedding", int), ("dropout", float), ("seq_len", int),
                       ("batch_size", int), ("learning_rate", float), ("lr_decay", float), ("epochs", int),
                       ("seed", int)):
        p.add_argument("--" + name.replace("_", "-"), type=kind, default=getattr(RECIPE, name),
                       help=f"default: {getattr(RECIPE, name)}")
    p.add_argument("--text-chars", type=int, default=0, help="train on only the first N characters (0: all)")
    p.add_argument("--out", type=Path, default=DEMO, help="where the run folder goes (default: the package's demo)")
    p.add_argument("--no-install", action="store_true", help="write to --out only if it is not the package's demo")
    p.add_argument("--keep-epochs", type=Path, default=None,
                   help="also write every epoch's weights to this folder (epoch-NNN.npz), to choose the epoch to ship")
    p.add_argument("--only-if-better", action="store_true",
                   help="replace the shipped model only when the new val loss is lower than its own")
    return p.parse_args()


class KeepingTrainer(Trainer):
    """The project's trainer, writing each finished epoch's weights (not only the best's) to a folder, so the
    epoch that shows the lessons best can be shipped while its val loss stays near the best (docs/shipped-model.md)."""

    keep: Path

    def checkpoint(self) -> None:
        from charlstm.model.lstm_np import Weights

        (self.keep / f"epoch-{self.epochs_done:03d}.npz").write_bytes(Weights.from_keras(self.model).to_bytes())
        super().checkpoint()


def forgetters(run_path: Path) -> list[dict]:
    """The Gates page's story on a run: per layer, the units whose forget gate drops most at the boundary."""
    from charlstm.insight.gates import forgetters as find
    from charlstm.insight.gates import sentence_boundaries, trace

    run = read_run(run_path)
    tr = trace(run, STORY)
    b = sentence_boundaries(tr.text)[0]
    return [{"layer": layer + 1, "unit": f.unit, "before": round(float(f.before), 3), "at": round(float(f.at), 3)}
            for layer in range(len(tr.layers)) for f in find(tr, layer, b, k=3)]


def probe_story(run_path: Path) -> list[dict]:
    """What "How a unit learns" shows on a run: per probe sentence, the lesson's unit after the first and last epoch."""
    probes = read_run(run_path).probes()
    out = []
    for p in probes.probes if probes is not None else ():
        last, first = p.focus(), p.focus(0)
        lines = p.values(last.layer, last.unit)  # (epochs, T)
        out.append({"gate": p.gate, "layer": last.layer + 1, "unit": last.unit, "position": last.position,
                    "last": {"before": round(last.before, 3), "at": round(last.at, 3)},
                    "first_epoch": {"before": round(float(lines[0, max(0, last.position - 6):last.position].mean()), 3),
                                    "at": round(float(lines[0, last.position]), 3)},
                    "best_unit_after_epoch_1": [first.layer + 1, first.unit]})
    return out


def folder_bytes(path: Path) -> int:
    """What the package would ship of a run folder: its files but model.keras."""
    return sum(p.stat().st_size for p in path.iterdir() if p.is_file() and p.name in SHIPPED + OPTIONAL)


def main() -> None:
    args = parse()
    config = RECIPE.replace(**{k: getattr(args, k) for k in ("layers", "units", "embedding", "dropout", "seq_len",
                                                              "batch_size", "learning_rate", "lr_decay", "epochs",
                                                              "seed")}, minutes=args.minutes)
    corpus = builtin()
    if args.text_chars:
        from charlstm.text.corpus import from_text

        corpus = from_text(corpus.text[:args.text_chars], corpus.name)
    import keras

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(home)
        # the three lesson sentences traced after every epoch, for the Teach page's "How a unit learns" (probes.py)
        if args.keep_epochs:
            args.keep_epochs.mkdir(parents=True, exist_ok=True)
            trainer = KeepingTrainer(corpus, config, Bar(), None, None, LESSON_PROBES)
            trainer.keep = args.keep_epochs
            trained = trainer.run()
        else:
            trained = train(corpus, config, on_progress=Bar(), probe=LESSON_PROBES)
        run = store.save(trained, corpus)
        story = forgetters(run.path)
        size = folder_bytes(run.path)
        result = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "config": config.to_dict(),
                  "val_loss": round(run.val_loss, 4), "best_epoch": run.best_epoch, "epochs_done": run.epochs_done,
                  "stopped": run.history.get("stopped"), "train_seconds": run.meta["train_seconds"],
                  "wall_seconds": round(time.perf_counter() - t0, 1), "bytes": size,
                  "baselines": run.history.get("baselines"), "backend": keras.backend.backend(),
                  "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "load_average_at_start": load,
                  "load_average_at_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
                  "forgetters": story, "key": run.key, "probes_bytes": (run.path / "probes.npz").stat().st_size,
                  "probes": probe_story(run.path)}
        shipped = read_run(DEMO, files=SHIPPED) if (DEMO / "meta.json").is_file() else None
        better = shipped is None or shipped.val_loss is None or run.val_loss < shipped.val_loss
        install = not (args.no_install and args.out.resolve() == DEMO.resolve())
        if args.only_if_better and args.out.resolve() == DEMO.resolve() and not better:
            install = False
        if size >= MAX_BYTES:
            install = False
            print(f"\nnot installed: {size / 1e6:.1f} MB is over the {MAX_BYTES / 1e6:.0f} MB limit")
        if install:
            if args.out.exists():
                shutil.rmtree(args.out)
            shutil.copytree(run.path, args.out, ignore=shutil.ignore_patterns("model.keras"))  # weights.npz alone
            args.out.chmod(0o755)
        result["installed_to"] = str(args.out) if install else None
    append(RESULTS, result)
    print(f"\nrun {run.key}: val loss {run.val_loss:.4f} (epoch {run.best_epoch} of {run.epochs_done}, "
          f"stopped: {run.history.get('stopped')}), {run.meta['train_seconds']:.0f} s, {size / 1e6:.1f} MB"
          + (f", installed in {args.out}" if install else ", not installed"))
    for f in story:
        print(f"  layer {f['layer']}, unit {f['unit']}: forget gate {f['before']:.2f} -> {f['at']:.2f} at the period")
    print(f"probes: {result['probes_bytes'] / 1e6:.2f} MB")
    for p in result["probes"]:
        first, last = p["first_epoch"], p["last"]
        print(f"  {p['gate']} lesson: layer {p['layer']}, unit {p['unit']}: {p['gate']} gate {first['before']:.2f} -> "
              f"{first['at']:.2f} after epoch 1, {last['before']:.2f} -> {last['at']:.2f} after the last")


if __name__ == "__main__":
    main()
