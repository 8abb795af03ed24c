"""The "fit to my corpus" preset on three real texts, with no settings touched.

    python bench/fit_bench.py            # the first 8 kB and 100 kB of the built-in corpus, and the whole of it
    python bench/fit_bench.py --rates    # the steps/s table charlstm/training/fit.py estimates times from

Each text is written to a file and trained exactly as a person would: `python -m charlstm train FILE`,
no options, in its own process (an empty run store each time). Wall time is that whole command, TensorFlow's
start included. The results are appended to bench/results/fit.json and docs/fitting.md's table (between the
fit_bench markers) is rewritten from the latest run of each text. The 8 kB text must end at least
0.9 nats/char below its unigram baseline, within 3 minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from charlstm.runs.store import RunStore  # noqa: E402
from charlstm.text.corpus import builtin  # noqa: E402

RESULTS = ROOT / "bench" / "fit_results.json"
README = ROOT / "docs" / "fitting.md"
TEXTS = {"first 8 kB": 8_000, "first 100 kB": 100_000, "the whole corpus": 0}
BEGIN, END = "<!-- fit_bench: begin -->", "<!-- fit_bench: end -->"


def train_one(name: str, text: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="fit-bench-") as tmp:
        path = Path(tmp) / "text.txt"
        path.write_text(text, encoding="utf-8")
        env = dict(os.environ, CHARLSTM_HOME=str(Path(tmp) / "home"), PYTHONPATH=str(ROOT))
        load = os.getloadavg()
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "charlstm", "train", str(path)], env=env, cwd=ROOT,
                              capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            raise SystemExit(f"{name}: train failed:\n{done.stderr[-2000:]}")
        (run,) = RunStore(Path(tmp) / "home").list()
        fitted = next(line for line in done.stderr.splitlines() if "fitted to the corpus:" in line)
        b = run.baselines
        return {"text": name, "chars": len(text), "fitted": fitted.split("fitted to the corpus: ")[1].strip(),
                "batch_size": run.config.batch_size, "seq_len": run.config.seq_len,
                "learning_rate": run.config.learning_rate, "epochs": run.config.epochs,
                "epochs_done": run.epochs_done, "best_epoch": run.best_epoch, "stopped": run.history.get("stopped"),
                "val_loss": round(run.val_loss, 4), "unigram": round(b.unigram, 4), "uniform": round(b.uniform, 4),
                "below_unigram": round(b.unigram - run.val_loss, 4), "wall_seconds": round(wall, 1),
                "train_seconds": run.meta["train_seconds"], "load_average_before": [round(x, 2) for x in load],
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
                "last_sample": run.samples[-1] if run.samples else None,
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def rates() -> dict:
    """Optimizer steps a second of the default model at sequence length 32, by batch size: Keras fit alone."""
    from charlstm.config import Config
    from charlstm.model.network import build_model
    from charlstm.text.split import epoch_batches, split

    out = {}
    text = builtin().text[:300_000]
    for batch in (16, 32, 64, 128):
        cfg = Config(batch_size=batch, seq_len=32)
        d = split(text, cfg)
        model = build_model(cfg, len(d.vocab))
        x, y = epoch_batches(d.train, cfg, 0)
        model.fit(x[:batch * 5], y[:batch * 5], batch_size=batch, epochs=1, verbose=0)  # traced once
        n = min(len(x), batch * 60)
        t0 = time.perf_counter()
        model.fit(x[:n], y[:n], batch_size=batch, epochs=1, verbose=0, shuffle=False)
        out[batch] = round((n // batch) / (time.perf_counter() - t0), 1)
        print(f"batch {batch}: {out[batch]} steps/s", flush=True)
    return {"rates": out, "load_average": os.getloadavg(), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def ngrams() -> dict:
    """Cross-entropy of the held-out part under count-based models that know the last 1, 2 or 3 characters:
    the calibration of the verdict's thresholds (charlstm/text/baselines.py). Each order's counts are interpolated
    with the add-one unigram, weight n / (n + k) for a context seen n times, k tuned on the held-out part
    (so slightly optimistic)."""
    import collections
    import math

    import numpy as np

    from charlstm.config import Config
    from charlstm.text.baselines import unigram
    from charlstm.text.split import split

    out = {}
    full = builtin().text
    for name, n in TEXTS.items():
        s = split(full[:n] if n else full, Config())
        V, tr, va = len(s.vocab), s.train.tolist(), s.val.tolist()
        up = (np.bincount(s.train, minlength=V) + 1.0) / (len(tr) + V)
        row = {"unigram": unigram(s.train, s.val, V), "uniform": math.log(V)}
        for order in (2, 3, 4):
            ctx, joint = collections.Counter(), collections.Counter()
            for i in range(order - 1, len(tr)):
                c = tuple(tr[i - order + 1:i])
                ctx[c] += 1
                joint[(*c, tr[i])] += 1
            best = math.inf
            for k in (5, 10, 20, 50):
                ll = 0.0
                for i in range(order - 1, len(va)):
                    c = tuple(va[i - order + 1:i])
                    nc = ctx.get(c, 0)
                    lam = nc / (nc + k)
                    ll -= math.log(lam * (joint.get((*c, va[i]), 0) / nc if nc else 0.0) + (1 - lam) * up[va[i]])
                best = min(best, ll / (len(va) - order + 1))
            row[f"{order}-gram"] = best
        out[name] = {key: round(v, 3) for key, v in row.items()}
        print(name, out[name], flush=True)
    return {"ngrams": out, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def calibrate() -> dict:
    """Samples epoch by epoch beside each epoch's distance below the unigram: the first 8 kB, batch 16, Adam 3e-3,
    24 epochs (slow enough to pass through every band of the verdict)."""
    from charlstm.config import Config
    from charlstm.text.corpus import from_text
    from charlstm.training.trainer import train

    t = train(from_text(builtin().text[:8000], "first 8 kB"), Config(batch_size=16, learning_rate=3e-3, epochs=24),
              probe=None)
    u = t.history["baselines"]["unigram"]
    epochs = [{"epoch": i + 1, "val_loss": round(v, 3), "below_unigram": round(u - v, 3), "sample": s}
              for i, (v, s) in enumerate(zip(t.history["val_loss"], t.history["samples"], strict=True))]
    for e in epochs:
        print(e["epoch"], e["val_loss"], e["below_unigram"], repr(e["sample"][:120]), flush=True)
    return {"calibration": epochs, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def table(rows: list[dict]) -> str:
    head = ("| text | characters | fitted settings | epochs run (best) | stopped | val loss | unigram baseline | "
            "below it | wall time |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
    return head + "".join(
        f"| {r['text']} | {r['chars']:,} | batch {r['batch_size']} × {r['seq_len']}, Adam {r['learning_rate']:g}, "
        f"up to {r['epochs']} epochs | {r['epochs_done']} ({r['best_epoch']}) | {r['stopped']} | "
        f"**{r['val_loss']:.3f}** | {r['unigram']:.3f} | {r['below_unigram']:.2f} | "
        f"{r['wall_seconds'] / 60:.1f} min |\n" for r in rows)


def write_readme(rows: list[dict]) -> None:
    text = README.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        print("README has no fit_bench markers; table not written")
        return
    block = f"{BEGIN}\n{table(rows)}{END}"
    README.write_text(re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, text, flags=re.S),
                      encoding="utf-8")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rates", action="store_true", help="measure the steps/s table instead")
    p.add_argument("--ngrams", action="store_true", help="the n-gram models that calibrate the verdict instead")
    p.add_argument("--calibrate", action="store_true", help="samples beside each epoch's loss, for the verdict")
    p.add_argument("--only", choices=list(TEXTS), action="append", help="train only these texts")
    args = p.parse_args()
    stored = json.loads(RESULTS.read_text()) if RESULTS.is_file() else []
    if args.rates or args.ngrams or args.calibrate:
        measured = rates() if args.rates else ngrams() if args.ngrams else calibrate()
        RESULTS.write_text(json.dumps([*stored, measured], indent=2, ensure_ascii=False) + "\n")
        return
    full = builtin().text
    new = []
    for name, n in TEXTS.items():
        if args.only and name not in args.only:
            continue
        row = train_one(name, full[:n] if n else full)
        new.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "last_sample"}), flush=True)
        stored.append(row)
        RESULTS.write_text(json.dumps(stored, indent=2, ensure_ascii=False) + "\n")
    latest = {r["text"]: r for r in stored if "text" in r}
    write_readme([latest[name] for name in TEXTS if name in latest])
    small = latest.get("first 8 kB")
    if small and not (small["below_unigram"] >= 0.9 and small["wall_seconds"] <= 180):
        print(f"FAILED the 8 kB requirement: {small['below_unigram']:.2f} below the unigram in "
              f"{small['wall_seconds']:.0f} s (needed: 0.9 within 180 s)")
        sys.exit(1)


if __name__ == "__main__":
    main()
