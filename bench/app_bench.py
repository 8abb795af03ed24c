"""The app as a visitor meets it: time to first render, and the server's memory while it trains.

    python bench/app_bench.py [--train-seconds 90] [--preset default]

Starts `streamlit run app.py` on a free port with an empty run store, opens it in Debian's
chromium (Playwright, no browser download), times the first page until its title is drawn,
then starts a training of the chosen preset on the built-in corpus from the Train page and
samples the server process's resident memory once a second. Appends to bench/results/app.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from record import append  # bench/record.py: one file per benchmark, one machine record

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app_server import start_app  # bench/ is the script's folder, first on sys.path

from charlstm.config import PRESETS

ROOT = Path(__file__).resolve().parents[1]
RESULTS = "app"  # bench/results/app.json (record.py)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, from /proc."""
    total = 0
    out = subprocess.run(["ps", "-o", "rss=", "--ppid", str(pid), "-p", str(pid)], capture_output=True, text=True)
    for line in out.stdout.split():
        total += int(line)
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train-seconds", type=float, default=90)
    p.add_argument("--preset", default="default")
    p.add_argument("--watch", choices=("train", "home"), default="train",
                   help="the page the browser shows while the model trains")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    home = tempfile.mkdtemp(prefix="charlstm-bench-")
    env = {"CHARLSTM_HOME": home, "PATH": "/usr/bin:/bin", "HOME": home}
    t_start = time.perf_counter()
    proc, url = start_app(env)
    try:
        server_ready = time.perf_counter() - t_start
        idle_mb = rss_mb(proc.pid)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            t0 = time.perf_counter()
            page.goto(url + "/")
            page.get_by_role("heading", name="charlstm").first.wait_for(timeout=120_000)
            first_render = time.perf_counter() - t0
            t0 = time.perf_counter()
            page.goto(url + "/gates")
            page.get_by_text("Who forgets at the boundary").first.wait_for(timeout=120_000)
            gates_render = time.perf_counter() - t0
            page.goto(url + "/train")
            page.get_by_text("Start training").first.wait_for(timeout=120_000)
            page.locator(".st-key-train-preset").click()  # Streamlit's selectbox: open, then pick
            page.locator('[role="option"]').filter(has_text=args.preset).first.click()
            page.get_by_text(f"{PRESETS[args.preset].units}", exact=False).first.wait_for(timeout=30_000)
            page.wait_for_timeout(1500)
            page.get_by_role("button", name="Start training").click()
            page.get_by_text("Training:").first.wait_for(timeout=60_000)
            if args.watch == "home":
                page.goto(url + "/")
            samples, t0 = [], time.perf_counter()
            cpu0 = cpu_seconds(proc.pid)
            while time.perf_counter() - t0 < args.train_seconds:
                samples.append(rss_mb(proc.pid))
                time.sleep(1)
            server_cpu = (cpu_seconds(proc.pid) - cpu0) / (time.perf_counter() - t0)
            if args.watch == "home":
                page.goto(url + "/train")
            progress = page.get_by_text("Training:").first.inner_text(timeout=30_000)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    entry = {"label": f"app: {args.preset} preset on tiny Shakespeare", "date": time.strftime("%Y-%m-%d %H:%M"),
             "server_ready_s": round(server_ready, 1), "first_render_s": round(first_render, 2),
             "gates_first_render_s": round(gates_render, 2), "server_idle_rss_mb": round(idle_mb),
             "server_training_rss_mb_peak": round(max(samples)), "train_seconds_sampled": args.train_seconds,
             "browser_watches": args.watch, "server_cpu_cores_busy": round(server_cpu, 2),
             "progress_at_end": progress}
    print(json.dumps(entry, indent=1))
    append(RESULTS, entry)


if __name__ == "__main__":
    main()
