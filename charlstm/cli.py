"""Command line: python -m charlstm {train,resume,generate,trace,runs,export,import,delete}."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import time

from . import __version__
from .config import PRESETS, Config
from .corpus import CorpusError, load_path
from .store import RunStore, StoreError, demo_run
from .train import run_key


def _config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", choices=sorted(PRESETS), default="default",
                   help="start from a preset config; options below override it (default: %(default)s)")
    for f in dataclasses.fields(Config):
        kind = {"int": int, "float": float, "bool": None, "str": str}[f.type]
        flag = "--" + f.name.replace("_", "-")
        if kind is None:
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                           help=f"{f.name} (default: from the preset)")
        else:
            p.add_argument(flag, type=kind, default=None, choices=f.metadata.get("choices"),
                           help=f"{f.name} (default: from the preset)")


def _config_from(args) -> Config:
    base = PRESETS[args.preset]
    changes = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config) if getattr(args, f.name) is not None}
    return base.replace(**changes)


def _run(store: RunStore, ref: str):
    return demo_run() if ref == "demo" else store.find(ref)


class Bar:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, stream=sys.stderr):
        self.stream, self.last, self.seen = stream, 0.0, None

    def __call__(self, p) -> None:
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


def cmd_train(args, store: RunStore) -> int:
    """Train in this process, through the same path the app's worker takes (charlstm.worker.execute)."""
    import signal
    import threading

    from .worker import execute, plan

    if args.command == "resume":
        run = store.find(args.run)
        corpus = store.load_corpus(run.meta["corpus_sha256"])
        if corpus is None:
            raise StoreError("the corpus this run was trained on is not stored here; train it again from the file")
        if args.epochs < 1:
            raise ValueError("ask for at least one more epoch")
        config, resume_from = run.config.replace(epochs=run.epochs_done + args.epochs), run.key
    else:
        corpus, config, resume_from = load_path(args.corpus), _config_from(args), None
    what, resume_from = plan(store, corpus, config, resume_from)
    if what == "cached":
        key = run_key(corpus.sha256, config)
        print(f"loaded from cache: run {key} ({corpus.name}, same corpus and config)")
        return 0
    stop = threading.Event()

    def first_interrupt(*_):  # Ctrl-C: stop at the next batch and keep the finished epochs; twice: quit now
        stop.set()
        sys.stderr.write("\nstopping at the next batch (Ctrl-C again to quit at once)...\n")
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, first_interrupt)
    try:
        outcome = execute(store, corpus, config, resume_from, on_progress=Bar(), should_stop=stop.is_set)
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.stderr.write("\n")
    if outcome.run is None:
        print(outcome.message)
        return 130 if stop.is_set() else 1
    run = outcome.run
    print(f"{outcome.message}\nrun {run.key}  val loss {run.val_loss:.4f}  "
          f"{run.meta['chars_per_sec']:,.0f} chars/s  {run.meta['train_seconds']:.0f} s")
    if outcome.status == "complete":
        return 0
    return 130 if stop.is_set() else 1


def cmd_generate(args, store: RunStore) -> int:
    from .sampling import generate

    run = _run(store, args.run)
    window = run.config.seq_len if run.config.formulation == "window" and not args.stateful else 0
    temperature = args.temperature if args.temperature is not None else (0.0 if window else 0.8)
    t0, n = time.perf_counter(), 0
    sys.stdout.write(args.prime)
    for ch in generate(run.weights, run.vocab, args.prime, args.length, temperature, args.top_k, args.seed,
                       drop_unknown=args.drop_unknown, window=window):
        sys.stdout.write(ch)
        n += 1
        if n % 64 == 0:
            sys.stdout.flush()
    sys.stdout.write("\n")
    dt = time.perf_counter() - t0
    sys.stderr.write(f"{n} characters in {dt:.2f} s ({n / dt if dt else 0:,.0f} chars/s)\n")
    return 0


def cmd_trace(args, store: RunStore) -> int:
    from .gates import GATES, forgetters, sentence_boundaries, trace

    run = _run(store, args.run)
    tr = trace(run, args.text, drop_unknown=args.drop_unknown)
    if args.format == "summary":
        print(f"{len(tr.text)} characters, {len(tr.layers)} layers of {run.config.units} units")
        for b in sentence_boundaries(tr.text):
            print(f"\nsentence boundary at {b} ({tr.text[max(0, b - 8):b + 1]!r}|{tr.text[b + 1:b + 9]!r})")
            for layer in range(len(tr.layers)):
                top = forgetters(tr, layer, b, k=5)
                print(f"  layer {layer}: units " + ", ".join(f"{f.unit} (f {f.before:.2f}->{f.at:.2f})" for f in top))
        return 0
    rows = []
    for layer, rec in enumerate(tr.layers):
        for t, ch in enumerate(tr.text):
            for u in range(rec["input"].shape[1]):
                rows.append({"layer": layer, "position": t, "char": ch, "unit": u,
                             **{g: round(float(rec[g][t, u]), 6) for g in GATES}})
    out = open(args.output, "w", newline="", encoding="utf-8") if args.output else sys.stdout
    try:
        if args.format == "json":
            json.dump(rows, out)
            out.write("\n")
        else:
            w = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["layer"])
            w.writeheader()
            w.writerows(rows)
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def cmd_runs(args, store: RunStore) -> int:
    runs = store.list()
    if not runs:
        print(f"no stored runs in {store.runs}")
    for r in runs:
        vl = f"{r.val_loss:.4f}" if r.val_loss is not None else "-"
        print(f"{r.key}  {r.status:<9} {r.meta.get('corpus_name', '?')[:24]:<24} {r.config.layers}x{r.config.units:<4} "
              f"epochs {r.epochs_done}/{r.config.epochs}  val {vl}  {r.meta.get('created', '')}")
    return 0


