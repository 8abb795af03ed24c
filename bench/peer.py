"""charlstm and its PyTorch reference side by side, in one run: steps/s, and val loss after the same time.

    python bench/peer.py [--rate-seconds 60] [--default-minutes 5] [--best-minutes 10] [--rounds 2]
    python bench/peer.py --medians 3   # the medians of the last three full runs, from bench/results/peer.json
    make bench-peer      # makes the benchmark venv (requirements-bench.txt: torch) and runs this

The two sides take turns, never at once (these machines have 2 cores); each side runs in a process of its own
so that neither's threads or memory touch the other's. Three comparisons:

1. optimizer steps/s on the identical config (charlstm's default, bench/torch_ref.py's "identical"), each
   side `--rate-seconds` of training after a warm-up, in `--rounds` alternating turns;
2. the validation loss after `--default-minutes` of training on that config;
3. the validation loss after `--best-minutes` of each side's best config: charlstm's BEST (below) and the
   PyTorch char-rnn peer (2 x 256, embedding 64, batch 32 x 64, Adam 3e-3).

The clocks count training (for charlstm its whole `Trainer`: model.fit, callbacks, tracing), never validation.
charlstm trains with this process's Python (needs TensorFlow); the reference with --torch-python (needs torch).
Appends to bench/results/peer.json and prints a markdown table with the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from record import append  # bench/record.py: one file per benchmark, one machine record

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = "peer"  # bench/results/peer.json (record.py)


# charlstm's best config for a 10-minute budget on these machines, one thread: the char-rnn peer's size (2 x 256,
# embedding 64, batch 32 x 64) with less dropout (0.1: ten minutes is about eight epochs, too few to overfit much),
# Adam 5e-3 and char-rnn's learning_rate_decay of 0.85 after every epoch. One 10-minute screen, 2026-12-04: 1.482
# (bench/results/levers.json). The earlier best, the default model without dropout and with the same decay,
# levelled off at 1.573 after 4 minutes: 2 x 128 has too little room.
BEST = {"layers": 2, "units": 256, "embedding": 64, "dropout": 0.1, "seq_len": 64, "batch_size": 32,
        "learning_rate": 0.005, "lr_decay": 0.85}


def make_config(changes: dict):
    """charlstm's default Config with `changes`; lr_decay, where this Config has no such field, set aside."""
    from charlstm.config import Config

    changes = dict(changes)
    decay = 1.0 if "lr_decay" in Config.__dataclass_fields__ else changes.pop("lr_decay", 1.0)
    return Config(**changes).replace(epochs=10_000), decay  # the clock ends the run, not the epochs


def charlstm_side(changes: dict, minutes: float, warmup: int, eval_every: float) -> dict:
    """Train a charlstm config on the built-in corpus through its own Trainer for `minutes` of training time."""
    from charlstm.text.corpus import builtin
    from charlstm.training.trainer import Trainer

    config, decay = make_config(changes)
    budget = minutes * 60
    clock = {"base": 0.0, "t0": 0.0, "limit": float("inf")}

    def over() -> bool:
        return clock["base"] + time.perf_counter() - clock["t0"] >= clock["limit"]

    tr = Trainer(builtin(), config, should_stop=over, probe=None)
    tr.build()
    if warmup:  # trace and warm up on a few steps that are not counted (the rate comparison only)
        clock["t0"], clock["limit"] = time.perf_counter(), 0.0
        tr.fit_epoch(config.epochs - 1)
        tr.steps_done = 0
    clock["limit"], tr.t0 = budget, time.perf_counter()
    points, epoch, next_eval = [], 0, eval_every
    while clock["base"] < budget:
        clock["t0"] = time.perf_counter()
        if hasattr(tr, "set_epoch_rate"):  # the Trainer's own learning-rate decay (Config.lr_decay)
            tr.set_epoch_rate(epoch)
        elif decay != 1.0:
            tr.model.optimizer.learning_rate = config.learning_rate * decay ** epoch
        tr.fit_epoch(epoch)
        clock["base"] += time.perf_counter() - clock["t0"]
        epoch += 1
        if clock["base"] >= next_eval or clock["base"] >= budget:
            val = float(tr.model.evaluate(tr.vx, tr.vy, batch_size=256, verbose=0))
            points.append({"seconds": round(clock["base"], 1), "steps": tr.steps_done, "val_loss": round(val, 4)})
            print(f"  charlstm {clock['base']:6.0f} s {tr.steps_done:6d} steps  val {val:.4f}", file=sys.stderr,
                  flush=True)
            while next_eval <= clock["base"]:
                next_eval += eval_every
    s = clock["base"]
    return {"config": config.replace(epochs=epoch).to_dict() | {"lr_decay": decay} if decay != 1.0 else
            config.replace(epochs=epoch).to_dict(), "minutes": minutes, "steps": tr.steps_done,
            "seconds": round(s, 1), "steps_per_sec": round(tr.steps_done / s, 2),
            "val_loss": points[-1]["val_loss"], "curve": points}


