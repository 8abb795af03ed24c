"""Training-loop levers: optimizer steps/s of the default config (2 x 128, batch 128 x 32) on the built-in corpus.

    python bench/levers.py [--steps 48] [--rounds 6] [--only NAME ...]

The loop levers (steps_per_execution, callbacks, tf.data, XLA, a train loop of our own) are models side by side
in one process that take turns every few steps, so a noisy shared machine hits them alike. The thread levers
need a fresh process each (TensorFlow's thread settings hold only before its first op): they take turns
process by process. Appends to bench/results/levers.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from record import append  # bench/record.py: one file per benchmark, one machine record

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = "levers"  # bench/results/levers.json (record.py)

# Levers that a fresh process each (thread settings hold only before TensorFlow's first op): name -> environment
PROCESS_LEVERS = {
    "1 intra-op thread (CHARLSTM_TF_THREADS=1, the default)": {},
    "2 intra-op threads": {"CHARLSTM_TF_THREADS": "2"},
    "1 intra-op, 1 inter-op thread": {"CHARLSTM_TF_INTER_THREADS": "1"},
}
# Levers compared inside one process, taking turns every few steps: name -> options of make_variant
LOOP_LEVERS = {
    "fit, a callback every batch (before)": {"spe": 1, "callback": True},
    "fit, no callback": {"spe": 1, "callback": False},
    "steps_per_execution 4": {"spe": 4, "callback": True},
    "steps_per_execution 16": {"spe": 16, "callback": True},
    "steps_per_execution 32": {"spe": 32, "callback": True},
    "steps_per_execution 16, tf.data + prefetch": {"spe": 16, "callback": True, "dataset": True},
    "steps_per_execution 16, jit_compile (XLA)": {"spe": 16, "callback": True, "jit": True},
    "own train loop: one tf.function over 16 steps": {"own": 16},
}


def make_variant(x, y, vocab_size: int, spe: int = 1, callback: bool = True, dataset: bool = False,
                 jit: bool = False, own: int = 0):
    """A fresh default-config model and a function that trains it on batches [lo, lo + n) of (x, y)."""
    import keras
    import tensorflow as tf

    from charlstm.config import Config
    from charlstm.model.network import build_model

    config = Config()
    keras.utils.set_random_seed(0)
    model = build_model(config, vocab_size)
    model.compile(optimizer=model.optimizer, loss=model.loss, steps_per_execution=spe, jit_compile=jit)
    b = config.batch_size
    cbs = [keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: float(logs["loss"]))] if callback \
        else []
    if own:
        loss_fn, opt = model.loss, model.optimizer

        @tf.function
        def steps(xs, ys):  # (own, b, T) each
            last = tf.constant(0.0)
            for i in tf.range(own):
                with tf.GradientTape() as tape:
                    loss = loss_fn(ys[i], model(xs[i], training=True))
                grads = tape.gradient(loss, model.trainable_variables)
                opt.apply(grads, model.trainable_variables)
                last = loss
            return last

        def fit(lo: int, n: int) -> None:
            for k in range(lo, lo + n, own):
                steps(x[k * b:(k + own) * b].reshape(own, b, -1), y[k * b:(k + own) * b].reshape(own, b, -1))
        return fit

    def fit(lo: int, n: int) -> None:
        xs, ys = x[lo * b:(lo + n) * b], y[lo * b:(lo + n) * b]
        if dataset:
            ds = tf.data.Dataset.from_tensor_slices((xs, ys)).batch(b).prefetch(tf.data.AUTOTUNE)
            model.fit(ds, epochs=1, verbose=0, callbacks=cbs)
        else:
            model.fit(xs, ys, batch_size=b, epochs=1, shuffle=False, verbose=0, callbacks=cbs)
    return fit


def loop_levers(names: list[str], steps: int, rounds: int) -> dict[str, list[float]]:
    """Every loop lever in one process, taking turns `steps` steps at a time, `rounds` times: steps/s per turn."""
    import numpy as np

    from charlstm.config import Config
    from charlstm.text.corpus import builtin
    from charlstm.text.split import epoch_batches, split

    config = Config()
    data = split(builtin().text, config)
    x, y = epoch_batches(data.train, config, 0)
    n_batches = len(x) // config.batch_size
    fits = {n: make_variant(x, y, len(data.vocab), **LOOP_LEVERS[n]) for n in names}
    for fit in fits.values():
        fit(0, 32)  # trace and warm up
    out: dict[str, list[float]] = {n: [] for n in names}
    lo = 32
    for r in range(rounds):
        for n, fit in fits.items():
            if lo + steps > n_batches:
                lo = 32
            t0 = time.perf_counter()
            fit(lo, steps)
            out[n].append(round(steps / (time.perf_counter() - t0), 2))
        print(f"round {r + 1}: " + ", ".join(f"{n} {v[-1]}" for n, v in out.items()) +
              f"  (load {os.getloadavg()[0]:.1f})", flush=True)
        lo += steps
    return {n: v for n, v in out.items()} | {"_median": {n: float(np.median(v)) for n, v in out.items()}}


def process_lever(steps: int) -> dict:
    """This process's threads as set by the environment: steps/s of the default config at steps_per_execution 16."""
    if os.environ.get("CHARLSTM_TF_INTER_THREADS"):
        import tensorflow as tf

        tf.config.threading.set_inter_op_parallelism_threads(int(os.environ["CHARLSTM_TF_INTER_THREADS"]))
    from charlstm.config import Config
    from charlstm.text.corpus import builtin
    from charlstm.text.split import epoch_batches, split

    config = Config()
    data = split(builtin().text, config)
    x, y = epoch_batches(data.train, config, 0)
    fit = make_variant(x, y, len(data.vocab), spe=16)
    fit(0, 32)
    t0 = time.perf_counter()
    fit(32, steps)
    return {"steps_per_sec": round(steps / (time.perf_counter() - t0), 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=48, help="steps per turn (a multiple of 16 and 32)")
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--process-steps", type=int, default=192, help="steps per turn of the thread levers")
    p.add_argument("--process-rounds", type=int, default=3)
    p.add_argument("--only", nargs="*", help="lever names (substrings) to run")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(process_lever(args.process_steps)))
        return
    pick = lambda names: [n for n in names if not args.only or any(o in n for o in args.only)]  # noqa: E731
    entry = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(),
             "load_avg_start": [round(x, 2) for x in os.getloadavg()], "steps": args.steps}
    if names := pick(LOOP_LEVERS):
        entry["loop"] = loop_levers(names, args.steps, args.rounds)
    figures: dict[str, list[float]] = {n: [] for n in pick(PROCESS_LEVERS)}
    for r in range(args.process_rounds if figures else 0):
        for n in figures:
            out = subprocess.run([sys.executable, __file__, "--child", "--process-steps", str(args.process_steps)],
                                 env=os.environ | PROCESS_LEVERS[n], capture_output=True, text=True, cwd=ROOT)
            if out.returncode:
                print(f"{n}: failed\n{out.stderr[-2000:]}", flush=True)
                continue
            figures[n].append(json.loads(out.stdout.strip().splitlines()[-1])["steps_per_sec"])
            print(f"round {r + 1}: {n} {figures[n][-1]} steps/s (load {os.getloadavg()[0]:.1f})", flush=True)
    entry["threads"] = figures
    entry["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    append(RESULTS, entry)
    print("\n| lever | steps/s, median (each turn) |\n| --- | --- |")
    for n, v in list(entry.get("loop", {}).items()) + list(figures.items()):
        if not n.startswith("_") and v:
            print(f"| {n} | {sorted(v)[len(v) // 2]:.2f} ({' · '.join(f'{x:.2f}' for x in v)}) |")


if __name__ == "__main__":
    main()
