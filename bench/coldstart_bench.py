"""A cold public server: seconds to the first readable page and to the first gate heatmap, and its peak memory.

    python bench/coldstart_bench.py [--visitors 6] [--layers 3 --units 512 --seq-len 128 --batch-size 64]

Starts `streamlit run app.py` in public mode (CHARLSTM_MODE=public, an empty run store: the shipped model is
active) with Chromium already open, and times from the server's start: its health check answering, the home
page readable (its title and first paragraph drawn), and the Gates page's heatmap drawn (opened next, as a
teacher would). Then it starts one training at the public caps on the Train page (by default 3 x 512 at batch
64 x 128 characters, the largest the default server allows: estimated 1,462 MB) and, while it trains, sends
--visitors visitors at once to Gates, Units and Teach (two each). Every 0.2 s it reads VmRSS and VmHWM (peak
resident memory) from /proc for the server and for each process it started (the training worker). Writes
bench/results/coldstart.json and prints the figures. Targets (issue 23): the heatmap within 10 s of a cold
start; the server under 2 GB, Community Cloud's room. Takes two to four minutes on 2 CPUs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from record import append  # bench/record.py: one file per benchmark, one machine record

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from app_server import free_port, wait_idle  # noqa: E402  (bench/ is the script's folder, first on sys.path)

RESULTS = "coldstart"  # bench/results/coldstart.json (record.py)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 300_000
VIEWPORT = {"width": 1400, "height": 1000}


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process in kB ({} once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {k: int(v) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", text, re.M)}


def descendants(pid: int) -> list[int]:
    """Every living process below pid."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


class Memory(threading.Thread):
    """Samples the server's and its children's memory until stopped; keeps the peaks."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every, self.stop = pid, every, threading.Event()
        self.server_hwm = self.server_rss = self.total_rss = 0
        self.child_hwm: dict[int, int] = {}  # pid -> its peak, for each process the server started

    def run(self) -> None:
        while not self.stop.is_set():
            s = status_kb(self.pid)
            if not s:
                return
            self.server_hwm, self.server_rss = max(self.server_hwm, s["VmHWM"]), max(self.server_rss, s["VmRSS"])
            total = s["VmRSS"]
            for c in descendants(self.pid):
                cs = status_kb(c)
                if cs:
                    total += cs["VmRSS"]
                    self.child_hwm[c] = max(self.child_hwm.get(c, 0), cs["VmHWM"])
            self.total_rss = max(self.total_rss, total)
            self.stop.wait(self.every)


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen, str, float]:
    """The server in its own process group, its URL and the seconds until its health check answered."""
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = t0 + 120
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the Streamlit server exited with code {proc.returncode} before it answered")
        with contextlib.suppress(OSError):
            if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                return proc, url, t0
        time.sleep(0.05)
    raise RuntimeError("the Streamlit server did not answer within 120 s")


def stop_server(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=15)
            return
        except subprocess.TimeoutExpired:
            continue


def drawn(page, name: str) -> None:
    """Wait until a page's first result is drawn: a chart (Gates, Units) or the cell diagram (Teach)."""
    if name == "teach":
        page.locator("img.charlstm-cell").first.wait_for(timeout=TIMEOUT_MS)
    else:
        page.get_by_test_id("stVegaLiteChart").first.locator("canvas, svg").first.wait_for(timeout=TIMEOUT_MS)


def start_training(browser, url: str, settings: dict[str, int]) -> float:
    """Fill the Train form with settings and start it; seconds until the worker reports a training step."""
    ctx = browser.new_context(viewport=VIEWPORT)
    page = ctx.new_page()
    page.goto(f"{url}/train", wait_until="domcontentloaded")
    wait_idle(page, TIMEOUT_MS)
    for label, value in settings.items():
        page.get_by_label(label, exact=True).fill(str(value))
    t0 = time.perf_counter()
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("Started job #1.").wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function("""() => { const el = document.querySelector('[data-testid="stProgress"]');
        return !!el && /step [1-9]/.test(el.innerText); }""", timeout=TIMEOUT_MS, polling=500)
    return time.perf_counter() - t0  # the context stays open: the visitor keeps watching their training


