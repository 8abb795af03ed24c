"""Training speed in the app, with Chromium showing the Train page all the way, against the command line.

    python bench/worker_bench.py [--default-epochs 1] [--threads 1,2] [--out bench/results/worker.json]

For each case (the quick demo preset, and the default config for --default-epochs, once per
TensorFlow thread count in --threads) it trains on the built-in corpus twice, in one run:
  - `python -m charlstm train shakespeare ...` (in-process training), and
  - the app: a real `streamlit run app.py`, Debian's chromium (Playwright) opens the Train page,
    picks the preset, starts the training and stays on the Train page until the job has finished.
Steps/s come from each run's own record (meta.json: chars/s over batch × sequence length), so
both sides are measured the same way. It also samples the server process alone (not its
workers): resident memory before, during and after the training, and its CPU time while the
browser watches (the live panel's cost). Results go to --out and are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app_server import start_app, wait_idle  # noqa: E402  (bench/ is the script's folder, first on sys.path)

from charlstm.config import PRESETS  # noqa: E402
from charlstm.runs.store import RunStore  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def rss_mb(pid: int) -> float:
    """Resident memory of one process (not its children), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (all its threads, none of its children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def browser_cpu_seconds() -> float:
    """User + system CPU time so far of every Chromium process (the renderer that draws the page among them)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if "(chromium" in text or "(chrome" in text:
            fields = text.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def steps_per_s(run) -> float:
    return run.meta["chars_per_sec"] / (run.config.batch_size * run.config.seq_len)


def cli_train(preset: str, epochs: int | None, threads: int) -> dict:
    home = tempfile.mkdtemp(prefix="charlstm-bench-cli-")
    cmd = [sys.executable, "-m", "charlstm", "--home", home, "train", "shakespeare", "--preset", preset]
    if epochs:
        cmd += ["--epochs", str(epochs)]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=dict(os.environ, CHARLSTM_TF_THREADS=str(threads)))
    wall = time.perf_counter() - t0
    (run,) = RunStore(home).list()
    shutil.rmtree(home, ignore_errors=True)
    return {"steps_per_s": round(steps_per_s(run), 2), "wall_s": round(wall, 1),
            "train_s": run.meta["train_seconds"], "val_loss": round(run.val_loss, 4)}


class App:
    """A real server and a real browser tab on its Train page."""

    def __init__(self, threads: int):
        self.home = tempfile.mkdtemp(prefix="charlstm-bench-app-")
        env = dict(os.environ, CHARLSTM_HOME=self.home, CHARLSTM_TF_THREADS=str(threads), CHARLSTM_MAX_EPOCHS="10000")
        self.proc, self.url = start_app(env)

    def train(self, browser, preset: str, epochs: int | None) -> dict:
        from playwright.sync_api import expect

        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(self.url + "/train")
        page.get_by_label("Units per layer", exact=True).wait_for(timeout=120_000)
        for _ in range(5):  # Streamlit's selectbox: open it, then pick (a click during a rerun can be lost)
            page.locator(".st-key-train-preset").get_by_role("combobox").click()
            option = page.get_by_role("option", name=preset, exact=True)
            try:
                option.click(timeout=5_000)
                break
            except Exception:
                page.keyboard.press("Escape")
        wait_idle(page)
        # a locator, not an element handle: the rerun that applies the preset may draw a new input element
        expect(page.get_by_label("Units per layer", exact=True)).to_have_value(str(PRESETS[preset].units),
                                                                               timeout=60_000)
        if epochs:
            page.get_by_label("Epochs", exact=True).fill(str(epochs))
            page.get_by_label("Epochs", exact=True).press("Enter")
        wait_idle(page)  # the preset's rerun is over: a click during a rerun can be lost
        rss_before = rss_mb(self.proc.pid)
        page.get_by_role("button", name="Start training").click()
        anyway = page.get_by_role("button", name="Start anyway")
        started = page.get_by_text("Training:").first
        try:
            started.or_(anyway).first.wait_for(timeout=120_000)
            if anyway.is_visible():  # fewer than about 300 steps (the default config for 1 epoch): train it as asked
                wait_idle(page)
                anyway.click()
            started.wait_for(timeout=120_000)
        except Exception:
            shot = Path(tempfile.gettempdir()) / "worker_bench_failed.png"
            page.screenshot(path=str(shot), full_page=True)
            raise RuntimeError(f"the training did not start; the page is in {shot}:\n"
                               + page.get_by_test_id("stMain").inner_text()[:3000]) from None
        cpu0, t0, peak, browser0 = cpu_seconds(self.proc.pid), time.perf_counter(), 0.0, browser_cpu_seconds()
        done = page.get_by_text("finished: run").first
        while not done.is_visible():  # the browser stays on the Train page all the way
            peak = max(peak, rss_mb(self.proc.pid))
            page.wait_for_timeout(500)
        watched = time.perf_counter() - t0
        server_cpu = cpu_seconds(self.proc.pid) - cpu0
        browser_cpu = browser_cpu_seconds() - browser0
        page.wait_for_timeout(5000)  # the worker has exited: what does the server keep?
        rss_after = rss_mb(self.proc.pid)
        page.close()
        run = max(RunStore(self.home).list(), key=lambda r: r.meta["created"])
        return {"steps_per_s": round(steps_per_s(run), 2), "train_s": run.meta["train_seconds"],
                "val_loss": round(run.val_loss, 4), "server_rss_mb_before": round(rss_before),
                "server_rss_mb_peak": round(peak), "server_rss_mb_after": round(rss_after),
                "server_cpu_ms_per_s_watching": round(1000 * server_cpu / watched),
                "browser_cpu_ms_per_s_watching": round(1000 * browser_cpu / watched)}

    def panel_cost(self, browser, seconds: float = 15) -> dict:
        """Server CPU per second while a training runs, with the browser on the Train page and then on Home."""
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(self.url + "/train")
        page.get_by_label("Epochs", exact=True).fill("1000")  # quick demo, long enough for both windows
        page.get_by_role("button", name="Start training").click()
        page.get_by_text("Training:").first.wait_for(timeout=120_000)
        page.get_by_text("loss so far").first.wait_for(timeout=120_000)
        out = {}
        for where in ("train", "home"):
            if where == "home":
                page.goto(self.url + "/")
                page.get_by_text("Training now").first.wait_for(timeout=60_000)
            cpu0, t0 = cpu_seconds(self.proc.pid), time.perf_counter()
            page.wait_for_timeout(seconds * 1000)
            out[f"server_cpu_ms_per_s_{where}"] = round(1000 * (cpu_seconds(self.proc.pid) - cpu0)
                                                        / (time.perf_counter() - t0))
        page.goto(self.url + "/train")
        page.get_by_role("button", name="Cancel").click()
        page.get_by_text("No training is running.").wait_for(timeout=120_000)
        page.close()
        # one refresh a second of the panel, and one every 5 s of the chart
        out["panel_refresh_ms"] = round((out["server_cpu_ms_per_s_train"] - out["server_cpu_ms_per_s_home"]) / 1.2)
        return out

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        shutil.rmtree(self.home, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--default-epochs", type=int, default=1, help="epochs of the default config (8 take ~5 min)")
    p.add_argument("--threads", default="1,2", help="TensorFlow intra-op threads to try for the default config")
    p.add_argument("--out", default=str(Path(__file__).with_name("results") / "worker.json"))
    p.add_argument("--panel-cost", action="store_true", help="also measure the live panel's server CPU per refresh")
    p.add_argument("--panel-only", action="store_true", help="only that")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    cases = [] if args.panel_only else [("quick demo", None, 1)] + [
        ("default", args.default_epochs, int(t)) for t in args.threads.split(",")]
    rows, panel = [], None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        if args.panel_cost or args.panel_only:
            app = App(1)
            try:
                panel = app.panel_cost(browser)
            finally:
                app.close()
            print(json.dumps(panel), flush=True)
        for preset, epochs, threads in cases:
            cli = cli_train(preset, epochs, threads)
            app = App(threads)
            try:
                seen = app.train(browser, preset, epochs)
            finally:
                app.close()
            row = {"preset": preset, "epochs": epochs or PRESETS[preset].epochs, "tf_threads": threads,
                   "cli": cli, "app": seen, "app_over_cli": round(seen["steps_per_s"] / cli["steps_per_s"], 2)}
            print(json.dumps(row), flush=True)
            rows.append(row)
        browser.close()
    entry = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{os.cpu_count()} cores",
             "load_avg_at_end": os.getloadavg(), "rows": rows, "panel": panel}
    out = Path(args.out)
    history = json.loads(out.read_text()) if out.exists() else []
    out.write_text(json.dumps([*history, entry], indent=1) + "\n")
    print("\n| config | TF threads | CLI steps/s | app steps/s (Train page open) | app / CLI | server RSS after |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['preset']}, {r['epochs']} epoch(s) | {r['tf_threads']} | {r['cli']['steps_per_s']} | "
              f"{r['app']['steps_per_s']} | {r['app_over_cli']}× | {r['app']['server_rss_mb_after']} MB |")


if __name__ == "__main__":
    main()
