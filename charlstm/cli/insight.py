"""The reading verbs: generate, trace, clamp, match and units on a stored run (numpy only, no TensorFlow)."""

from __future__ import annotations

import csv
import json
import sys
import time

from charlstm.cli.common import layer_index, oneline, run_ref
from charlstm.insight.find import label_for, match, parse_span, rank_units, run_sample, span_search, trace_long
from charlstm.insight.gates import GATES, forgetters, sentence_boundaries, trace
from charlstm.insight.interventions import Clamp, compare
from charlstm.model.sampling import generate, prepare_prime
from charlstm.runs.store import RunStore, StoreError
from charlstm.serve import settings as settings_mod
from charlstm.text.corpus import load_path, prepare


def cmd_generate(args, store: RunStore) -> int:
    run = run_ref(store, args.run)
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
    run = run_ref(store, args.run)
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
    run = run_ref(store, args.run)
    clamp = Clamp(layer=layer_index(run, args.layer), unit=args.unit, target=args.gate, value=args.value,
                  start=args.start)
    cmp = compare(run.weights, run.vocab, prepare(args.text, run.config.lowercase), clamp, length=args.length,
                  temperature=args.temperature, seed=args.seed, drop_unknown=args.drop_unknown)
    at = len(cmp.text) - 1 if args.at is None else args.at
    if not 0 <= at < len(cmp.text):
        raise ValueError(f"--at must be 0 to {len(cmp.text) - 1}, not {at}")
    print(f"layer {clamp.layer + 1}, unit {clamp.unit}: {clamp.target} held at {clamp.value:g} from position "
          f"{clamp.start} ({oneline(cmp.text[clamp.start])!r}) on")
    print(f"next character after {oneline(cmp.text[max(0, at - 20):at + 1])!r} (position {at}), "
          f"KL {cmp.divergence[at]:.4f} nats:")
    print(f"  {'char':6} {'untouched':>10} {'clamped':>10}")
    for ch, p, q in cmp.top(at, args.top):
        print(f"  {oneline(repr(ch)):6} {p:10.4f} {q:10.4f}")
    print(f"largest change: KL {cmp.divergence.max():.4f} nats after position {int(cmp.divergence.argmax())}")
    if args.length:
        print(f"\nuntouched: {oneline(cmp.continuation_plain)}\nclamped:   {oneline(cmp.continuation_clamped)}")
    return 0


def _find_sample(args, store: RunStore, run):
    if not 1_000 <= args.chars <= 1_000_000:
        raise ValueError(f"--chars must be 1,000 to 1,000,000, not {args.chars:,}")
    given = load_path(args.corpus, settings_mod.from_env().max_corpus_bytes) if args.corpus else None
    sample = run_sample(run, store, args.chars, given)
    if sample is None:
        raise StoreError(f"the corpus run {run.key} was trained on is not stored here; pass --corpus FILE")
    return sample


def cmd_match(args, store: RunStore) -> int:
    run = run_ref(store, args.run)
    layer = layer_index(run, args.layer)
    sample = _find_sample(args, store, run)
    tr = trace(run, args.text, drop_unknown=args.drop_unknown)
    start, end = parse_span(args.span, len(tr.text))
    found = span_search(tr.layers[layer][args.state], start, end, args.threshold, below=args.below)
    side, other = ("<", ">=") if args.below else (">=", "<")
    print(f"span {start}:{end} {oneline(tr.text[start:end])!r} of {oneline(tr.text)!r}")
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
        print(f"{rank:>3}  score {m.score:.2f}  at {m.start:>6,}  {oneline(before)}[{oneline(hit)}]{oneline(after)}")
    if not matches:
        print("  nowhere: these units never switch together there")
    return 0


def cmd_units(args, store: RunStore) -> int:
    run = run_ref(store, args.run)
    states = ("cell", "hidden") if args.state == "both" else (args.state,)
    sample = _find_sample(args, store, run)
    label, y = label_for(sample.text, None if args.regex else args.label, args.regex,  # a bad label fails fast
                         settings_mod.from_env().max_pattern)
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


def reading_commands(sub) -> None:
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
