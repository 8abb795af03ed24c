"""GPU against CPU: one epoch of the default config on the built-in corpus, on each, with chars/s and steps/s.

    python bench/gpu_bench.py [--out bench/results/gpu.json] [--legs gpu cpu] [--budget-s 600] [--changes JSON]
    KERAS_BACKEND=torch python bench/gpu_bench.py ...   # Keras 3 on PyTorch (cuDNN LSTM), no TensorFlow needed

Runs as it is on any machine with a GPU that Keras's backend can see (TensorFlow with CUDA, PyTorch
with CUDA, or JAX with CUDA). Each leg runs in a fresh process, so each picks its own device:
the GPU leg with the machine as it is, the CPU leg with CUDA_VISIBLE_DEVICES="" (and
KERAS_TORCH_DEVICE=cpu, JAX_PLATFORMS=cpu) and every CPU core. A leg that runs past --budget-s
stops early and reports the steps it did. Prints a table and the JSON (also written to --out).

The model, data and batches are charlstm's own: charlstm.model.network.build_model, charlstm.text.split.split
and epoch_batches, the same one-fit-per-epoch model.fit call the trainer makes. Tests never time;
this is where GPU speed is measured (docs/gpu.md).

Whether the cuDNN kernel really ran is read after the timed epoch, not inferred: on PyTorch the profiler counts
the `aten::_cudnn_rnn` calls of three training steps and the share of GPU time in cuDNN's RNN kernels; on JAX
the compiled gradient of the loss is searched for cuDNN's RNN custom calls (what `jax.experimental.rnn` emits).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
VAL_SEQUENCES = 512
CPU_ENV = {"CUDA_VISIBLE_DEVICES": "", "KERAS_TORCH_DEVICE": "cpu", "JAX_PLATFORMS": "cpu"}


def versions() -> dict:
    import keras
    import numpy as np

    out = {"python": platform.python_version(), "keras": keras.__version__, "numpy": np.__version__,
           "backend": keras.backend.backend()}
    if out["backend"] == "tensorflow":
        import tensorflow as tf

        out["tensorflow"] = tf.__version__
        build = tf.sysconfig.get_build_info()
        out["cuda"], out["cudnn"] = build.get("cuda_version"), build.get("cudnn_version")
    elif out["backend"] == "torch":
        import torch

        out["torch"], out["cuda"] = torch.__version__, torch.version.cuda
        out["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    elif out["backend"] == "jax":
        import jax

        out["jax"] = jax.__version__
    return out


def on_gpu() -> bool:
    """Whether Keras's backend in this process puts the model on a GPU."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_logical_devices("GPU"))
    if backend == "torch":
        from keras.src.backend.torch.core import get_device

        return str(get_device()).startswith("cuda")
    import jax

    return jax.devices()[0].platform == "gpu"


def cudnn_use(model, x, y) -> dict:
    """What the GPU ran for this model's LSTM layers, read from the backend itself (a few untimed steps)."""
    import keras

    backend = keras.backend.backend()
    if backend == "torch":
        import torch
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for _ in range(3):
                model.train_on_batch(x, y)
            torch.cuda.synchronize()
        events = prof.key_averages()

        def device_us(e) -> float:
            return float(getattr(e, "device_time_total", None) or getattr(e, "cuda_time_total", 0) or 0)

        kernels = [e for e in events if e.device_type == torch.autograd.DeviceType.CUDA]  # GPU kernels alone
        rnn = [e for e in kernels if any(w in e.key.lower() for w in ("rnn", "lstm", "cudnn"))]
        total = sum(device_us(e) for e in kernels)
        return {"how": "torch.profiler over 3 training steps",
                "cudnn_rnn_calls": {e.key: e.count for e in events if "cudnn_rnn" in e.key},
                "cudnn_kernels": sorted({e.key[:80] for e in rnn})[:8],
                "cudnn_share_of_gpu_time": round(sum(device_us(e) for e in rnn) / total, 3) if total else None}
    if backend == "jax":
        import jax

        def loss(trainable, non_trainable, xb, yb):
            out, _ = model.stateless_call(trainable, non_trainable, xb, training=True)
            return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(yb, out))

        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        text = jax.jit(jax.grad(loss)).lower(trainable, non_trainable, x, y).as_text()
        targets = Counter(re.findall(r"custom_call @(\w+)", text))
        return {"how": "custom calls in the jitted gradient of the loss (StableHLO)",
                "rnn_custom_calls": {k: n for k, n in targets.items() if "rnn" in k.lower()},
                "lstm_layers": sum(1 for layer in model.layers if type(layer).__name__ == "LSTM"),
                "while_loops": text.count("stablehlo.while")}
    return {"how": "not read on this backend"}


