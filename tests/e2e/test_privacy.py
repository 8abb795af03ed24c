"""Two visitors in two browser contexts on one public server (the default mode): each is private to the other.

A uploads a file whose name is Markdown and HTML and trains on it; the name is drawn as its characters.
B, in another context, cannot see A's job or run, and A's job id copied into B's address names
nothing. A's workspace link survives a reload and a deep link. B imports a bundle of A's run: it lands
in B's workspace, and again is refused; A's run is untouched. Its own server, so job numbers start at 1.
"""

from __future__ import annotations

import re
import urllib.parse

import pytest

from .conftest import VIEWPORT, running_server
from .test_browser import (
    PAGE_LOAD_MS,
    TEXT,
    TRAIN,
    TRAIN_DONE_MS,
    heading,
    no_exception,
    open_page,
    progress,
    settle,
    shoot,
    sidebar_text,
)

pytestmark = pytest.mark.e2e

EVIL = "[x](https://example.com) <img src=x onerror=alert(1)> **b**.txt"
SHOWN = EVIL.replace(":", ":\u2060")  # md() puts an invisible word joiner after ':' so GFM makes no autolink
ENDLESS = 5000


@pytest.fixture(scope="module")
def public_server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("e2e-public")) as srv:
        yield srv


def params(page) -> dict[str, str]:
    return {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query).items()}


def no_markup_from(page, where) -> None:
    """The crafted name made no link, no image and no bold text anywhere in `where`."""
    assert where.locator('a[href^="https://example.com"]').count() == 0
    assert where.locator('img[src="x"]').count() == 0
    assert where.locator("strong", has_text=re.compile(r"^b$")).count() == 0
    assert page.evaluate("() => window.__alerted === undefined")


def test_two_visitors_are_private_to_each_other(browser, public_server):
    ctx_a = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    ctx_b = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    for ctx in (ctx_a, ctx_b):
        ctx.set_default_timeout(30_000)
        ctx.add_init_script("window.alert = () => { window.__alerted = true; };")
    try:
        a, b = ctx_a.new_page(), ctx_b.new_page()
        a.goto(public_server.url, wait_until="domcontentloaded")
        heading(a, "charlstm").wait_for(timeout=PAGE_LOAD_MS)
        settle(a)
        a.wait_for_function("() => new URLSearchParams(location.search).get('ws')", timeout=PAGE_LOAD_MS)
        token_a = params(a)["ws"]
        assert len(token_a) >= 32
        assert "Public server" in sidebar_text(a)

        # A uploads a file with a crafted name: literal text on the page and in the sidebar, no markup from it
        open_page(a, "Corpus", "Corpus")
        a.get_by_test_id("stFileUploader").locator("input[type=file]").set_input_files(
            files=[{"name": EVIL, "mimeType": "text/plain", "buffer": TEXT.encode()}])
        heading(a, f"Active corpus: {SHOWN}", 3).wait_for(timeout=PAGE_LOAD_MS)
        settle(a)
        no_markup_from(a, a.locator("body"))
        assert params(a).get("ws") == token_a  # a page switch keeps the workspace in the address

        # A trains; the job's reference in the address is long and random
        open_page(a, "Train", "Train")
        a.get_by_text(f"Corpus: {SHOWN}, {len(TEXT):,} characters").wait_for()
        for label, value in {**TRAIN, "Batch size": 64, "Epochs": ENDLESS}.items():
            a.get_by_label(label, exact=True).fill(str(value))
        a.get_by_role("button", name="Start training").click()
        a.get_by_text("Started job #1.").wait_for(timeout=PAGE_LOAD_MS)
        a.wait_for_function("() => new URLSearchParams(location.search).get('job')", timeout=PAGE_LOAD_MS)
        job_a = params(a)["job"]
        assert len(job_a) >= 22 and not job_a.isdigit()
        progress(a, "p.epoch >= 2", TRAIN_DONE_MS)  # one epoch finished: cancelling keeps it
        a.get_by_text(f"Job #1: {SHOWN} · 1 × {TRAIN['Units per layer']}").wait_for()
        assert EVIL in sidebar_text(a).replace("\u2060", "")  # "Training now: <name>", as text
        no_markup_from(a, a.locator("body"))
        shoot(a, "privacy-a-training")

        # B, another browser, with A's job id copied into the address: nothing of A's
        b.goto(f"{public_server.url}/train?job={urllib.parse.quote(job_a)}", wait_until="domcontentloaded")
        heading(b, "Train").wait_for(timeout=PAGE_LOAD_MS)
        settle(b)
        no_exception(b)
        b.get_by_text("No training is running.").wait_for()
        assert params(b).get("ws") not in (None, token_a)
        assert b.get_by_role("button", name="Cancel").count() == 0
        assert b.get_by_text("Job #1").count() == 0 and "example.com" not in b.locator("body").inner_text()
        b.get_by_text(re.compile(r"busy with 1 other visitor")).wait_for()  # counts only
        b.get_by_text("No trained runs yet.", exact=False).wait_for()
        shoot(b, "privacy-b")

        # A cancels: the finished epoch is kept as A's run
        a.get_by_role("button", name="Cancel").click()
        a.get_by_text(re.compile(r"Job #1: cancelled; kept the \d+ finished epoch\(s\) as run")).wait_for(
            timeout=TRAIN_DONE_MS)
        key = re.search(r"as run ([0-9a-f]{8})", a.locator("body").inner_text()).group(1)

        # A's link, opened fresh (a reload, a bookmark): the same workspace with its run
        a.goto(f"{public_server.url}/train?ws={token_a}", wait_until="domcontentloaded")
        heading(a, "Train").wait_for(timeout=PAGE_LOAD_MS)
        settle(a)
        a.get_by_text("Stored runs").wait_for()
        assert a.get_by_text("No trained runs yet.", exact=False).count() == 0
        assert params(a).get("ws") == token_a

        # B still has no runs; B imports a bundle of A's run (same key): it lands in B's workspace only
        from charlstm.serve.settings import ServerSettings
        from charlstm.serve.workspace import Workspaces

        spaces = Workspaces(public_server.home, ServerSettings())
        (run,) = spaces.shelf(token_a).list()
        assert run.key.startswith(key)
        bundle = spaces.shelf(token_a).export_bundle(run.key)
        before = (run.path / "weights.npz").read_bytes()
        b.reload(wait_until="domcontentloaded")
        heading(b, "Train").wait_for(timeout=PAGE_LOAD_MS)
        settle(b)
        b.get_by_text("No trained runs yet.", exact=False).wait_for()
        uploader = b.get_by_test_id("stFileUploader").filter(has_text="Upload a run bundle")
        uploader.locator("input[type=file]").set_input_files(
            files=[{"name": "forged.zip", "mimeType": "application/zip", "buffer": bundle}])
        b.get_by_text(f"Imported run {key}", exact=False).wait_for(timeout=TRAIN_DONE_MS)
        settle(b)
        token_b = params(b)["ws"]
        assert [r.key for r in spaces.shelf(token_b).list()] == [run.key]
        uploader = b.get_by_test_id("stFileUploader").filter(has_text="Upload a run bundle")
        uploader.locator("input[type=file]").set_input_files(
            files=[{"name": "again.zip", "mimeType": "application/zip", "buffer": bundle}])
        b.get_by_text("already stored here; an import never replaces a run", exact=False).wait_for(
            timeout=TRAIN_DONE_MS)
        assert (run.path / "weights.npz").read_bytes() == before
        no_exception(a)
        no_exception(b)
    finally:
        ctx_a.close()
        ctx_b.close()
