"""One worker against two: --strategy multiworker with two worker processes on this machine, the same small config.

    python bench/multiworker_bench.py [--chars 60000] [--epochs 3] [--layers 1] [--units 32] [--batch-size 32]

Trains the first --chars characters of the built-in corpus (by default with --layers 1 --units 32
--batch-size 32, at --seq-len 32) four ways: one process without a strategy (one TensorFlow thread,
as the app trains), the same with two threads (both cores, as two workers use), one worker under
--strategy multiworker (the strategy's own cost), and two worker processes of one cluster on two free
localhost ports (task 0 keeps the run). The global batch is the same every time, so each of the two
workers computes half of it and the two add their gradients over gRPC after every step. For every
process it records steps/s and training seconds (from its own `run ...` line), the final val loss,
its wall time, peak resident memory and CPU seconds (os.wait4). Appends to
bench/results/multiworker.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from record import append  # bench/record.py: one file per benchmark, one machine record

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from charlstm.text.corpus import load_path  # noqa: E402

RESULTS = "multiworker"  # bench/results/multiworker.json (record.py)
SEQ = 32
RUN_LINE = re.compile(r"val loss ([\d.]+) .*?([\d,]+) chars/s\s+(\d+) s")


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def run_workers(corpus: Path, args: list[str], batch: int, strategy: str, workers: int, threads: int,
                timeout: float) -> list[dict]:
    """Start the processes together and wait for them all (os.wait4: each one's peak memory and CPU time)."""
    cluster = {"worker": [f"localhost:{p}" for p in free_ports(workers)]}
    procs, t0 = [], time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="charlstm-mw-bench-"))
    for i in range(workers):
        env = dict(os.environ, PYTHONPATH=str(ROOT), CHARLSTM_TF_THREADS=str(threads))
        if strategy == "multiworker":
            env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
        out = open(tmp / f"out{i}", "w+")
        p = subprocess.Popen([sys.executable, "-m", "charlstm", "--home", str(tmp / f"home{i}"), "train", str(corpus),
                              *args, "--strategy", strategy], stdout=out, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
        procs.append((p, out))
    rows = []
    for i, (p, out) in enumerate(procs):
        deadline = t0 + timeout
        while True:  # a bounded wait: a worker whose peer died waits for ever, and ignores SIGTERM
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                for q, _ in procs:
                    q.kill()
                raise SystemExit(f"worker {i} ran past {timeout:g} s; killed")
            time.sleep(0.2)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
        out.close()
        m = RUN_LINE.search(text)
        if p.returncode != 0 or m is None:
            raise SystemExit(f"worker {i} ended with code {p.returncode}:\n{text}")
        rows.append({"worker": i, "steps_per_s": round(float(m.group(2).replace(",", "")) / (batch * SEQ), 2),
                     "train_s": int(m.group(3)), "val_loss": float(m.group(1)),
                     "wall_s": round(time.perf_counter() - t0, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024),
                     "cpu_s": round(usage.ru_utime + usage.ru_stime, 1)})
    shutil.rmtree(tmp, ignore_errors=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chars", type=int, default=60_000, help="characters of the built-in corpus to train on")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--units", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=32, help="the global batch, split over the workers")
    p.add_argument("--learning-rate", type=float, default=0.005)
    p.add_argument("--timeout", type=float, default=600, help="seconds each case may take")
    a = p.parse_args()
    corpus = Path(tempfile.mkdtemp(prefix="charlstm-mw-bench-")) / "slice.txt"
    corpus.write_text(load_path("shakespeare").text[:a.chars], encoding="utf-8")
    args = ["--layers", str(a.layers), "--units", str(a.units), "--batch-size", str(a.batch_size), "--seq-len",
            str(SEQ), "--learning-rate", str(a.learning_rate), "--epochs", str(a.epochs), "--patience", "0",
            "--seed", "0"]
    cases = {"one process, no strategy": ("none", 1, 1), "one process, 2 TF threads": ("none", 1, 2),
             "one worker, multiworker": ("multiworker", 1, 1), "two workers, multiworker": ("multiworker", 2, 1)}
    result = {"when": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
              "config": " ".join(args), "chars": a.chars, "cases": {}}
    for name, (strategy, workers, threads) in cases.items():
        result["cases"][name] = run_workers(corpus, args, a.batch_size, strategy, workers, threads, a.timeout)
    shutil.rmtree(corpus.parent, ignore_errors=True)
    result["load_average"] = round(os.getloadavg()[0], 2)
    base = result["cases"]["one process, no strategy"][0]["steps_per_s"]
    print(f"| case | worker | steps/s | × one process | train s | val loss | peak MB | CPU s |\n|{'---|' * 8}")
    for name, rows in result["cases"].items():
        for r in rows:
            print(f"| {name} | {r['worker']} | {r['steps_per_s']} | {r['steps_per_s'] / base:.2f} | {r['train_s']} | "
                  f"{r['val_loss']:.4f} | {r['peak_rss_mb']} | {r['cpu_s']} |")
    print(f"load average at the end: {result['load_average']}")
    append(RESULTS, result)


if __name__ == "__main__":
    main()