def leg(name: str, budget_s: float, threads: int, validate: bool, changes: dict | None = None) -> dict:
    """One epoch of the default config in this process, on whatever device this process was given."""
    import keras
    import numpy as np

    from charlstm.config import PRESETS
    from charlstm.model.devices import describe
    from charlstm.model.network import build_model, cudnn_problems
    from charlstm.text.corpus import builtin
    from charlstm.text.split import epoch_batches, split, targets_per_step, validation_data

    if keras.backend.backend() == "torch" and threads > 0:
        import torch

        torch.set_num_threads(threads)
    gpu = on_gpu()
    if name == "gpu" and not gpu:
        return {"leg": name, "skipped": "no GPU visible to Keras's " + keras.backend.backend() + " backend",
                "device": describe()}
    config = PRESETS["default"].replace(**(changes or {}))
    data = split(builtin().text, config)
    x, y = epoch_batches(data.train, config, 0)
    keras.utils.set_random_seed(config.seed)
    model = build_model(config, len(data.vocab))
    stamps: list[float] = []
    t0 = time.perf_counter()

    def after_batch(batch, logs=None):
        stamps.append(time.perf_counter())
        if stamps[-1] - t0 > budget_s:
            model.stop_training = True

    model.fit(x, y, batch_size=config.batch_size, epochs=1, shuffle=False, verbose=0,
              callbacks=[keras.callbacks.LambdaCallback(on_train_batch_end=after_batch)])
    seconds = time.perf_counter() - t0
    steps, total = len(stamps), len(x) // config.batch_size
    per_step = targets_per_step(config)
    warm = min(10, steps // 2)  # the first steps build and compile; the steady rate leaves them out
    steady_s = stamps[-1] - stamps[warm - 1] if warm else seconds
    out = {
        "leg": name, "device": describe(), "on_gpu": gpu, "cudnn_conditions_met": not cudnn_problems(model),
        "steps": steps, "steps_per_epoch": total, "partial": steps < total, "seconds": round(seconds, 2),
        "first_step_s": round(stamps[0] - t0, 3),
        "steps_per_s": round(steps / seconds, 2), "chars_per_s": round(steps * per_step / seconds),
        "steady_steps_per_s": round((steps - warm) / steady_s, 2) if steady_s > 0 else None,
        "steady_chars_per_s": round((steps - warm) * per_step / steady_s) if steady_s > 0 else None,
    }
    if gpu:
        try:
            out["cudnn"] = cudnn_use(model, x[:config.batch_size], y[:config.batch_size])
        except Exception as e:  # a reading that fails must not lose the timing above
            out["cudnn"] = {"failed": f"{type(e).__name__}: {e}"[:300]}
    out["config"] = config.to_dict()
    if validate:  # the first VAL_SEQUENCES held-out sequences: the same on both legs, quick on a CPU
        vx, vy = validation_data(data.val, config)
        out["val_loss"] = round(float(model.evaluate(vx[:VAL_SEQUENCES], vy[:VAL_SEQUENCES], batch_size=256,
                                                     verbose=0)), 4)
    out["uniform_loss"] = round(float(np.log(len(data.vocab))), 4)
    out["versions"] = versions()
    return out


def run_leg(name: str, args) -> dict:
    """A leg in a fresh process: its own device, its own memory; its JSON comes back on stdout's last line."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env.setdefault("CHARLSTM_TF_THREADS", str(args.cpu_threads))  # charlstm's default of 1 suits a shared 2-core box
    if name == "cpu":
        env.update(CPU_ENV)
    cmd = [sys.executable, __file__, "--leg", name, "--budget-s", str(args.budget_s),
           "--cpu-threads", str(args.cpu_threads if name == "cpu" else 0), "--changes", args.changes] + \
        (["--no-val"] if not args.val else [])
    t0 = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.budget_s + args.grace_s)
    except subprocess.TimeoutExpired:
        return {"leg": name, "failed": f"no result within {args.budget_s + args.grace_s:g} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"leg": name, "failed": f"exit code {done.returncode}", "stderr_tail": done.stderr[-2000:]}
    result = json.loads(lines[-1])
    result["process_s"] = round(time.perf_counter() - t0, 1)
    return result


def table(result: dict) -> str:
    rows = ["| leg | device | steps | s | steps/s | chars/s | steady chars/s | val loss |", "|" + " --- |" * 8]
    for r in result["legs"]:
        if "steps" not in r:
            rows.append(f"| {r['leg']} | {r.get('device', '')} | {r.get('skipped') or r.get('failed')} |||||")
            continue
        part = f"{r['steps']}/{r['steps_per_epoch']}" + (" (budget)" if r["partial"] else "")
        rows.append(f"| {r['leg']} | {r['device']} | {part} | {r['seconds']} | {r['steps_per_s']} | "
                    f"{r['chars_per_s']:,} | {r['steady_chars_per_s'] or 0:,} | {r.get('val_loss', '-')} |")
    if result.get("gpu_over_cpu"):
        rows.append(f"\nGPU / CPU, steady chars/s: {result['gpu_over_cpu']}×")
    return "\n".join(rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--legs", nargs="+", choices=("gpu", "cpu"), default=["gpu", "cpu"])
    p.add_argument("--budget-s", type=float, default=600,
                   help="stop a leg's epoch after this many seconds; its steady rate is measured up to there "
                        "(default: %(default)s)")
    p.add_argument("--grace-s", type=float, default=120,
                   help="seconds for a leg's start-up and validation on top (default: %(default)s)")
    p.add_argument("--cpu-threads", type=int, default=0, help="CPU leg's threads, 0: every core (default)")
    p.add_argument("--no-val", dest="val", action="store_false", help="skip the validation loss after the epoch")
    p.add_argument("--changes", default="{}", help="changes to the default config, JSON (e.g. a bigger batch)")
    p.add_argument("--out", default=None, help="also write the JSON here")
    p.add_argument("--leg", default=None, help=argparse.SUPPRESS)  # the child process's own leg
    args = p.parse_args()
    if args.leg:
        print(json.dumps(leg(args.leg, args.budget_s, args.cpu_threads, args.val, json.loads(args.changes))))
        return 0
    result = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "config": "default (2 × 128, batch "
              "128 × 32, Adam 1e-2), one epoch of the built-in corpus", "changes": json.loads(args.changes),
              "machine": {"cpus": os.cpu_count(), "processor": platform.machine(), "node": platform.node()},
              "keras_backend": os.environ.get("KERAS_BACKEND", "tensorflow"), "legs": []}
    for name in args.legs:
        result["legs"].append(run_leg(name, args))
        print(f"{name}: {json.dumps(result['legs'][-1])}", file=sys.stderr, flush=True)
    by = {r["leg"]: r for r in result["legs"]}
    if by.get("gpu", {}).get("steady_chars_per_s") and by.get("cpu", {}).get("steady_chars_per_s"):
        result["gpu_over_cpu"] = round(by["gpu"]["steady_chars_per_s"] / by["cpu"]["steady_chars_per_s"], 1)
    print(table(result))
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
