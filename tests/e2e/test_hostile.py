"""Two visitors on one server, one of them hostile: what the first types or uploads never stalls the second, and
never costs the server more than a fixed amount of memory.

Visitor A types patterns that make Python's re backtrack for ever, an invalid one and long ones (within and past
the server's cap) on the Units page, and uploads zip bombs on the Train page; visitor B's Gates page renders its
heatmap in between, each wait bounded. The server's peak memory while it refuses the bombs is read from /proc
(VmHWM, reset first).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bundles import bomb  # tests/bundles.py

from charlstm.serve.limits import Limits

from .conftest import VIEWPORT
from .test_browser import PAGE_LOAD_MS, heading, no_exception, settle, shoot
from .test_units import choose

pytestmark = pytest.mark.e2e

PATTERNS = [  # (pattern, what visitor A is told)
    ("(.|.)*X", "no character of the sample is labelled “Matches /(.|.)*X/”"),  # exponential for Python's re
    ("(", "Nothing to score: not a regular expression this server can run: missing ): ("),
    (r"(?<=\.)\s", "lookaround and backreferences are not supported"),
    ("(?:[a-z]+ )*" * 16 + "X", "no character of the sample is labelled"),  # 193 characters, still linear
    ("(?:[a-z]+ )*" * 25 + "X",  # 301: past the server's cap (the box has no max_chars, so the server answers)
     f"the regular expression is 301 characters; this server allows at most {Limits().max_pattern}"),
]
MAX_EXTRA_MB = 100  # the server's peak over its resting memory while it refuses a bomb


def gates_renders(page, url: str) -> None:
    """Visitor B: a fresh load of Gates draws its heatmap (bounded wait: a stalled server fails here)."""
    page.goto(f"{url}/gates", wait_until="domcontentloaded")
    heading(page, "Gates").wait_for(timeout=PAGE_LOAD_MS)
    page.get_by_test_id("stVegaLiteChart").first.locator("canvas, svg").first.wait_for(timeout=PAGE_LOAD_MS)
    no_exception(page)


def shows(page, text: str) -> None:
    """Wait until the page's main area shows text (md()'s invisible word joiners after ':' ignored)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout  # here: without Playwright the module skips

    try:
        page.wait_for_function("t => document.querySelector('[data-testid=stMain]').innerText"
                               ".replaceAll('\\u2060', '').includes(t)", arg=text, timeout=PAGE_LOAD_MS)
    except PlaywrightTimeout:
        shown = page.get_by_test_id("stMain").inner_text().replace("\u2060", "")
        raise AssertionError(f"within {PAGE_LOAD_MS / 1000:.0f} s the page never said {text!r}; it shows:\n"
                             f"{shown[-1500:]}") from None


def memory_kb(pid: int) -> dict[str, int]:
    with open(f"/proc/{pid}/status") as f:
        return {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in f) if k in ("VmRSS", "VmHWM")}


def test_a_hostile_visitor_stalls_no_one_and_gets_a_sentence_for_each_attempt(browser, server, record_property):
    ctx_a = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    ctx_b = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    try:
        a, b = ctx_a.new_page(), ctx_b.new_page()
        gates_renders(b, server.url)
        a.goto(f"{server.url}/units", wait_until="domcontentloaded")
        heading(a, "The units that follow the label best", 3).wait_for(timeout=PAGE_LOAD_MS)
        settle(a)
        choose(a, "Label", "Your own regular expression…")
        box = a.get_by_label("Regular expression", exact=True)
        for pattern, says in PATTERNS:
            box.fill(pattern)
            box.press("Enter")
            gates_renders(b, server.url)  # meanwhile, the other visitor's page renders
            shows(a, says)
            settle(a)
            no_exception(a)
        shoot(a, "units-hostile-pattern")

        a.goto(f"{server.url}/train", wait_until="domcontentloaded")
        heading(a, "Train").wait_for(timeout=PAGE_LOAD_MS)
        settle(a)
        pid = server.proc.pid
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak (VmHWM) to the present
        rest = memory_kb(pid)["VmRSS"]
        uploader = a.get_by_test_id("stFileUploader").filter(has_text="Upload a run bundle")
        big = "'meta.json' inside the bundle is 1,573 MB uncompressed; the limit is 200 MB a file"
        for name, data, says in (("bomb.zip", bomb(), big), ("liar.zip", bomb(lie=True), "meta.json")):
            uploader.locator("input[type=file]").set_input_files(
                files=[{"name": name, "mimeType": "application/zip", "buffer": data}])
            message = a.get_by_test_id("stAlertContentError").filter(has_text=f"{name} was not imported")
            message.wait_for(timeout=PAGE_LOAD_MS)
            text = message.inner_text().replace("\u2060", "")  # md()'s word joiners against autolinks
            assert "not a charlstm bundle" in text and says in text, text
            assert "Traceback" not in text and str(server.home) not in text and "/tmp" not in text, text
            gates_renders(b, server.url)
        peak = memory_kb(pid)["VmHWM"]
        extra_mb = (peak - rest) / 1024
        record_property("server_extra_mb_refusing_bombs", round(extra_mb, 1))
        assert extra_mb < MAX_EXTRA_MB, (f"refusing two zip bombs ({len(bomb()) / 1e6:.1f} MB, inflating to 1.5 GB) "
                                         f"took the server from {rest / 1024:.0f} MB to a peak of {peak / 1024:.0f} MB:"
                                         f" {extra_mb:.0f} MB more, over the {MAX_EXTRA_MB} MB allowed")
        no_exception(a)
        shoot(a, "train-bomb-refused")
    finally:
        ctx_a.close()
        ctx_b.close()
