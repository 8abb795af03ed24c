"""How long a deep link on a fresh server shows Streamlit's raw list of page files before the app's own navigation.

    python bench/flash_bench.py [--repeats 3]

Each repeat starts a fresh `streamlit run app.py` (no session has run st.navigation yet), opens /gates in Debian's
chromium with the recorder of tests/e2e/test_deep_link.py, and writes the milliseconds between the first list of
links drawn and the app's own (0 when only ours was ever drawn) to bench/results/flash.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from record import append  # bench/record.py: one file per benchmark, one machine record

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from app_server import start_app, wait_idle  # noqa: E402  (bench/ is the script's folder, first on sys.path)
from e2e.conftest import CHROMIUM_ARGS  # noqa: E402
from e2e.test_deep_link import RECORD_NAV_JS  # noqa: E402

RESULTS = "flash"  # bench/results/flash.json (record.py)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    shown = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as home:
                env = dict(os.environ, CHARLSTM_HOME=home, TF_CPP_MIN_LOG_LEVEL="2")
                proc, url = start_app(env)
                try:
                    ctx = browser.new_context()
                    ctx.add_init_script(RECORD_NAV_JS)
                    page = ctx.new_page()
                    page.goto(f"{url}/gates", wait_until="domcontentloaded")
                    wait_idle(page)
                    navs = page.evaluate("() => window.__navs")
                    shown.append(navs[-1]["t"] - navs[0]["t"])
                    ctx.close()
                finally:
                    proc.terminate()
                    proc.wait(timeout=30)
        browser.close()
    row = {"when": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
           "raw_list_shown_ms": shown}
    append(RESULTS, row)
    print(f"Streamlit's raw page list shown for {shown} ms before the app's navigation")


if __name__ == "__main__":
    main()
