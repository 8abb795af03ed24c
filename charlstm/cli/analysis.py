"""Command line for the Insight views: attribute, components, compare; and `trace --csv`.

cli/main.py's parser() calls register(sub); each verb prints a table as `units` and `match` do, and a bad
request is one `error: ...` line and exit status 2 (cli.main).
"""

from __future__ import annotations

import sys

from charlstm.cli import insight as insight_verbs
from charlstm.cli.common import layer_index, oneline, run_ref
from charlstm.insight.attribution import DEFAULT_STEPS, METHODS, Target, attribute, neutral_char, top_characters
from charlstm.insight.compare import Side, compare
from charlstm.insight.components import DEFAULT_K, NMF_ON, PCA_ON, components, method_for
from charlstm.insight.find import run_sample
from charlstm.insight.gates import trace, trace_window
from charlstm.insight.labels import LABELS
from charlstm.model.lstm_np import GATES
from charlstm.runs.store import StoreError
from charlstm.text.corpus import load_path, prepare
from charlstm.views import tables


def cmd_attribute(args, store) -> int:
    run = run_ref(store, args.run)
    text = prepare(args.text, run.config.lowercase)
    if args.drop_unknown:
        text = run.vocab.decode(run.vocab.encode(text, drop_unknown=True))
    at = len(text) - 1 if args.at is None else args.at
    if args.unit is not None:
        target = Target(args.gate, layer_index(run, args.layer), args.unit)
    else:
        target = Target("next", char=args.char)
    baseline = None if args.baseline == "zero" else (args.baseline or neutral_char(run.vocab))
    a = attribute(run.weights, run.vocab, text, at, target, args.method, args.steps, baseline,
                  window=trace_window(run.config))
    print(f"{a.what} at position {at} ({oneline(a.text[max(0, at - 30):at + 1])!r}), by {METHODS[a.method]}"
          + (f", {args.steps} steps from {'the zero embedding' if a.baseline == 'zero' else repr(a.baseline)}"
             if a.method == "ig" else ""))
    line = f"value {a.value:+.4f}"
    if a.baseline_value is not None:
        line += (f", on the baseline {a.baseline_value:+.4f}; the scores add up to {a.total:+.4f} "
                 f"(missing the change by {a.gap:.1%})")
    print(line)
    print(f"\n{'rank':>4}  {'position':>8}  {'char':6}  {'score':>9}  context")
    for rank, (t, c, s) in enumerate(top_characters(a, args.top), 1):
        ctx = oneline(a.text[max(0, t - 12):t]) + "[" + oneline(c) + "]" + oneline(a.text[t + 1:t + 6])
        print(f"{rank:>4}  {t:>8}  {oneline(repr(c)):6}  {s:>+9.4f}  {ctx}")
    return 0


def _text_or_sample(args, store, run) -> tuple[str, str]:
    """--text, else --chars characters from the held-out end of the run's corpus (or --corpus FILE)."""
    if args.text is not None:
        ids = run.vocab.encode(prepare(args.text, run.config.lowercase), drop_unknown=True)
        return run.vocab.decode(ids), f"the text given ({len(ids):,} characters the model knows)"
    if not 20 <= args.chars <= 100_000:
        raise ValueError(f"--chars must be 20 to 100,000, not {args.chars:,}")
    sample = run_sample(run, store, args.chars, load_path(args.corpus) if args.corpus else None)
    if sample is None:
        raise StoreError(f"the corpus run {run.key} was trained on is not stored here; pass --corpus FILE or --text")
    return sample.text, sample.source


def cmd_components(args, store) -> int:
    run = run_ref(store, args.run)
    method_for(args.state)  # a bad state fails before the trace
    layer = layer_index(run, args.layer)
    text, source = _text_or_sample(args, store, run)
    if len(text) < max(2, args.k):
        raise ValueError(f"the text has {len(text)} characters the model knows; give at least {max(2, args.k)}")
    c = components(trace(run, text), layer, args.state, args.k)
    what = "non-negative matrix factorisation" if c.method == "nmf" else "principal components"
    print(f"{args.k} components of layer {layer + 1}'s {args.state} by {what}, over {source}")
    print(f"\n{'comp':>4}  {'share':>6}  {'top units (weight)':<54}  follows")
    for comp in c.components:
        units = ", ".join(f"{u} ({w:+.2f})" for u, w in comp.top_units)
        follows = f"{LABELS[comp.label].title} (r {comp.label_r:+.2f})" if comp.label else "-"
        print(f"{comp.index + 1:>4}  {comp.share:>6.1%}  {units:<54}  {follows}")
    return 0