def visit(url: str, name: str, times: dict, errors: list) -> None:
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as pw:  # Playwright's sync API: one instance per thread
            b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = b.new_context(viewport=VIEWPORT).new_page()
            t0 = time.perf_counter()
            page.goto(f"{url}/{name}", wait_until="domcontentloaded")
            drawn(page, name)
            wait_idle(page, TIMEOUT_MS)
            times.setdefault(name, []).append(round(time.perf_counter() - t0, 2))
            b.close()
    except Exception as e:  # a visitor's failure is a result to report, not a crash of the bench
        errors.append(f"{name}: {type(e).__name__}: {str(e)[:300]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--visitors", type=int, default=6)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--units", type=int, default=512)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from charlstm.config import Config
    from charlstm.serve.limits import Limits, estimate_training_mb

    settings = {"Layers": args.layers, "Units per layer": args.units, "Sequence length": args.seq_len,
                "Batch size": args.batch_size, "Epochs": 20}
    config = Config(layers=args.layers, units=args.units, seq_len=args.seq_len, batch_size=args.batch_size)
    refused = Limits().problems(config)
    if refused:
        raise SystemExit("the public server would refuse this training: " + "; ".join(refused))
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as home, sync_playwright() as pw:
        env = dict(os.environ, CHARLSTM_HOME=home, CHARLSTM_MODE="public", TF_CPP_MIN_LOG_LEVEL="2")
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)  # warm, not timed
        proc, url, t0 = start_server(env)
        memory = Memory(proc.pid)
        memory.start()
        try:
            up = time.perf_counter() - t0
            page = browser.new_context(viewport=VIEWPORT).new_page()
            page.goto(url, wait_until="domcontentloaded")
            page.locator("h1").filter(has_text="charlstm").wait_for(timeout=TIMEOUT_MS)
            page.get_by_text("A lab for").first.wait_for(timeout=TIMEOUT_MS)
            home_s = time.perf_counter() - t0
            opened = time.perf_counter()
            page.goto(f"{url}/gates", wait_until="domcontentloaded")
            drawn(page, "gates")
            heatmap_s, heatmap_after_open_s = time.perf_counter() - t0, time.perf_counter() - opened
            wait_idle(page, TIMEOUT_MS)
            demo_loaded_kb = memory.server_hwm  # the demo traced and drawn, nothing else yet
            step_s = start_training(browser, url, settings)
            times: dict[str, list[float]] = {}
            errors: list[str] = []
            names = ("gates", "units", "teach")
            threads = [threading.Thread(target=visit, args=(url, names[i % 3], times, errors))
                       for i in range(args.visitors)]
            tv = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            visitors_s = time.perf_counter() - tv
            time.sleep(1.0)  # one more reading of the worker, still training
        finally:
            memory.stop.set()
            memory.join(timeout=5)
            stop_server(proc)
            browser.close()
    mb = lambda kb: round(kb / 1024, 1)  # noqa: E731
    workers = sorted(memory.child_hwm.values(), reverse=True)
    row = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "load_average_at_start": load,
        "niceness": os.nice(0),  # the server inherits it: under `nice` on a busy machine every figure is slower
        "cold_start_s": {"server_answers": round(up, 2), "home_readable": round(home_s, 2),
                         "gate_heatmap": round(heatmap_s, 2)},
        "gate_heatmap_after_opening_gates_s": round(heatmap_after_open_s, 2),
        "training": {**{k: v for k, v in config.to_dict().items() if k in ("layers", "units", "seq_len",
                                                                             "batch_size")},
                     "estimated_mb": estimate_training_mb(config), "first_step_after_start_s": round(step_s, 1)},
        "visitors": args.visitors, "visitor_s": times, "visitors_all_drawn_s": round(visitors_s, 1),
        "errors": errors,
        "memory_mb": {"server_peak_with_demo_loaded": mb(demo_loaded_kb),
                      "server_peak": mb(memory.server_hwm),
                      "worker_peaks": [mb(w) for w in workers],
                      "all_processes_peak_rss_at_once": mb(memory.total_rss)},
        "targets": {"gate_heatmap_s": 10, "server_peak_mb": 2048},
    }
    append(RESULTS, row)
    c, m = row["cold_start_s"], row["memory_mb"]
    print(f"cold start: server answers {c['server_answers']:.1f} s, home readable {c['home_readable']:.1f} s, "
          f"gate heatmap {c['gate_heatmap']:.1f} s ({row['gate_heatmap_after_opening_gates_s']:.1f} s after "
          "opening Gates)")
    print(f"memory: server {m['server_peak_with_demo_loaded']:.0f} MB with the demo loaded, "
          f"{m['server_peak']:.0f} MB at its peak; training worker(s) {m['worker_peaks']} MB; "
          f"everything at once {m['all_processes_peak_rss_at_once']:.0f} MB")
    print(f"visitors: {times} (all drawn in {visitors_s:.1f} s){'; errors: ' + '; '.join(errors) if errors else ''}")


if __name__ == "__main__":
    main()
