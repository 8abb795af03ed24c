"""charlstm in a real browser: one person's journey through the app, against a real `streamlit run` server.

Upload a small corpus, train a tiny model in the background (reloading the page in the middle),
look at its gates, let it write, and try a bad upload. Every page is checked for a Python
traceback (stException) and photographed into tests/artifacts/ (and into $CHARLSTM_SCREENSHOTS
when it is set, e.g. CHARLSTM_SCREENSHOTS=docs/img to refresh the docs' pictures).

The tests of the journey share one tab (Streamlit keeps a session per tab) and run in order.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import make_text  # tests/conftest.py

from bench.app_server import IDLE_JS, forward_msg, markdown_sent, wait_idle  # what the browser benchmarks read too

from .conftest import ROOT, VIEWPORT, app_socket

pytestmark = pytest.mark.e2e
journey = pytest.mark.journey  # steps of one session, in order: after a failed step the rest are skipped

ARTIFACTS = ROOT / "tests" / "artifacts"
EXAMPLE = "Divya likes to eat. Reena is not fat."  # the Gates page's first example
CORPUS_NAME = "sentences.txt"
# 40,000 characters, seq len 16, batch 6: 375 steps per epoch. Two epochs train in seconds in the worker process.
TRAIN = {"Layers": 1, "Units per layer": 32, "Sequence length": 16, "Batch size": 6, "Epochs": 2}
ENDLESS = 5000  # epochs: a training that cannot end before the test cancels it (the server allows it: conftest)
PAGE_LOAD_MS = 90_000  # a fresh page on a busy 2-core machine: lazy-loaded widgets, TensorFlow imports
TRAIN_DONE_MS = 300_000

# ... and no element is marked stale (drawn faded) by a rerun in progress.
FRESH_JS = f"() => !document.querySelector('[data-stale=\"true\"]') && ({IDLE_JS})()"
# The training progress bar: its text ("Training: epoch 1/2, step 40/281 (7%)") and its value (aria-valuenow).
PROGRESS_JS = """() => {
  const el = document.querySelector('[data-testid="stProgress"]');
  if (!el) return null;
  const bar = el.querySelector('[role="progressbar"]');
  const m = el.innerText.match(/epoch (\\d+)\\/(\\d+), step ([\\d,]+)\\/([\\d,]+)/);
  const n = s => parseInt(s.replace(/,/g, ''), 10);
  return {text: el.innerText.trim(), value: bar ? Number(bar.getAttribute('aria-valuenow')) : null,
          epoch: m ? n(m[1]) : null, epochs: m ? n(m[2]) : null, step: m ? n(m[3]) : null};
}"""
# The height of an element found by XPath (and a CSS selector inside it), once it is laid out taller than h.
HEIGHT_JS = """([xpath, inner, h]) => {
  let el = document.evaluate(xpath, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
  if (el && inner) el = el.querySelector(inner);
  const height = el ? el.getBoundingClientRect().height : 0;
  return height > h ? height : false;
}"""


TEXT = make_text(40_000, seed=11)  # the same short sentences the library tests learn from


# ---- helpers
def settle(page, timeout: int = PAGE_LOAD_MS) -> None:
    """Wait until Streamlit has finished the current script run and every widget is drawn."""
    wait_idle(page, timeout)


def run_finished(payload) -> bool:
    """Whether this frame is the server saying a whole script run (not a fragment) has finished."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    msg = forward_msg(payload)
    return (msg is not None and msg.WhichOneof("type") == "script_finished"
            and msg.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY)


def rerun(page, action) -> None:
    """Do `action` (a key press, a click) and wait until the script run it causes has finished and is drawn.

    settle() alone can return before the rerun has even started, on the old page. The server's "script
    finished" message for a run that began after the action is the proof; settle() then waits for the drawing.
    """
    settle(page)  # no run in flight whose end could be taken for ours
    with app_socket(page).expect_event("framereceived", predicate=run_finished, timeout=PAGE_LOAD_MS):
        action()
    settle(page)


def laid_out_height(page, xpath: str, inner: str | None, at_least: float) -> float:
    """Wait until an element is laid out taller than `at_least` px; its height (bounding_box() is None before)."""
    handle = page.wait_for_function(HEIGHT_JS, arg=[xpath, inner, at_least], timeout=PAGE_LOAD_MS, polling=100)
    return handle.json_value()


def plain(markdown: str) -> str:
    """Undo charts.markdown_text: backslash escapes, &nbsp; at line starts, hard breaks."""
    return re.sub(r"\\(.)|&nbsp;|  \n", lambda m: m.group(1) or {"&nbsp;": " "}.get(m.group(0), "\n"),
                  markdown.replace("\u2060", ""))  # the word joiners against autolinks


def no_exception(page) -> None:
    """No Python traceback anywhere on the page."""
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, "a Python exception is shown on the page:\n" + "\n---\n".join(errors.all_inner_texts())


def heading(page, text: str, level: int = 1):
    return page.locator(f"h{level}").filter(has_text=re.compile(rf"^\s*{re.escape(text)}\s*$"))


def open_page(page, label: str, title: str) -> None:
    """Go to another page through the sidebar (the session, with its corpus and model, stays)."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=label, exact=True).click()
    heading(page, title).wait_for(timeout=PAGE_LOAD_MS)
    settle(page)
    no_exception(page)


def after_heading_xpath(subheader: str, testid: str) -> str:
    """The first element with this data-testid after an h3 (st.subheader) whose text contains `subheader`."""
    return f"//h3[contains(normalize-space(.), '{subheader}')]/following::*[@data-testid='{testid}'][1]"


def after_heading(page, subheader: str, testid: str):
    return page.locator("xpath=" + after_heading_xpath(subheader, testid))


def sidebar_text(page) -> str:
    return page.get_by_test_id("stSidebarUserContent").inner_text()


def shoot(page, name: str) -> None:
    """A full-page screenshot: Streamlit scrolls inside <main>, so grow the viewport to its height first."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout  # imported here: collecting needs no playwright

    height = page.evaluate("() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
                           " return m ? m.scrollHeight : document.body.scrollHeight; }")
    targets = [ARTIFACTS]
    if os.environ.get("CHARLSTM_SCREENSHOTS"):
        extra = Path(os.environ["CHARLSTM_SCREENSHOTS"])
        targets.append(extra if extra.is_absolute() else ROOT / extra)
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], min(int(height), 12_000))})
    try:
        try:  # between two reruns, so that no element is drawn faded as stale (the Train page reruns every second)
            page.wait_for_function(FRESH_JS, timeout=15_000, polling="raf")
        except PlaywrightTimeout:
            pass  # a picture with a faded element beats none
        data = page.screenshot(full_page=True, animations="disabled")
    finally:
        page.set_viewport_size(VIEWPORT)
    for folder in targets:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.png").write_bytes(data)


