"""Benchmarks: training speed and quality per CPU-minute, generation and tracing speed, memory.

    python bench/run.py [--minutes 5] [--preset default] [--units U ...] [--skip-train]

Appends one entry per run to bench/results/train.json and prints a markdown table for the
README. Tests never assert wall-clock times; this script is where speed is measured.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from pathlib import Path

from record import append  # bench/record.py: one file per benchmark, one machine record

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from charlstm.config import PRESETS, Config
from charlstm.text.corpus import builtin
from charlstm.text.split import epoch_batches, split, windows

RESULTS = "train"  # bench/results/train.json (record.py)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def train_curve(config: Config, minutes: float, eval_every: float = 30.0) -> dict:
    """Train the real model on the built-in corpus for a fixed time; validation loss over time.

    The clock counts training only: evaluation pauses it, as it would not happen in a real run
    that often. Validation is the whole held-out last 10% of the text.
    """
    import keras

    from charlstm.model.network import build_model

    data = split(builtin().text, config)
    vx, vy = windows(data.val, config.seq_len)
    keras.utils.set_random_seed(config.seed)
    model = build_model(config, len(data.vocab))
    chunk = 20  # steps between clock checks
    clock, steps, epoch, points, next_eval = 0.0, 0, 0, [], eval_every
    budget = minutes * 60
    while clock < budget:
        x, y = epoch_batches(data.train, config, epoch)
        for s in range(0, len(x), chunk * config.batch_size):
            t0 = time.perf_counter()
            model.fit(x[s:s + chunk * config.batch_size], y[s:s + chunk * config.batch_size],
                      batch_size=config.batch_size, epochs=1, shuffle=False, verbose=0)
            clock += time.perf_counter() - t0
            steps += len(x[s:s + chunk * config.batch_size]) // config.batch_size
            if clock >= next_eval or clock >= budget:
                val = float(model.evaluate(vx, vy, batch_size=256, verbose=0))
                points.append({"seconds": round(clock, 1), "steps": steps, "val_loss": round(val, 4)})
                print(f"  {clock:6.0f} s  {steps:6d} steps  val {val:.4f}", flush=True)
                next_eval += eval_every
            if clock >= budget:
                break
        epoch += 1
    chars = steps * config.batch_size * config.seq_len
    return {"config": config.to_dict(), "minutes": minutes, "curve": points, "steps": steps,
            "steps_per_sec": round(steps / clock, 2), "chars_per_sec": round(chars / clock),
            "epochs_seen": round(chars / len(data.train), 2), "final_val_loss": points[-1]["val_loss"],
            "peak_rss_mb": round(peak_rss_mb())}


def generation_speed(config: Config, n: int = 5000) -> dict:
    """Characters per second of the numpy sampler at this model size (random weights: speed only)."""
    from charlstm.model.lstm_np import LayerWeights, Weights
    from charlstm.model.sampling import generate
    from charlstm.text.corpus import Vocab

    rng = np.random.default_rng(0)
    vocab = Vocab.build(builtin().text)
    V, E, U = len(vocab), config.embedding, config.units
    layers, width = [], E
    for _ in range(config.layers):
        layers.append(LayerWeights(rng.normal(0, 0.1, (width, 4 * U)).astype(np.float32),
                                   rng.normal(0, 0.1, (U, 4 * U)).astype(np.float32), np.zeros(4 * U, np.float32)))
        width = U
    w = Weights(rng.normal(0, 0.1, (V, E)).astype(np.float32), tuple(layers),
                rng.normal(0, 0.1, (U, V)).astype(np.float32), np.zeros(V, np.float32))
    t0 = time.perf_counter()
    out = "".join(generate(w, vocab, "ROMEO:\n", n, temperature=0.8, seed=0))
    gen = len(out) / (time.perf_counter() - t0)
    from charlstm.insight.gates import EXAMPLE, trace_weights

    t0 = time.perf_counter()
    for _ in range(10):
        trace_weights(w, vocab, EXAMPLE)
    trace_ms = (time.perf_counter() - t0) / 10 * 1000
    return {"generate_chars_per_sec": round(gen), "trace_example_ms": round(trace_ms, 2)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--preset", default="default", choices=sorted(PRESETS))
    p.add_argument("--units", type=int)
    p.add_argument("--layers", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seq-len", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--dropout", type=float)
    p.add_argument("--skip-train", action="store_true")
    p.add_argument("--label", default="")
    args = p.parse_args()
    config = PRESETS[args.preset].replace(**{k: v for k, v in {
        "units": args.units, "layers": args.layers, "batch_size": args.batch_size, "seq_len": args.seq_len,
        "learning_rate": args.learning_rate, "dropout": args.dropout}.items() if v is not None})
    entry = {"label": args.label, "date": time.strftime("%Y-%m-%d %H:%M"), "machine": {
        "cpus": os.cpu_count(), "python": platform.python_version(), "processor": platform.machine()}}
    entry |= generation_speed(config)
    print(f"generation {entry['generate_chars_per_sec']:,} chars/s, trace {entry['trace_example_ms']} ms")
    if not args.skip_train:
        c = config
        print(f"training {c.layers}x{c.units} batch {c.batch_size} seq {c.seq_len} lr {c.learning_rate} "
              f"dropout {c.dropout} for {args.minutes} min on the built-in corpus")
        entry |= train_curve(config, args.minutes)
    append(RESULTS, entry)
    if "final_val_loss" in entry:
        print(f"\n| config | steps/s | chars/s | val loss after {args.minutes:g} min | peak RSS |")
        print(f"| {c.layers}x{c.units} b{c.batch_size} s{c.seq_len} lr{c.learning_rate} d{c.dropout} | "
              f"{entry['steps_per_sec']} | {entry['chars_per_sec']:,} | {entry['final_val_loss']} | "
              f"{entry['peak_rss_mb']} MB |")


if __name__ == "__main__":
    main()
