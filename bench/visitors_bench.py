"""Six visitors at once on one public server: how long Gates, Units and Generate take each alone and all together.

    python bench/visitors_bench.py [--visitors 6] [--rounds 2]

Starts `streamlit run app.py` (public mode, an empty run store: the shipped model is active) and opens each page
in its own browser context of Debian's chromium (Playwright, no browser download): first alone, one visitor at a
time, then `--visitors` visitors at once, each on one of the three pages in turn (two on each). A page's time is
from `goto` until its chart (Gates, Units) or its streamed text and rate (Generate) is drawn and the script run is
over. Writes bench/results/visitors.json and prints a table.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from record import append  # bench/record.py: one file per benchmark, one machine record

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from app_server import start_app, wait_idle  # noqa: E402  (bench/ is the script's folder, first on sys.path)

RESULTS = "visitors"  # bench/results/visitors.json (record.py)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PAGES = ("gates", "units", "generate")
TIMEOUT_MS = 300_000


def visit(browser, url: str, page_name: str) -> float:
    """Seconds from opening the page to its result drawn, in a fresh context (a new visitor)."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = ctx.new_page()
        t0 = time.perf_counter()
        page.goto(f"{url}/{page_name}", wait_until="domcontentloaded")
        if page_name == "generate":
            wait_idle(page, TIMEOUT_MS)
            page.get_by_role("button", name="Generate").click()
            page.get_by_text("characters per second").first.wait_for(timeout=TIMEOUT_MS)
        else:
            page.get_by_test_id("stVegaLiteChart").first.locator("canvas, svg").first.wait_for(timeout=TIMEOUT_MS)
        wait_idle(page, TIMEOUT_MS)
        return time.perf_counter() - t0
    finally:
        ctx.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--visitors", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, CHARLSTM_HOME=home, TF_CPP_MIN_LOG_LEVEL="2")
        env.pop("CHARLSTM_MODE", None)
        proc, url = start_app(env)
        alone: dict[str, list[float]] = {p: [] for p in PAGES}
        together: dict[str, list[float]] = {p: [] for p in PAGES}
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                for p in PAGES:  # warm: the first visit of each page loads its caches
                    visit(browser, url, p)
                for _ in range(args.rounds):
                    for p in PAGES:
                        alone[p].append(visit(browser, url, p))
                browser.close()
            errors: list[str] = []

            def one(i: int) -> None:
                p = PAGES[i % len(PAGES)]
                try:
                    with sync_playwright() as pw:  # Playwright's sync API: one instance per thread
                        b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                        together[p].append(visit(b, url, p))
                        b.close()
                except Exception as e:  # a visitor's failure is a result to report, not a crash of the bench
                    errors.append(f"{p}: {e}")

            for _ in range(args.rounds):
                threads = [threading.Thread(target=one, args=(i,)) for i in range(args.visitors)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                if errors:
                    raise SystemExit("visitors failed: " + "; ".join(errors))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    row = {"when": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
           "visitors": args.visitors, "rounds": args.rounds,
           "alone_s": {p: round(statistics.median(v), 2) for p, v in alone.items()},
           "together_s": {p: round(statistics.median(v), 2) for p, v in together.items()},
           "together_max_s": {p: round(max(v), 2) for p, v in together.items()}}
    append(RESULTS, row)
    print(f"{'page':<10} {'alone (median s)':>17} {f'{args.visitors} at once (median s)':>24} {'(max s)':>8}")
    for p in PAGES:
        print(f"{p:<10} {row['alone_s'][p]:>17.2f} {row['together_s'][p]:>24.2f} {row['together_max_s'][p]:>8.2f}")


if __name__ == "__main__":
    main()