def progress(page, condition: str, timeout: int, arg=None) -> dict:
    """Wait until the progress bar satisfies a JS condition on `p` (see PROGRESS_JS), and return it."""
    page.wait_for_function(f"(arg) => {{ const p = ({PROGRESS_JS})(); return !!p && ({condition}); }}",
                           arg=arg, timeout=timeout, polling=200)
    return page.evaluate(PROGRESS_JS)


def upload_corpus(page) -> None:
    open_page(page, "Corpus", "Corpus")
    heading(page, "Active corpus: tiny Shakespeare", 3).wait_for()
    page.get_by_test_id("stFileUploader").locator("input[type=file]").set_input_files(
        files=[{"name": CORPUS_NAME, "mimeType": "text/plain", "buffer": TEXT.encode()}])
    heading(page, f"Active corpus: {CORPUS_NAME}", 3).wait_for(timeout=PAGE_LOAD_MS)
    settle(page)
    no_exception(page)


# ---- the journey
@journey
def test_home_and_corpus_upload(page, server):
    page.goto(server.url, wait_until="domcontentloaded")
    heading(page, "charlstm").wait_for(timeout=PAGE_LOAD_MS)
    settle(page)
    no_exception(page)
    assert "Active model" in sidebar_text(page)

    upload_corpus(page)

    metrics = dict(zip(page.get_by_test_id("stMetricLabel").all_inner_texts(),
                       page.get_by_test_id("stMetricValue").all_inner_texts(), strict=True))
    assert metrics.get("Characters") == f"{len(TEXT):,}", metrics
    assert metrics.get("Vocabulary") == f"{len(set(TEXT))} characters", metrics
    # the mapping table (a canvas grid) and the frequency chart under "Characters become numbers"
    table = after_heading(page, "Characters become numbers", "stDataFrame")
    table.wait_for()
    assert laid_out_height(page, after_heading_xpath("Characters become numbers", "stDataFrame"), "canvas", 100) > 100
    chart = after_heading(page, "Characters become numbers", "stVegaLiteChart")
    chart.locator("canvas, svg").first.wait_for()
    assert page.get_by_test_id("stAlertContentError").count() == 0
    shoot(page, "corpus")


