"""Speed of the Insight page's views on the shipped model (2 x 256), each at this server's default cap.

    python bench/insight_bench.py [--repeat 5]

Each figure is the fastest of --repeat runs (other work on a shared machine only ever adds time),
with the process's CPU seconds for that run beside it, timed as the page computes it: attribution
of one position (integrated gradients at the default steps, and gradient x input) at the end of
a text of max_attribution_text characters; components (the trace, NMF of the forget gate and the
2-D map) and PCA of the cell state over 2,000 characters and over max_components_text; two runs
over max_compare_text (the shipped model against itself: the same work as two models of its
size). scikit-learn's first import is timed apart. Writes bench/results/insight.json.
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

from charlstm.insight.attribution import DEFAULT_STEPS, attribute, neutral_char
from charlstm.insight.compare import Side, compare
from charlstm.insight.components import components, project
from charlstm.insight.find import run_sample
from charlstm.insight.gates import trace
from charlstm.runs.store import demo_run
from charlstm.serve.limits import Limits

RESULTS = "insight"  # bench/results/insight.json (record.py)
TARGETS = {"attribution": 1.0, "components_2000": 3.0, "compare": 2.0}  # seconds, from issue 24


def best(fn, repeat: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the fastest of `repeat` calls."""
    runs = []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        runs.append((time.perf_counter() - w0, time.process_time() - c0))
    return min(runs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    t0 = time.perf_counter()
    import sklearn.decomposition  # noqa: F401  the first import, as the first visitor of a server meets it

    sklearn_import = time.perf_counter() - t0
    run, caps = demo_run(), Limits()
    sample = run_sample(run, None, max(caps.max_components_text, caps.max_compare_text, caps.max_attribution_text))
    text = sample.text
    w, v = run.weights, run.vocab
    n = caps.max_attribution_text
    views = {}

    def record(name: str, fn, chars: int, note: str) -> None:
        wall, cpu = best(fn, args.repeat)
        target = TARGETS.get(name)
        views[name] = {"seconds": round(wall, 3), "cpu_seconds": round(cpu, 3), "characters": chars, "what": note,
                       **({"target_seconds": target, "met": wall < target} if target else {})}
        print(f"{name:<22} {wall:7.3f} s  (cpu {cpu:6.3f} s)  {chars:>6,} chars  {note}"
              + (f"  target < {target:g} s: {'met' if wall < target else 'MISSED'}" if target else ""))

    record("attribution", lambda: attribute(w, v, text[:n], n - 1, method="ig", steps=DEFAULT_STEPS,
                                            baseline=neutral_char(v)), n,
           f"integrated gradients, {DEFAULT_STEPS} steps, the last position of the capped text")
    record("attribution_gxi", lambda: attribute(w, v, text[:n], n - 1, method="gxi"), n,
           "gradient x input, the last position")
    record("attribution_ig_max", lambda: attribute(w, v, text[:n], n - 1, method="ig", steps=caps.max_ig_steps,
                                                   baseline=neutral_char(v)), n,
           f"integrated gradients at the steps cap ({caps.max_ig_steps})")

    def components_view(chars: int, state: str):
        def go():
            tr = trace(run, text[:chars])
            components(tr, run.config.layers - 1, state, 8)
            project(tr.layers[-1]["hidden"])
        return go

    record("components_2000", components_view(2000, "forget"), 2000, "trace + NMF of the forget gate (k 8) + map")
    record("components_2000_pca", components_view(2000, "cell"), 2000, "trace + PCA of the cell state (k 8) + map")
    record("components_cap", components_view(caps.max_components_text, "forget"), caps.max_components_text,
           "trace + NMF of the forget gate (k 8) + map, at the cap")
    m = caps.max_compare_text
    record("compare", lambda: compare(Side.of(run, "A"), Side.of(run, "B"), text[:m]), m,
           "two 2 x 256 models: traces, losses, unit matches")
    out = {"model": f"shipped demo, {run.config.layers} x {run.config.units}", "repeat": args.repeat,
           "sklearn_first_import_seconds": round(sklearn_import, 3), "views": views,
           "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                       "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()]},  # a shared machine: how busy
           "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    append(RESULTS, out)
    print(f"sklearn first import {sklearn_import:.2f} s; appended to bench/results/{RESULTS}.json")


if __name__ == "__main__":
    main()