def child(cmd: list[str], label: str) -> dict:
    print(f"{label} ...", flush=True)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if out.returncode:
        sys.exit(f"error: {label} failed (exit {out.returncode})")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{label}: {res['steps']} steps, {res['steps_per_sec']} steps/s, val {res.get('val_loss')}  "
          f"({time.perf_counter() - t0:.0f} s wall, load {os.getloadavg()[0]:.1f})", flush=True)
    return res | {"load_after": round(os.getloadavg()[0], 2)}


def ours(changes: dict, minutes: float, warmup: int = 0, eval_every: float = 60.0) -> list[str]:
    return [sys.executable, __file__, "--child", json.dumps({"changes": changes, "minutes": minutes, "warmup": warmup,
                                                              "eval_every": eval_every})]


TORCH_THREADS = 1  # set in main from --torch-threads


def theirs(py: str, config: str, minutes: float, warmup: int = 0, eval_every: float = 60.0) -> list[str]:
    return [py, str(ROOT / "bench" / "torch_ref.py"), "--config", config, "--minutes", str(minutes),
            "--warmup", str(warmup), "--eval-every", str(eval_every), "--threads", str(TORCH_THREADS)]


def mean_rate(entry: dict, side: str) -> float:
    """One side's steps/s in an entry's rate test, the mean of its turns."""
    turns = entry["rate"][side]
    return sum(x["steps_per_sec"] for x in turns) / len(turns)


def table(entry: dict) -> str:
    r, d, b = entry["rate"], entry["default"], entry["best"]
    ours_rate, their_rate = mean_rate(entry, "charlstm"), mean_rate(entry, "torch")
    rows = [
        "| comparison | charlstm | PyTorch | ratio (charlstm / PyTorch) |",
        "| --- | --- | --- | --- |",
        f"| optimizer steps/s, identical config (2 × 128, batch 128 × 32, Adam 1e-2), mean of {len(r['torch'])} "
        f"turns | {ours_rate:.2f} | {their_rate:.2f} | {ours_rate / their_rate:.2f}× |",
        f"| val loss after {d['minutes']:g} min, identical config (steps) | {d['charlstm']['val_loss']:.3f} "
        f"({d['charlstm']['steps']:,}) | {d['torch']['val_loss']:.3f} ({d['torch']['steps']:,}) | "
        f"{d['charlstm']['val_loss'] - d['torch']['val_loss']:+.3f} nats |",
        f"| val loss after {b['minutes']:g} min, each side's best config (steps) | {b['charlstm']['val_loss']:.3f} "
        f"({b['charlstm']['steps']:,}) | {b['torch']['val_loss']:.3f} ({b['torch']['steps']:,}) | "
        f"{b['charlstm']['val_loss'] - b['torch']['val_loss']:+.3f} nats |",
    ]
    return "\n".join(rows)