@journey
def test_train_reload_cancel(page, server):
    """A training that cannot end on its own (ENDLESS epochs): watch it, reload, find it again, cancel it."""
    open_page(page, "Train", "Train")
    page.get_by_text(f"Corpus: {CORPUS_NAME}, {len(TEXT):,} characters").wait_for()
    page.get_by_text("No training is running.").wait_for()
    # one layer and smaller numbers than the fitted preset; wide batches: short epochs, so one soon finishes;
    # no early stopping (the fitted preset's), which would end this easy text's training by itself
    for label, value in {**TRAIN, "Batch size": 64, "Epochs": ENDLESS, "Early stopping (epochs)": 0}.items():
        page.get_by_label(label, exact=True).fill(str(value))
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("Started job #1.").wait_for(timeout=PAGE_LOAD_MS)
    no_exception(page)

    # the bar moves: two readings of its value, the second larger (the worker loads TensorFlow first)
    first = progress(page, "p.value > 0 && p.step !== null", TRAIN_DONE_MS)
    second = progress(page, "p.step !== arg.step || p.epoch !== arg.epoch", TRAIN_DONE_MS, first)
    assert (second["epoch"], second["step"]) > (first["epoch"], first["step"]), (first, second)
    assert second["epochs"] == ENDLESS, second
    page.get_by_text(f"Job #1: {CORPUS_NAME} · 1 × {TRAIN['Units per layer']}").wait_for()
    no_exception(page)

    # a reload starts a new session; the job runs in its own process, so it is still there, further along
    page.reload(wait_until="domcontentloaded")
    heading(page, "Train").wait_for(timeout=PAGE_LOAD_MS)
    again = progress(page, "p.epoch > arg.epoch || (p.epoch === arg.epoch && p.step > arg.step)", PAGE_LOAD_MS,
                     second)
    assert page.get_by_text(f"Job #1: {CORPUS_NAME}").count() == 1, "the running job is not shown after a reload"
    no_exception(page)

    # once an epoch has finished, cancel: the finished epoch is kept, the unfinished one rolled back
    progress(page, "p.epoch >= 2", TRAIN_DONE_MS)
    page.get_by_text("Job #1: loss so far").wait_for(timeout=PAGE_LOAD_MS)
    # the live panel shows the sample written after the last finished epoch, primed with a line of the text
    page.get_by_text(re.compile(r"^Sample after epoch \d+")).wait_for(timeout=PAGE_LOAD_MS)
    sample = page.get_by_test_id("stMain").get_by_test_id("stCode").first.inner_text()  # not the sidebar's link
    assert len(sample) >= 200 and set(sample) <= set(TEXT) | {"\n"}, sample
    shoot(page, "train-running")
    page.get_by_role("button", name="Cancel").click()
    warning = page.get_by_text(re.compile(r"Job #1: cancelled; kept the \d+ finished epoch\(s\) as run"))
    warning.wait_for(timeout=TRAIN_DONE_MS)
    page.get_by_text("No training is running.").wait_for()
    assert again["epochs"] == ENDLESS
    no_exception(page)


