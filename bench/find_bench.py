"""Speed of the Units page's finders: the cell finder and span match over a 20,000-character corpus sample.

    python bench/find_bench.py [--units 256] [--layers 2] [--repeat 7] [--label NOTE]

Everything is timed cold, as the first visitor of a run meets it: the sample is traced through
the model (random weights: speed only) and then scored or searched. Each figure is the fastest
of --repeat runs, since other work on a shared machine only ever adds time; the CPU seconds of
that process are printed beside it. Appends one entry to bench/results/find.json. Also times the
shipped 2 x 128 demo model, whose top units are printed for docs/units.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

from record import append  # bench/record.py: one file per benchmark, one machine record

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from charlstm.insight.find import (
    SAMPLE_CHARS,
    held_out_sample,
    label_for,
    match,
    rank_units,
    run_sample,
    span_search,
    trace_long,
)
from charlstm.insight.gates import EXAMPLE, trace_weights
from charlstm.model.lstm_np import LayerWeights, Weights
from charlstm.text.corpus import Vocab, builtin

RESULTS = "find"  # bench/results/find.json (record.py)
SPAN = (19, 20)  # the space after "eat." in EXAMPLE


def random_weights(vocab: Vocab, layers: int, units: int, embedding: int = 32, seed: int = 0) -> Weights:
    rng = np.random.default_rng(seed)

    def glorot(*shape):
        return (rng.normal(size=shape) / np.sqrt(shape[0])).astype(np.float32)

    stack, width = [], embedding
    for _ in range(layers):
        stack.append(LayerWeights(glorot(width, 4 * units), glorot(units, 4 * units), np.zeros(4 * units, np.float32)))
        width = units
    return Weights(glorot(len(vocab), embedding), tuple(stack), glorot(units, len(vocab)),
                   np.zeros(len(vocab), np.float32))


def fastest(fn, repeat: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the fastest of `repeat` calls."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - w0, time.process_time() - c0))
    return round(best[0], 3), round(best[1], 3)


def cell_finder(w: Weights, vocab: Vocab, text: str, label: str) -> None:
    long = trace_long(w, vocab, text, states=("cell", "hidden"))
    lab, y = label_for(long.text, label)
    rank_units(long, y, lab.binary, k=10)


def span_match(w: Weights, vocab: Vocab, text: str) -> None:
    tr = trace_weights(w, vocab, EXAMPLE)
    values = tr.layers[-1]["hidden"]
    found = [f.unit for f in span_search(values, *SPAN, threshold=0.0)]
    units = found or list(np.argsort(-values[SPAN[0]])[:6])  # random weights may find none: time six anyway
    long = trace_long(w, vocab, text, states=("hidden",))
    match(long.layers[-1]["hidden"], units, 0.0, SPAN[1] - SPAN[0], k=12)


def timings(w: Weights, vocab: Vocab, text: str, repeat: int) -> dict:
    out = {}
    for label in ("line-position", "word-start"):
        out[f"cell_finder_{label}_s"], out[f"cell_finder_{label}_cpu_s"] = fastest(
            lambda label=label: cell_finder(w, vocab, text, label), repeat)
    out["span_match_s"], out["span_match_cpu_s"] = fastest(lambda: span_match(w, vocab, text), repeat)
    long = trace_long(w, vocab, text)
    out["trace_s"], _ = fastest(lambda: trace_long(w, vocab, text), repeat)
    _, y = label_for(long.text, "word-start")
    out["rank_word_start_s"], _ = fastest(lambda: rank_units(long, y, True), repeat)
    return out


def demo_top_units() -> dict:
    from charlstm.runs.store import demo_run

    run = demo_run()
    long = trace_long(run.weights, run.vocab, run_sample(run, None).text)
    top = {}
    for label in ("line-position", "word-start", "sentence-boundary"):
        lab, y = label_for(long.text, label)
        top[label] = [{"layer": u.layer + 1, "state": u.state, "unit": u.unit, "score": round(u.score, 3)}
                      for u in rank_units(long, y, lab.binary, k=5)]
    return top


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--units", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--label", default="")
    args = p.parse_args()
    corpus = builtin()
    vocab = Vocab.build(corpus.text)
    text = held_out_sample(corpus, vocab, False, 0.1, SAMPLE_CHARS).text
    entry = {"label": args.label or "find bench", "date": time.strftime("%Y-%m-%d %H:%M"),
             "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "processor": platform.machine(),
                         "load_avg_1min": round(os.getloadavg()[0], 2),
                         "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "")},
             "sample_chars": len(text)}
    big = f"{args.layers}x{args.units}"
    entry[big] = timings(random_weights(vocab, args.layers, args.units), vocab, text, args.repeat)
    from charlstm.runs.store import demo_run

    demo = demo_run()
    entry["2x128 demo"] = timings(demo.weights, demo.vocab, text, args.repeat)
    entry["demo_top_units"] = demo_top_units()
    append(RESULTS, entry)

    print(f"{len(text):,} characters, fastest of {args.repeat}, load average {entry['machine']['load_avg_1min']}\n")
    print("| model | cell finder, line position | cell finder, word start | span match | the trace alone |")
    print("| --- | --- | --- | --- | --- |")
    for name in (big, "2x128 demo"):
        t = entry[name]
        print(f"| {name} | {t['cell_finder_line-position_s']:.2f} s | {t['cell_finder_word-start_s']:.2f} s | "
              f"{t['span_match_s']:.2f} s | {t['trace_s']:.2f} s |")
    print("\n(each column timed on its own; CPU seconds in bench/results/find.json)")
    print("\nthe shipped model's top units:")
    for label, rows in entry["demo_top_units"].items():
        print(f"  {label}: " + ", ".join(f"layer {r['layer']} {r['state']} unit {r['unit']} ({r['score']:+.3f})"
                                         for r in rows[:3]))


if __name__ == "__main__":
    main()
