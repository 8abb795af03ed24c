"""The fair queue under load: the server side's memory while 20 visitors submit a training at the same moment.

    python bench/queue_bench.py

Runs the load test `tests/test_fair_queue.py::test_twenty_visitors_at_once_the_queue_cap_holds` (20 simulated
visitors submit at once through one JobManager with a queue of 8) and writes what it measured: the resident memory
of the process holding the manager (the server's side) before, at most during and after, and the peak of the one
worker process at a time, to bench/results/queue.json. The test asserts the queue's behaviour; these figures
are kept here, since a busy machine moves them.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

from record import append  # bench/record.py: one file per benchmark, one machine record

ROOT = Path(__file__).resolve().parents[1]
RESULTS = "queue"  # bench/results/queue.json (record.py)


def main() -> None:
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-o", "addopts=",
                        "tests/test_fair_queue.py::test_twenty_visitors_at_once_the_queue_cap_holds"],
                       cwd=ROOT, capture_output=True, text=True, timeout=900)
    m = re.search(r"RSS (\d+) MB before, at most (\d+) MB during, (\d+) MB after; worker peak (\d+) MB", r.stdout)
    if r.returncode != 0 or m is None:
        raise SystemExit(f"the load test did not pass or print its figures:\n{r.stdout[-3000:]}")
    before, during, after, worker = map(int, m.groups())
    row = {"when": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
           "load_average": os.getloadavg()[0], "server_rss_mb": {"before": before, "peak": during, "after": after},
           "worker_peak_rss_mb": worker}
    append(RESULTS, row)
    print(f"server side: {before} MB before, at most {during} MB during, {after} MB after; worker peak {worker} MB")


if __name__ == "__main__":
    main()