@journey
def test_train_to_the_end_while_watching(page, server):
    """Stay on the Train page for a whole (tiny) training: it finishes and becomes the active model."""
    upload_corpus(page)  # the reload began a new session, which starts on the built-in corpus
    open_page(page, "Train", "Train")
    page.get_by_text(f"Corpus: {CORPUS_NAME}, {len(TEXT):,} characters").wait_for()
    for label, value in TRAIN.items():
        page.get_by_label(label, exact=True).fill(str(value))
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("Started job #2.").wait_for(timeout=PAGE_LOAD_MS)
    progress(page, "p.step !== null", TRAIN_DONE_MS)  # the live panel shows it
    page.get_by_text(re.compile(r"^Job #2 finished: run .* It is now the active model\.$")).wait_for(
        timeout=TRAIN_DONE_MS)
    page.get_by_text("No training is running.").wait_for()
    assert page.get_by_test_id("stAlertContentError").count() == 0, page.get_by_test_id("stAlertContentError")\
        .all_inner_texts()
    heading(page, "Stored runs", 3).wait_for()
    after_heading(page, "Stored runs", "stDataFrame").wait_for()
    page.get_by_test_id("stSidebarUserContent").get_by_text(CORPUS_NAME).wait_for(timeout=PAGE_LOAD_MS)
    settle(page)
    side = sidebar_text(page)
    assert f"1 × {TRAIN['Units per layer']} LSTM" in side, side
    assert f"Epochs: {TRAIN['Epochs']} of {TRAIN['Epochs']}" in side, side
    assert re.search(r"Val loss: \d+\.\d{3} nats/char", side), side
    assert "Status: complete" in side, side
    assert re.search(r"Baselines: letter frequencies \d\.\d{3} · uniform guess \d\.\d{3}", side), side
    # the finished run stays on the page: its val loss beside both baselines, a verdict, its loss chart
    details = page.locator(".st-key-train-run_details")
    details.get_by_text(re.compile(r"Val loss \d\.\d{3} nats/char · letter frequencies \(unigram\) \d\.\d{3} · "
                                   r"uniform guess \d\.\d{3} \(ln \d+\): \w")).wait_for(timeout=PAGE_LOAD_MS)
    details.get_by_test_id("stVegaLiteChart").locator("canvas, svg").first.wait_for(timeout=PAGE_LOAD_MS)
    details.get_by_text(re.compile(r"^Samples, epoch by epoch \(2\)")).wait_for()
    no_exception(page)
    shoot(page, "train-finished")


@journey
def test_gates(page, server):
    open_page(page, "Gates", "Gates")
    intro = page.get_by_text("Inside the active model (").inner_text()
    assert f"({CORPUS_NAME}, 1 × {TRAIN['Units per layer']}" in intro, intro  # our model, not the shipped demo
    text = page.get_by_label("Text to trace", exact=True)
    assert text.input_value() == EXAMPLE
    assert page.get_by_text("never saw").count() == 0  # every character of the example is in our corpus
    heading(page, "Forget gate, layer 1: every unit at every character", 3).wait_for()
    heatmap = after_heading(page, "every unit at every character", "stVegaLiteChart")
    heatmap.locator("canvas, svg").first.wait_for()
    assert laid_out_height(page, after_heading_xpath("every unit at every character", "stVegaLiteChart"), None,
                           150) > 150
    page.get_by_text(f"{TRAIN['Units per layer']} units (rows) × {len(EXAMPLE)} characters (columns)").wait_for()

    heading(page, "Who forgets at the boundary", 3).wait_for()
    forgetters = after_heading(page, "Who forgets at the boundary", "stDataFrame")
    forgetters.locator("canvas").first.wait_for()
    assert page.get_by_text("There is no sentence boundary").count() == 0
    assert page.get_by_test_id("stAlertContentError").count() == 0
    no_exception(page)
    shoot(page, "gates")


PRIME = "Divya likes"


