"""Command line: python -m charlstm {train,resume,generate,trace,match,units,runs,export,import,delete}."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time

from . import __version__
from . import fit as fit_mod
from . import limits as limits_mod
from .baselines import sentence
from .config import PRESETS, Config, settings
from .corpus import CorpusError, load_path
from .store import RunStore, StoreError, bundle_config, demo_run
from .train import run_key, stop_words
from .workspace import public_here, settings_from


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
    from .corpus import prepare

    if corpus is None:
        raise ValueError(f"the preset '{fit_mod.NAME}' needs the corpus to fit")
    lowercase = bool(getattr(args, "lowercase", None))
    minutes = getattr(args, "minutes", None) or fit_mod.DEFAULT_MINUTES
    return fit_mod.fit(len(prepare(corpus.text, lowercase)), minutes)


def _run(store: RunStore, ref: str):
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
        if public_here():  # on the public server's host, with its settings: the caps its Continue button applies
            from .jobs import time_problems

            problems = limits_mod.from_env().problems(config, corpus_bytes=len(corpus.text.encode("utf-8")))
            problems += time_problems(config, settings_from().max_train_minutes * 60)
            if problems:
                raise ValueError("not continued: " + "; ".join(problems) + " (CHARLSTM_MODE=public)")
    else:
        corpus = load_path(args.corpus)
        config, resume_from = config_from(args, corpus=corpus), None
    store = _worker_store(store, args.strategy)
    if args.command == "train" and args.preset == fit_mod.NAME:
        given = any(getattr(args, s.name) is not None for s in settings(Config))
        print(f"fitted to the corpus: {fitted(args, corpus).reason}"
              + (" (then the options given on top)" if given else ""), file=sys.stderr)
    what, resume_from = plan(store, corpus, config, resume_from)
    if what == "cached":
        key = run_key(corpus.sha256, config)
        print(f"loaded from cache: run {key} ({corpus.name}, same corpus and config)")
        return 0
    stop = threading.Event()

    def first_interrupt(*_):  # Ctrl-C: stop after the batches in hand and keep the finished epochs; twice: quit now
        stop.set()
        sys.stderr.write("\nstopping after the batches in hand (Ctrl-C again to quit at once)...\n")
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, first_interrupt)
    try:
        outcome = execute(store, corpus, config, resume_from, on_progress=Bar(), should_stop=stop.is_set,
                          probe=getattr(args, "probe", None), strategy=args.strategy)
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.stderr.write("\n")
    if outcome.run is None:
        print(outcome.message)
        return 130 if stop.is_set() else 1
    run = outcome.run
    print(outcome.message)
    words = stop_words(run.history.get("stopped"), run.config)
    if words:
        print(f"it {words}")
    said = sentence(run.val_loss, run.baselines)
    if said:
        print(said)
    print(f"run {run.key}  val loss {run.val_loss:.4f} (epoch {run.best_epoch} of {run.epochs_done}, kept)  "
          f"{run.meta['chars_per_sec']:,.0f} chars/s  {run.meta['train_seconds']:.0f} s  "
          f"on {run.meta.get('device') or '?'}")
    if outcome.status == "complete":
        return 0
    return 130 if stop.is_set() else 1


def _worker_store(store: RunStore, strategy: str) -> RunStore:
    """The store this process keeps its run in: under --strategy multiworker only the chief keeps it.

    Every worker trains and saves alike (as tf.distribute asks), the others into a temporary store
    that is removed when the process ends.
    """
    if strategy != "multiworker":
        return store
    import atexit
    import os
    import shutil
    import tempfile

    from .devices import check_tf_config, is_chief

    if is_chief(check_tf_config(os.environ.get("TF_CONFIG"))):
        return store
    tmp = tempfile.mkdtemp(prefix="charlstm-worker-")
    atexit.register(shutil.rmtree, tmp, True)
    sys.stderr.write("not the chief: this worker trains with the others, and the chief keeps the run\n")
    return RunStore(tmp)


def cmd_generate(args, store: RunStore) -> int:
    from .sampling import generate, prepare_prime

    run = _run(store, args.run)
    window = run.config.seq_len if run.config.formulation == "window" and not args.stateful else 0
    temperature = args.temperature if args.temperature is not None else (0.0 if window else 0.8)
    prime = prepare_prime(args.prime, run.vocab, run.config.lowercase, args.drop_unknown)
    t0, n = time.perf_counter(), 0
    sys.stdout.write(prime)
    for ch in generate(run.weights, run.vocab, prime, args.length, temperature, args.top_k, args.seed,
                       window=window):
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
            for layer in range(len(tr.layers)):  # printed from 1, as clamp, units and the pages number them
                top = forgetters(tr, layer, b, k=5)
                units = ", ".join(f"{f.unit} (f {f.before:.2f}->{f.at:.2f})" for f in top)
                print(f"  layer {layer + 1}: units {units}")
        return 0
    rows = []
    for layer, rec in enumerate(tr.layers):
        for t, ch in enumerate(tr.text):
            for u in range(rec["input"].shape[1]):
                rows.append({"layer": layer + 1, "position": t, "char": ch, "unit": u,
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


def cmd_clamp(args, store: RunStore) -> int:
    from .corpus import prepare
    from .interventions import Clamp, compare

    run = _run(store, args.run)
    clamp = Clamp(layer=_layer(run, args.layer), unit=args.unit, target=args.gate, value=args.value, start=args.start)
    cmp = compare(run.weights, run.vocab, prepare(args.text, run.config.lowercase), clamp, length=args.length,
                  temperature=args.temperature, seed=args.seed, drop_unknown=args.drop_unknown)
    at = len(cmp.text) - 1 if args.at is None else args.at
    if not 0 <= at < len(cmp.text):
        raise ValueError(f"--at must be 0 to {len(cmp.text) - 1}, not {at}")
    print(f"layer {clamp.layer + 1}, unit {clamp.unit}: {clamp.target} held at {clamp.value:g} from position "
          f"{clamp.start} ({_oneline(cmp.text[clamp.start])!r}) on")
    print(f"next character after {_oneline(cmp.text[max(0, at - 20):at + 1])!r} (position {at}), "
          f"KL {cmp.divergence[at]:.4f} nats:")
    print(f"  {'char':6} {'untouched':>10} {'clamped':>10}")
    for ch, p, q in cmp.top(at, args.top):
        print(f"  {_oneline(repr(ch)):6} {p:10.4f} {q:10.4f}")
    print(f"largest change: KL {cmp.divergence.max():.4f} nats after position {int(cmp.divergence.argmax())}")
    if args.length:
        print(f"\nuntouched: {_oneline(cmp.continuation_plain)}\nclamped:   {_oneline(cmp.continuation_clamped)}")
    return 0


def _oneline(text: str) -> str:
    return text.replace("\n", "↵").replace("\t", "⇥")


def _layer(run, layer: int | None) -> int:
    """A 1-based --layer (None: the last) as a 0-based index."""
    n = run.config.layers
    if layer is None:
        return n - 1
    if not 1 <= layer <= n:
        raise ValueError(f"--layer must be 1 to {n} for this {n}-layer model, not {layer}")
    return layer - 1


def _find_sample(args, store: RunStore, run):
    from .find import run_sample

    if not 1_000 <= args.chars <= 1_000_000:
        raise ValueError(f"--chars must be 1,000 to 1,000,000, not {args.chars:,}")
    sample = run_sample(run, store, args.chars, load_path(args.corpus) if args.corpus else None)
    if sample is None:
        raise StoreError(f"the corpus run {run.key} was trained on is not stored here; pass --corpus FILE")
    return sample


def cmd_match(args, store: RunStore) -> int:
    from .find import match, parse_span, span_search, trace_long
    from .gates import trace

    run = _run(store, args.run)
    layer = _layer(run, args.layer)
    sample = _find_sample(args, store, run)
    tr = trace(run, args.text, drop_unknown=args.drop_unknown)
    start, end = parse_span(args.span, len(tr.text))
    found = span_search(tr.layers[layer][args.state], start, end, args.threshold, below=args.below)
    side, other = ("<", ">=") if args.below else (">=", "<")
    print(f"span {start}:{end} {_oneline(tr.text[start:end])!r} of {_oneline(tr.text)!r}")
    print(f"layer {layer + 1}, {args.state} {side} {args.threshold:g} through the span and {other} {args.threshold:g} "
          f"just before and after it: {len(found)} unit{'s' * (len(found) != 1)}")
    for f in found[:args.top]:
        print(f"  unit {f.unit:<4} inside {f.inside:+.3f}  around {f.around:+.3f}  margin {f.margin:.3f}")
    if not found:
        print("no unit switches at this span's edges: try another threshold, state or layer")
        return 0
    long = trace_long(run.weights, run.vocab, sample.text, states=(args.state,), layers=layer + 1)
    matches = match(long.layers[layer][args.state], [f.unit for f in found], args.threshold, end - start,
                    below=args.below, k=args.top)
    verb = ("they switch" if len(found) > 1 else "it switches") + (" off" if args.below else " on")
    print(f"\nwhere {verb} together in {sample.source}:")
    for rank, m in enumerate(matches, 1):
        before, hit, after = (sample.text[max(0, m.start - 30):m.start], sample.text[m.start:m.end],
                              sample.text[m.end:m.end + 30])
        print(f"{rank:>3}  score {m.score:.2f}  at {m.start:>6,}  {_oneline(before)}[{_oneline(hit)}]{_oneline(after)}")
    if not matches:
        print("  nowhere: these units never switch together there")
    return 0


def cmd_units(args, store: RunStore) -> int:
    from .find import label_for, rank_units, trace_long

    run = _run(store, args.run)
    states = ("cell", "hidden") if args.state == "both" else (args.state,)
    sample = _find_sample(args, store, run)
    label, y = label_for(sample.text, None if args.regex else args.label, args.regex,  # a bad label fails fast
                         limits_mod.from_env().max_pattern)
    long = trace_long(run.weights, run.vocab, sample.text, states=states)
    ranked = rank_units(long, y, label.binary, states, k=args.top)
    what = f"{int(y.sum()):,} of {len(y):,} characters labelled" if label.binary else "one number per character"
    print(f"{label.title}: {label.help[0].lower()}{label.help[1:]}\nOver {sample.source} ({what}).")
    print("Scored by the area under the ROC curve (1: higher on labelled characters, 0: lower, 0.5: chance)"
          if label.binary else "Scored by the correlation r with the label (-1 to 1)")
    print(f"\n{'rank':>4}  {'layer':>5}  {'unit':>4}  {'state':<6}  {'AUC' if label.binary else 'r':>6}")
    for rank, u in enumerate(ranked, 1):
        print(f"{rank:>4}  {u.layer + 1:>5}  {u.unit:>4}  {u.state:<6}  {u.score:>6.3f}" if label.binary else
              f"{rank:>4}  {u.layer + 1:>5}  {u.unit:>4}  {u.state:<6}  {u.score:>+6.3f}")
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
    if public_here():  # on the public server's host: the caps its Train page applies before importing a bundle
        problems = limits_mod.from_env().problems(bundle_config(data).replace(epochs=1, minutes=0.0))
        if problems:
            raise ValueError("not imported: " + "; ".join(problems) + " (CHARLSTM_MODE=public)")
    run = store.import_bundle(data)
    print(f"imported run {run.key}")
    return 0


def cmd_delete(args, store: RunStore) -> int:
    run = store.find(args.run)
    store.delete(run.key)
    print(f"deleted run {run.key}")
    return 0


def add_strategy_arg(p: argparse.ArgumentParser, choices: tuple[str, ...] | None = None) -> None:
    from .devices import STRATEGIES

    p.add_argument("--strategy", choices=choices or STRATEGIES, default="none",
                   help="none: one device (the first GPU, else the CPU); mirrored: tf.distribute.MirroredStrategy "
                        "over every GPU of this machine; multiworker: MultiWorkerMirroredStrategy over the machines "
                        "in TF_CONFIG. --batch-size is the global batch, split across the replicas; the learning "
                        "rate is not scaled (default: %(default)s)")


def _training_commands(sub) -> None:
    t = sub.add_parser("train", help="train a model on a text file (or 'shakespeare' for the built-in corpus)")
    t.add_argument("corpus", help="path to a text file, or 'shakespeare'")
    add_config_args(t)
    t.add_argument("--probe", default=None, help="a text traced after every epoch and kept with the run, to see "
                                                 "how its units learn (default: the tutorial's two sentences)")
    add_strategy_arg(t)
    t.set_defaults(fn=cmd_train)

    c = sub.add_parser("resume", help="continue a stored run for more epochs, from its optimizer state")
    c.add_argument("run", help="run key or unique prefix")
    c.add_argument("--epochs", type=int, default=1, help="how many more epochs (default: %(default)s)")
    add_strategy_arg(c, ("none", "mirrored"))  # several machines would each need the run: train those afresh
    c.set_defaults(fn=cmd_train)


def _reading_commands(sub) -> None:
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

    r = sub.add_parser("trace", help="gate activations of every layer (1 = the first) for a text")
    r.add_argument("run", help="run key or unique prefix, or 'demo'")
    r.add_argument("--text", default="Divya likes to eat. Reena is not fat.", help="text to trace")
    r.add_argument("--format", choices=("summary", "csv", "json"), default="summary",
                   help="summary: units that forget at sentence boundaries; csv/json: every value")
    r.add_argument("--output", default=None, help="write csv/json here instead of stdout")
    r.add_argument("--drop-unknown", action="store_true", help="leave out characters the model does not know")
    r.set_defaults(fn=cmd_trace)

    m = sub.add_parser("match", help="span search and match (LSTMVis): the units on through a span, and where "
                                     "they turn on together in the corpus")
    m.add_argument("run", help="run key or unique prefix, or 'demo'")
    m.add_argument("--text", required=True, help="the text to trace")
    m.add_argument("--span", required=True, help="START:END, the characters text[START:END] (END excluded)")
    m.add_argument("--layer", type=int, default=None, help="1 = the first LSTM layer (default: the last)")
    m.add_argument("--state", choices=("hidden", "cell", "input", "forget", "candidate", "output"), default="hidden",
                   help="which state or gate to look at (default: %(default)s)")
    m.add_argument("--threshold", type=float, default=0.5, help="on means at or above this (default: %(default)s)")
    m.add_argument("--below", action="store_true", help="look for units below the threshold through the span "
                                                        "and above it around it (a forget gate letting go)")
    m.add_argument("--top", type=int, default=10, help="how many units and matches to list (default: %(default)s)")
    m.add_argument("--chars", type=int, default=20_000, help="characters of the corpus to search "
                                                             "(default: %(default)s, from its held-out end)")
    m.add_argument("--corpus", default=None, help="search this text file instead of the run's own corpus")
    m.add_argument("--drop-unknown", action="store_true", help="leave out characters the model does not know")
    m.set_defaults(fn=cmd_match)

    k = sub.add_parser("clamp", help="hold one unit's gate or cell fixed from a position on; the next-character "
                                     "probabilities and a continuation with and without")
    k.add_argument("run", help="run key or unique prefix, or 'demo'")
    k.add_argument("--text", default="Divya likes to eat. Reena is not fat.", help="text to read")
    k.add_argument("--layer", type=int, default=None, help="1 = the first LSTM layer (default: the last)")
    k.add_argument("--unit", type=int, required=True, help="the unit, 0-based")
    k.add_argument("--gate", choices=("input", "forget", "output", "cell"), default="forget",
                   help="what to hold fixed (default: %(default)s)")
    k.add_argument("--value", type=float, default=1.0, help="the value to hold it at (default: %(default)s)")
    k.add_argument("--from", dest="start", type=int, default=0,
                   help="the first position (0-based) clamped (default: %(default)s)")
    k.add_argument("--at", type=int, default=None, help="show the prediction after this position (default: the last)")
    k.add_argument("--top", type=int, default=8, help="how many characters to list (default: %(default)s)")
    k.add_argument("--length", type=int, default=120, help="characters to continue each way (default: %(default)s)")
    k.add_argument("--temperature", type=float, default=0.5, help="for the continuations (default: %(default)s)")
    k.add_argument("--seed", type=int, default=0, help="the same seed for both continuations (default: %(default)s)")
    k.add_argument("--drop-unknown", action="store_true", help="leave out characters the model does not know")
    k.set_defaults(fn=cmd_clamp)

    u = sub.add_parser("units", help="the cell finder: rank every unit by how well it follows a character label")
    u.add_argument("run", help="run key or unique prefix, or 'demo'")
    which = u.add_mutually_exclusive_group(required=True)
    which.add_argument("--label", choices=("quotes", "brackets", "line-position", "word-start", "sentence-boundary",
                                           "next-upper", "vowel"), help="a built-in character label")
    which.add_argument("--regex", help="label the characters inside matches of this regular expression")
    u.add_argument("--state", choices=("both", "cell", "hidden"), default="both",
                   help="score the cell state, the hidden state or both (default: %(default)s)")
    u.add_argument("--top", type=int, default=10, help="how many units to list (default: %(default)s)")
    u.add_argument("--chars", type=int, default=20_000, help="characters of the corpus to score over "
                                                             "(default: %(default)s, from its held-out end)")
    u.add_argument("--corpus", default=None, help="score over this text file instead of the run's own corpus")
    u.set_defaults(fn=cmd_units)


def _store_commands(sub) -> None:
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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m charlstm", description="Character-level LSTMs: train, trace, generate.")
    p.add_argument("--version", action="version", version=f"charlstm {__version__}")
    p.add_argument("--home", default=None, help="where runs are stored (default: $CHARLSTM_HOME or ~/.cache/charlstm)")
    sub = p.add_subparsers(dest="command", required=True)
    _training_commands(sub)
    _reading_commands(sub)
    _store_commands(sub)
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