def cmd_export(args, store: RunStore) -> int:
    run = store.find(args.run)
    data = store.export_bundle(run.key)
    with open(args.file, "wb") as f:
        f.write(data)
    print(f"wrote {args.file} ({len(data) / 1e6:.1f} MB)")
    return 0


def cmd_import(args, store: RunStore) -> int:
    try:
        with open(args.file, "rb") as f:
            data = f.read()
    except OSError as e:
        raise StoreError(f"cannot read {args.file}: {e.strerror}") from None
    run = store.import_bundle(data)
    print(f"imported run {run.key}")
    return 0


def cmd_delete(args, store: RunStore) -> int:
    run = store.find(args.run)
    store.delete(run.key)
    print(f"deleted run {run.key}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m charlstm", description="Character-level LSTMs: train, trace, generate.")
    p.add_argument("--version", action="version", version=f"charlstm {__version__}")
    p.add_argument("--home", default=None, help="where runs are stored (default: $CHARLSTM_HOME or ~/.cache/charlstm)")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model on a text file (or 'shakespeare' for the built-in corpus)")
    t.add_argument("corpus", help="path to a text file, or 'shakespeare'")
    _config_args(t)
    t.set_defaults(fn=cmd_train)

    c = sub.add_parser("resume", help="continue a stored run for more epochs, from its optimizer state")
    c.add_argument("run", help="run key or unique prefix")
    c.add_argument("--epochs", type=int, default=1, help="how many more epochs (default: %(default)s)")
    c.set_defaults(fn=cmd_train)

    g = sub.add_parser("generate", help="generate text from a stored run ('demo' for the shipped model)")
    g.add_argument("run", help="run key or unique prefix, or 'demo'")
    g.add_argument("--prime", default="\n", help="priming text (default: a newline)")
    g.add_argument("--length", type=int, default=500, help="characters to generate (default: %(default)s)")
    g.add_argument("--temperature", type=float, default=None,
                   help="0 means greedy argmax (default: 0.8; 0 for a run of the tutorial's windows)")
    g.add_argument("--top-k", type=int, default=0, help="sample only among the k likeliest (0: all)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    g.add_argument("--drop-unknown", action="store_true", help="leave out priming characters the model does not know")
    g.add_argument("--stateful", action="store_true",
                   help="for a run of the tutorial's windows: carry the state from character to character "
                        "instead of re-reading the last window from an empty state for each one")
    g.set_defaults(fn=cmd_generate)

    r = sub.add_parser("trace", help="gate activations of every layer for a text")
    r.add_argument("run", help="run key or unique prefix, or 'demo'")
    r.add_argument("--text", default="Divya likes to eat. Reena is not fat.", help="text to trace")
    r.add_argument("--format", choices=("summary", "csv", "json"), default="summary",
                   help="summary: units that forget at sentence boundaries; csv/json: every value")
    r.add_argument("--output", default=None, help="write csv/json here instead of stdout")
    r.add_argument("--drop-unknown", action="store_true", help="leave out characters the model does not know")
    r.set_defaults(fn=cmd_trace)

    sub.add_parser("runs", help="list stored runs").set_defaults(fn=cmd_runs)
    e = sub.add_parser("export", help="write a stored run as one zip bundle")
    e.add_argument("run")
    e.add_argument("file")
    e.set_defaults(fn=cmd_export)
    i = sub.add_parser("import", help="add a run from a zip bundle (validated)")
    i.add_argument("file")
    i.set_defaults(fn=cmd_import)
    d = sub.add_parser("delete", help="delete a stored run")
    d.add_argument("run")
    d.set_defaults(fn=cmd_delete)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        store = RunStore(args.home)
        return args.fn(args, store)
    except BrokenPipeError:  # `... | head` is a normal way to read output
        return 0
    except KeyboardInterrupt:  # a second Ctrl-C during training, or one anywhere else: quit, quietly
        sys.stderr.write("\ninterrupted; nothing half-saved is kept\n")
        return 130
    except (CorpusError, StoreError, ValueError, OSError) as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
