"""The Generate page's own speed, as a visitor sees it: characters per second for 2,000 characters.

    python bench/generate_bench.py [--length 2000] [--repeats 5]

Starts `streamlit run app.py` on a free port with an empty run store (so the active model is the one that
ships with the package), opens the Generate page in Debian's chromium (Playwright, no browser download), and
presses Generate `--repeats` times with a different seed each time. For each it reads the page's own rate
("2,000 characters in 0.12 s: 16,129 characters per second") and times the browser from the click until the
run has finished and is drawn; it also counts the pieces the text arrived in (the server's markdown deltas). The library
alone (sampling.generate on the same model, no page) is timed in this process for comparison.
Appends to bench/results/generate.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from record import append  # bench/record.py: one file per benchmark, one machine record

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from app_server import forward_msg, markdown_sent, start_app, wait_idle  # noqa: E402  (bench/ is the script's folder, first on sys.path)

RESULTS = "generate"  # bench/results/generate.json (record.py)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
RATE = re.compile(r"([\d,]+) characters in ([\d.]+) s: ([\d,]+) characters per second")


def library_rate(length: int, repeats: int) -> float:
    """chars/s of sampling.generate on the shipped model, no page: the median of `repeats`."""
    from charlstm.model.sampling import generate
    from charlstm.runs.store import demo_run

    run = demo_run()
    rates = []
    for seed in range(repeats):
        t0 = time.perf_counter()
        n = sum(1 for _ in generate(run.weights, run.vocab, "ROMEO:\n", length, 0.8, 0, seed))
        rates.append(n / (time.perf_counter() - t0))
    return statistics.median(rates)


def markdown_pieces(payload) -> int:
    """1 when this frame is a piece of the generated text (a markdown that starts with the priming text)."""
    body = markdown_sent(payload)
    return int(body is not None and body.startswith("ROMEO"))


def run_finished(payload) -> bool:
    """Whether this frame is the server saying a script run has finished."""
    msg = forward_msg(payload)
    return msg is not None and msg.WhichOneof("type") == "script_finished"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--length", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--label", default="")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    home = tempfile.mkdtemp(prefix="charlstm-bench-")
    env = {"CHARLSTM_HOME": home, "PATH": "/usr/bin:/bin", "HOME": home}
    load = [round(os.getloadavg()[0], 2)]
    shown, clicked, pieces = [], [], []
    proc, url = start_app(env, poll=0.2)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            sockets = []
            page.on("websocket", lambda ws: sockets.append(ws))
            page.goto(url + "/generate")
            page.get_by_role("button", name="Generate", exact=True).wait_for(timeout=120_000)
            wait_idle(page)
            # the page primes with a line of the run's held-out text now; the bench and library_rate use ROMEO:
            prime = page.get_by_label("Priming text", exact=True)
            prime.fill("ROMEO:\n")
            prime.press("Control+Enter")  # commit the text area's value
            page.wait_for_timeout(500)
            wait_idle(page)
            length = page.get_by_label("Length (characters)", exact=True)
            length.fill(str(args.length))
            length.press("Enter")
            page.wait_for_timeout(500)
            wait_idle(page)
            seed = page.get_by_label("Random seed", exact=True)
            for i in range(args.repeats + 1):  # the first warms the server up and is not counted
                seed.fill(str(i + 1))
                seed.press("Enter")
                page.wait_for_timeout(300)
                wait_idle(page)
                count = [0]
                ws = [w for w in sockets if "/_stcore/stream" in w.url and not w.is_closed()][-1]

                def collect(payload, count=count):
                    count[0] += markdown_pieces(payload)

                ws.on("framereceived", collect)
                with ws.expect_event("framereceived", predicate=run_finished, timeout=120_000):
                    t0 = time.perf_counter()
                    page.get_by_role("button", name="Generate", exact=True).click()
                    caption = page.get_by_text(RATE).first
                wait_idle(page, polling=50)
                wall = time.perf_counter() - t0
                ws.remove_listener("framereceived", collect)
                m = RATE.search(caption.inner_text())
                rate = int(m.group(3).replace(",", ""))
                wait_idle(page)
                print(f"{'warm-up' if i == 0 else f'run {i}'}: page says {rate:,} chars/s; click to caption "
                      f"{wall:.2f} s; {count[0]} pieces (load {os.getloadavg()[0]:.1f})", flush=True)
                if i:
                    shown.append(rate)
                    clicked.append(args.length / wall)
                    pieces.append(count[0])
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    lib = library_rate(args.length, args.repeats)
    load.append(round(os.getloadavg()[0], 2))
    entry = {"label": args.label or f"Generate page, {args.length:,} characters, shipped model",
             "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(), "load_avg": load,
             "page_chars_per_sec": shown, "page_chars_per_sec_median": statistics.median(shown),
             "click_to_caption_chars_per_sec": [round(x) for x in clicked],
             "click_to_caption_chars_per_sec_median": round(statistics.median(clicked)),
             "pieces": pieces, "library_chars_per_sec_median": round(lib)}
    print(json.dumps(entry, indent=1))
    append(RESULTS, entry)


if __name__ == "__main__":
    main()