def cmd_compare(args, store) -> int:
    a, b = run_ref(store, args.run_a), run_ref(store, args.run_b)
    cmp = compare(Side.of(a, "A"), Side.of(b, "B"), args.text)
    print(f"A: {a.key[:12] if args.run_a != 'demo' else 'demo'}  mean surprise {cmp.mean_a:.3f} nats/char")
    print(f"B: {b.key[:12] if args.run_b != 'demo' else 'demo'}  mean surprise {cmp.mean_b:.3f} nats/char"
          f"  over {len(cmp.text):,} characters both read")
    if cmp.dropped:
        print("left out, since one of the two cannot read them: " + " ".join(repr(c) for c in cmp.dropped))
    print(f"\nwhere they disagree most:\n{'position':>8}  {'A':>6}  {'B':>6}  {'A-B':>7}  context")
    for d in cmp.disagreements(args.top):
        t = d.position
        ctx = oneline(cmp.text[max(0, t - 20):t]) + "[" + oneline(d.char) + "]" + oneline(cmp.text[t + 1:t + 6])
        print(f"{t:>8}  {d.loss_a:>6.2f}  {d.loss_b:>6.2f}  {d.diff:>+7.2f}  {ctx}")
    print(f"\nunits of A and their best match in B (cell states, over the text):\n"
          f"{'layer':>5}  {'unit':>4}  ->  {'layer':>5}  {'unit':>4}  {'r':>7}  mutual")
    for m in cmp.matches[:args.units]:
        print(f"{m.layer_a + 1:>5}  {m.unit_a:>4}  ->  {m.layer_b + 1:>5}  {m.unit_b:>4}  {m.r:>+7.3f}  "
              f"{'yes' if m.mutual else 'no'}")
    return 0


def cmd_trace(args, store) -> int:
    """trace, with --csv FILE: the Gates page's CSV, one row per character and a column per layer, quantity and
    unit (charlstm.views.tables.trace_table); without it, cli/insight.py's cmd_trace as before."""
    if args.csv is None:
        return insight_verbs.cmd_trace(args, store)
    tr = trace(run_ref(store, args.run), args.text, drop_unknown=args.drop_unknown)
    data = tables.to_csv(tables.trace_table(tr))
    if args.csv == "-":
        sys.stdout.write(data.decode("utf-8"))
    else:
        with open(args.csv, "wb") as f:
            f.write(data)
        print(f"wrote {args.csv}: {len(tr.text)} rows, one per character; a column per layer, quantity and unit")
    return 0


def register(sub) -> None:
    """Add attribute, components and compare to cli.parser()'s subcommands, and --csv to its trace."""
    t = sub.choices["trace"]
    t.add_argument("--csv", default=None, metavar="FILE",
                   help="write one row per character, a column per layer, quantity and unit (as the app's CSV "
                        "downloads) to FILE ('-': stdout)")
    t.set_defaults(fn=cmd_trace)

    a = sub.add_parser("attribute", help="which earlier characters moved a prediction (or a unit's gate): "
                                         "integrated gradients, gradient x input or gradient size")
    a.add_argument("run", help="run key or unique prefix, or 'demo'")
    a.add_argument("--text", required=True, help="the text to read")
    a.add_argument("--at", type=int, default=None, help="the position (0-based) explained (default: the last)")
    a.add_argument("--method", choices=tuple(METHODS), default="ig",
                   help="ig: integrated gradients; gxi: gradient x input; grad: gradient size (default: %(default)s)")
    a.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="integrated gradients' steps (default: "
                                                                     "%(default)s)")
    a.add_argument("--baseline", default=None, help="integrated gradients' baseline: a character whose embedding "
                                                    "stands in everywhere, or 'zero' (default: a space)")
    a.add_argument("--char", default=None, help="explain log p of this next character (default: the one that comes "
                                                "next, or the top guess after the last character)")
    a.add_argument("--unit", type=int, default=None, help="explain this unit's gate or state instead (0-based)")
    a.add_argument("--gate", choices=GATES, default="forget", help="with --unit: which (default: %(default)s)")
    a.add_argument("--layer", type=int, default=None, help="with --unit: 1 = the first layer (default: the last)")
    a.add_argument("--top", type=int, default=10, help="how many characters to list (default: %(default)s)")
    a.add_argument("--drop-unknown", action="store_true", help="leave out characters the model does not know")
    a.set_defaults(fn=cmd_attribute)

    c = sub.add_parser("components", help="what the units form together: a layer's gates (NMF) or cell state "
                                          "(PCA) over a text, as k components")
    c.add_argument("run", help="run key or unique prefix, or 'demo'")
    c.add_argument("--k", type=int, default=DEFAULT_K, help="how many components (default: %(default)s)")
    c.add_argument("--state", choices=NMF_ON + PCA_ON, default="forget",
                   help="gates by NMF, cell/hidden/candidate by PCA (default: %(default)s)")
    c.add_argument("--layer", type=int, default=None, help="1 = the first LSTM layer (default: the last)")
    c.add_argument("--text", default=None, help="factorise this text instead of a sample of the corpus")
    c.add_argument("--chars", type=int, default=2_000, help="characters of the corpus's held-out end "
                                                            "(default: %(default)s)")
    c.add_argument("--corpus", default=None, help="sample this text file instead of the run's own corpus")
    c.set_defaults(fn=cmd_components)

    m = sub.add_parser("compare", help="two runs on one text: each one's surprise, where they disagree, and which "
                                       "units match")
    m.add_argument("run_a", metavar="RUN_A", help="run key or unique prefix, or 'demo'")
    m.add_argument("run_b", metavar="RUN_B", help="run key or unique prefix, or 'demo'")
    m.add_argument("--text", required=True, help="the text both read (characters either cannot read are left out)")
    m.add_argument("--top", type=int, default=10, help="how many disagreements to list (default: %(default)s)")
    m.add_argument("--units", type=int, default=20, help="how many unit matches to list (default: %(default)s)")
    m.set_defaults(fn=cmd_compare)


__all__ = ["register"]