def medians(entries: list[dict]) -> dict:
    """The medians of full side-by-side runs (rate, default and best each), and each run's figures."""
    from statistics import median

    rows = {
        "steps/s ratio, identical config (rate turns)": [mean_rate(e, "charlstm") / mean_rate(e, "torch")
                                                         for e in entries],
        "steps/s ratio, identical config (5-minute runs)": [e["default"]["charlstm"]["steps_per_sec"] /
                                                            e["default"]["torch"]["steps_per_sec"] for e in entries],
        "val loss after 5 min, charlstm default": [e["default"]["charlstm"]["val_loss"] for e in entries],
        "val loss after 5 min, PyTorch identical": [e["default"]["torch"]["val_loss"] for e in entries],
        "5-min difference, charlstm - PyTorch": [e["default"]["charlstm"]["val_loss"] -
                                                 e["default"]["torch"]["val_loss"] for e in entries],
        "val loss after 10 min, charlstm best": [e["best"]["charlstm"]["val_loss"] for e in entries],
        "val loss after 10 min, PyTorch char-rnn peer": [e["best"]["torch"]["val_loss"] for e in entries],
        "steps/s ratio, best configs (same size)": [e["best"]["charlstm"]["steps_per_sec"] /
                                                    e["best"]["torch"]["steps_per_sec"] for e in entries],
    }
    return {k: {"median": round(median(v), 4), "runs": [round(x, 4) for x in v]} for k, v in rows.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate-seconds", type=float, default=60.0, help="training seconds per turn of the rate test")
    p.add_argument("--rounds", type=int, default=2, help="alternating turns of each side in the rate test")
    p.add_argument("--default-minutes", type=float, default=5.0)
    p.add_argument("--best-minutes", type=float, default=10.0)
    p.add_argument("--best", default=json.dumps(BEST), help="charlstm's best config: changes to the default, JSON")
    p.add_argument("--eval-every", type=float, default=60.0, help="training seconds between validations")
    p.add_argument("--torch-python", default=sys.executable, help="a Python with torch (bench/torch_ref.py)")
    p.add_argument("--torch-threads", type=int, default=1,
                   help="PyTorch's intra-op threads (charlstm trains on one: CHARLSTM_TF_THREADS); 0: PyTorch's own")
    p.add_argument("--label", default="")
    p.add_argument("--backend", choices=("tensorflow", "jax"), default=os.environ.get("KERAS_BACKEND", "tensorflow"),
                   help="Keras's backend for charlstm's side (jax: pip install jax; the trainer is the same)")
    p.add_argument("--rate-only", action="store_true", help="only the steps/s comparison (minutes, not an hour)")
    p.add_argument("--no-save", action="store_true", help="print only; leave bench/results/peer.json alone")
    p.add_argument("--medians", type=int, metavar="N",
                   help="train nothing: print the medians of the last N full runs in bench/results/peer.json")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(charlstm_side(**json.loads(args.child))))
        return
    if args.medians:
        from record import load

        full = [e for e in load(RESULTS) if "best" in e][-args.medians:]
        print(json.dumps({"runs": [e["date"] for e in full]} | medians(full), indent=1))
        return
    tp = args.torch_python
    global TORCH_THREADS
    TORCH_THREADS = args.torch_threads
    entry = {"label": args.label, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
             "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "processor": platform.machine(),
                         "load_avg_start": [round(x, 2) for x in os.getloadavg()],
                         "charlstm_tf_threads": os.environ.get("CHARLSTM_TF_THREADS", "1"),
                         "torch_threads": args.torch_threads or "default", "keras_backend": args.backend}}
    os.environ["KERAS_BACKEND"] = args.backend  # charlstm's children inherit it
    rate_min = args.rate_seconds / 60
    entry["rate"] = {"seconds": args.rate_seconds, "charlstm": [], "torch": []}
    for i in range(args.rounds):
        entry["rate"]["charlstm"].append(child(ours({}, rate_min, warmup=5, eval_every=1e9),
                                               f"rate, turn {i + 1}: charlstm default"))
        entry["rate"]["torch"].append(child(theirs(tp, "identical", rate_min, warmup=5, eval_every=1e9),
                                            f"rate, turn {i + 1}: PyTorch identical"))
    if args.rate_only:
        ours_rate, their_rate = mean_rate(entry, "charlstm"), mean_rate(entry, "torch")
        print(f"\nsteps/s, identical config: charlstm ({args.backend}) {ours_rate:.2f}, PyTorch {their_rate:.2f}: "
              f"{ours_rate / their_rate:.2f}x")
        entry["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
        if not args.no_save:
            append(RESULTS, entry)
        return
    ev = args.eval_every
    entry["default"] = {"minutes": args.default_minutes,
                        "charlstm": child(ours({}, args.default_minutes, eval_every=ev), "charlstm default"),
                        "torch": child(theirs(tp, "identical", args.default_minutes, eval_every=ev),
                                       "PyTorch identical")}
    entry["best"] = {"minutes": args.best_minutes,
                     "charlstm": child(ours(json.loads(args.best), args.best_minutes, eval_every=ev),
                                       f"charlstm best {args.best}"),
                     "torch": child(theirs(tp, "peer", args.best_minutes, eval_every=ev), "PyTorch char-rnn peer")}
    entry["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    print("\n" + table(entry))
    if not args.no_save:
        append(RESULTS, entry)


if __name__ == "__main__":
    main()
