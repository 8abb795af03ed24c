"""Train the small model that ships in charlstm/data/demo, with the project's own trainer.

    python bench/make_demo.py [--epochs N] [--units U] [--layers L]

It trains on the built-in corpus through the run store, like the app does, then copies the
run folder into the package. The README records the command and the validation loss.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from charlstm.cli import Bar
from charlstm.config import Config
from charlstm.corpus import builtin
from charlstm.store import RunStore
from charlstm.train import train

DEMO = Path(__file__).resolve().parents[1] / "charlstm" / "data" / "demo"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--units", type=int, default=128)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--text-chars", type=int, default=0, help="train on only the first N characters (0: all)")
    args = p.parse_args()
    corpus = builtin()
    if args.text_chars:
        from charlstm.corpus import from_text

        corpus = from_text(corpus.text[:args.text_chars], corpus.name)
    config = Config(layers=args.layers, units=args.units, epochs=args.epochs)
    with tempfile.TemporaryDirectory() as home:
        store = RunStore(home)
        trained = train(corpus, config, on_progress=Bar())
        run = store.save(trained, corpus)
        if DEMO.exists():
            shutil.rmtree(DEMO)
        shutil.copytree(run.path, DEMO)
        DEMO.chmod(0o755)
    print(f"\nshipped run {run.key}: val loss {run.val_loss:.4f} after {run.epochs_done} epochs, "
          f"{run.meta['train_seconds']:.0f} s, {run.meta['chars_per_sec']:,.0f} chars/s")


if __name__ == "__main__":
    main()