@journey
def test_generate(page, server):
    open_page(page, "Generate", "Generate")
    prime = page.get_by_label("Priming text", exact=True)
    prime.fill(PRIME)
    rerun(page, lambda: prime.press("Control+Enter"))  # commit the text area's value before clicking
    assert prime.input_value() == PRIME
    assert page.get_by_text("never saw").count() == 0
    length = page.get_by_label("Length (characters)", exact=True)

    # the longest text the page allows: it goes out in about 10 pieces (at most 1,000 characters or 0.1 s each),
    # so even this tiny model's sixth of a second reaches the browser in pieces. Read them as the server sent
    # them (the browser may draw several in one frame): every markdown whose text starts with the priming text.
    length.fill("10000")
    rerun(page, lambda: length.press("Enter"))
    sent: list[str] = []

    def collect(payload) -> None:
        body = markdown_sent(payload)
        if body is not None and body.startswith(PRIME):
            sent.append(body)

    socket = app_socket(page)
    socket.on("framereceived", collect)
    try:
        rerun(page, lambda: page.get_by_role("button", name="Generate", exact=True).click())
    finally:
        socket.remove_listener("framereceived", collect)
    caption = page.get_by_text(re.compile(r"^10,000 characters in [\d.]+ s"))
    caption.wait_for(timeout=PAGE_LOAD_MS)
    no_exception(page)
    assert sent, "the output never arrived"
    final = sent[-1]
    assert len(plain(final)) > 10_000, len(plain(final))  # the priming text, then 10,000 characters
    assert all(final.startswith(body) for body in sent), "a piece was rewritten, not extended"
    partial = [len(body) for body in sent if len(PRIME) < len(body) < len(final)]
    assert partial, (f"the text did not stream in: the pieces the server sent were {[len(b) for b in sent]} long "
                     f"({caption.inner_text()})")
    shown = page.locator(".st-key-generate-output").inner_text().replace("\xa0", " ").replace("\u2060", "")
    assert shown.split() == plain(final).split()  # what is drawn is the last piece (HTML collapses spaces)

    # a shorter one for the picture; the model continues the priming text with characters it knows
    length.fill("1200")
    rerun(page, lambda: length.press("Enter"))
    rerun(page, lambda: page.get_by_role("button", name="Generate", exact=True).click())
    page.get_by_text(re.compile(r"^1,200 characters in [\d.]+ s")).wait_for(timeout=PAGE_LOAD_MS)
    no_exception(page)
    out = page.locator(".st-key-generate-output").inner_text().replace("\xa0", " ").replace("\u2060", "").strip()
    assert len(out) > 100, out
    assert set(out) <= set(TEXT) | {"\n"}, f"characters the model never saw: {set(out) - set(TEXT)}"
    page.get_by_role("button", name="Download the text").wait_for()
    shoot(page, "generate")


def test_bad_upload_is_refused(browser, server):
    """A binary file with a .txt name: a clear message, no traceback, the corpus stays. A fresh tab and session."""
    context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    try:
        page = context.new_page()
        page.goto(f"{server.url}/corpus", wait_until="domcontentloaded")
        heading(page, "Corpus").wait_for(timeout=PAGE_LOAD_MS)
        settle(page)
        heading(page, "Active corpus: tiny Shakespeare", 3).wait_for()
        garbage = bytes(range(256)) * 16  # NUL bytes and every control character
        page.get_by_test_id("stFileUploader").locator("input[type=file]").set_input_files(
            files=[{"name": "garbage.txt", "mimeType": "text/plain", "buffer": garbage}])
        error = page.get_by_test_id("stAlertContentError")
        error.wait_for(timeout=PAGE_LOAD_MS)
        settle(page)
        message = error.inner_text()
        assert "garbage.txt was not used" in message, message
        assert "binary" in message, message
        assert "The corpus stays tiny Shakespeare" in message, message
        heading(page, "Active corpus: tiny Shakespeare", 3).wait_for()
        assert "Traceback" not in page.get_by_test_id("stMain").inner_text()
        no_exception(page)
        shoot(page, "corpus-bad-upload")
    finally:
        context.close()
