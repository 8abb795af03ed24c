"""Speed of the clamp comparison (Teach page), and of the untouched generation path beside it.

    python bench/clamp_bench.py [--repeat 7] [--base 3676dbe] [--label NOTE]

With the shipped 2 x 128 demo model: the story's comparison (the text read with and without the clamp,
every position's prediction, an 80-character continuation each way), and 2,000 characters of plain
generation with this tree's Stepper against the Stepper of commit --base (before interventions existed),
loaded from git. Each figure is the fastest of --repeat runs. Appends one entry to bench/results/clamp.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
import types
from pathlib import Path

from record import append  # bench/record.py: one file per benchmark, one machine record

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from charlstm.insight.interventions import STORY, compare, story_clamp  # noqa: E402
from charlstm.model import lstm_np  # noqa: E402
from charlstm.model.sampling import sample_index  # noqa: E402
from charlstm.runs.store import demo_run  # noqa: E402

RESULTS = "clamp"  # bench/results/clamp.json (record.py)


def fastest(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def generation(stepper_cls, weights, vocab, n: int = 2000) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    s = stepper_cls(weights)
    logits = s.feed(vocab.encode(STORY))
    for _ in range(n):
        logits = s.step(sample_index(logits, 0.8, rng))


def old_lstm_np(base: str) -> types.ModuleType:
    src = subprocess.run(["git", "show", f"{base}:charlstm/model/lstm_np.py"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    mod = sys.modules["lstm_np_base"] = types.ModuleType("lstm_np_base")  # dataclasses look their module up
    exec(compile(src, f"{base}:charlstm/model/lstm_np.py", "exec"), mod.__dict__)
    return mod


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--base", default="3676dbe")
    p.add_argument("--label", default="")
    a = p.parse_args()
    run = demo_run()
    w, v = run.weights, run.vocab
    clamp = story_clamp(w, v)
    cmp_s = fastest(lambda: compare(w, v, STORY, clamp, length=80), a.repeat)
    old = old_lstm_np(a.base)
    old_w = old.Weights.from_bytes(w.to_bytes())
    now_s = base_s = float("inf")
    for _ in range(a.repeat):  # interleaved, so that a busy spell of the machine slows both alike
        now_s = min(now_s, fastest(lambda: generation(lstm_np.Stepper, w, v), 1))
        base_s = min(base_s, fastest(lambda: generation(old.Stepper, old_w, v), 1))
    entry = {"bench": "clamp", "label": a.label, "machine": platform.machine(), "python": platform.python_version(),
             "clamp_comparison_ms": round(cmp_s * 1e3, 1), "generate_2000_s_now": round(now_s, 4),
             f"generate_2000_s_{a.base}": round(base_s, 4), "clamp": clamp.__dict__}
    print(json.dumps(entry, indent=1))
    append(RESULTS, entry)


if __name__ == "__main__":
    main()
