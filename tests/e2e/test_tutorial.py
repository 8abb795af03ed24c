"""The classic tutorial's own model in a real browser: train the preset briefly, then open its Gates and Generate.

One tab, in order (the journey marker skips the rest after a failed step). The preset's sizes are
overridden in the form (16 units, one epoch, a few thousand characters) so it trains in seconds.
"""

from __future__ import annotations

import re

import pytest
from conftest import make_text  # tests/conftest.py

from .test_browser import (
    PAGE_LOAD_MS,
    TRAIN_DONE_MS,
    after_heading,
    heading,
    no_exception,
    open_page,
    rerun,
    settle,
    shoot,
)

pytestmark = pytest.mark.e2e
journey = pytest.mark.journey

PRESET = "the tutorial, exactly"
CORPUS_NAME = "tutorial.txt"
TEXT = make_text(4000, seed=12)  # short sentences; the preset lowercases them
UNITS = 16
REREAD = "Re-read the last 50 characters (the tutorial)"
STATEFUL = "Carry its memory along (stateful)"


def expect():
    from playwright.sync_api import expect as _expect  # imported here: collecting needs no playwright

    return _expect


@journey
def test_train_the_tutorial_preset(page, server):
    page.goto(server.url, wait_until="domcontentloaded")
    heading(page, "charlstm").wait_for(timeout=PAGE_LOAD_MS)
    settle(page)
    open_page(page, "Corpus", "Corpus")
    page.get_by_test_id("stFileUploader").locator("input[type=file]").set_input_files(
        files=[{"name": CORPUS_NAME, "mimeType": "text/plain", "buffer": TEXT.encode()}])
    heading(page, f"Active corpus: {CORPUS_NAME}", 3).wait_for(timeout=PAGE_LOAD_MS)
    settle(page)

    open_page(page, "Train", "Train")
    page.get_by_test_id("stSelectbox").filter(has_text="Preset").click()
    page.get_by_role("option", name=PRESET, exact=True).click()
    units = page.get_by_label("Units per layer", exact=True)
    expect()(units).to_have_value("300")  # the preset filled the form
    expect()(page.get_by_label("Sequence length", exact=True)).to_have_value("50")
    expect()(page.get_by_label("Embedding size", exact=True)).to_have_value("1")
    page.get_by_text("The classic tutorial's own model: every window of 50 characters").wait_for()
    settle(page)
    for label, value in {"Units per layer": UNITS, "Batch size": 32, "Epochs": 1}.items():
        page.get_by_label(label, exact=True).fill(str(value))
    page.get_by_role("button", name="Start training").click()
    # one epoch of 4,000 characters is about 110 steps: the form warns, and offers the fitted settings
    page.get_by_text(re.compile(r"^Not started yet: 1 epoch of this text")).wait_for(timeout=PAGE_LOAD_MS)
    page.get_by_role("button", name="Start anyway").click()
    page.get_by_text(re.compile(r"^Started job #\d+\.")).wait_for(timeout=PAGE_LOAD_MS)
    page.get_by_text(re.compile(r"^Job #\d+ finished: run .* It is now the active model\.$")).wait_for(
        timeout=TRAIN_DONE_MS)
    assert page.get_by_test_id("stAlertContentError").count() == 0
    side = page.get_by_test_id("stSidebarUserContent")  # the new run is the active model
    expect()(side).to_contain_text(f"Corpus: {CORPUS_NAME}", timeout=PAGE_LOAD_MS)
    expect()(side).to_contain_text(f"Model: 2 × {UNITS} LSTM")
    settle(page)
    no_exception(page)


@journey
def test_gates_of_a_tutorial_run(page, server):
    open_page(page, "Gates", "Gates")
    intro = page.get_by_text("Inside the active model (").inner_text()
    assert f"({CORPUS_NAME}, 2 × {UNITS}" in intro, intro
    note = page.get_by_text("This run was trained the classic tutorial's way")
    note.wait_for()
    assert "starts from an empty state at the start of every window (characters 1, 51, 101" in note.inner_text()
    assert page.get_by_text("never saw").count() == 0  # the example, lowercased, is all in the vocabulary
    heading(page, "Forget gate, layer 2: every unit at every character", 3).wait_for()
    heatmap = after_heading(page, "every unit at every character", "stVegaLiteChart")
    heatmap.locator("canvas, svg").first.wait_for()
    page.get_by_text(f"{UNITS} units (rows) × 37 characters (columns)").wait_for()
    heading(page, "What the model expects next", 3).wait_for()
    no_exception(page)
    shoot(page, "tutorial-gates")


@journey
def test_generate_from_a_tutorial_run(page, server):
    open_page(page, "Generate", "Generate")
    reread = page.get_by_role("radio", name=REREAD)
    expect()(reread).to_be_checked()  # the tutorial's way by default...
    temperature = page.get_by_test_id("stSlider").filter(has_text="Temperature").get_by_role("slider")
    expect()(temperature).to_have_value("0")  # ... and greedy
    page.get_by_text("Re-reading, as the tutorial does, starts from an empty memory").wait_for()

    prime = page.get_by_label("Priming text", exact=True)
    prime.fill("divya likes to eat. reena is not fat. the cat sat on the mat. ")
    prime.press("Control+Enter")  # commit the text area's value, and let that rerun end before the next widget
    settle(page)
    length = page.get_by_label("Length (characters)", exact=True)
    length.fill("200")
    length.press("Enter")
    settle(page)
    expect()(length).to_have_value("200")
    page.get_by_role("button", name="Generate", exact=True).click()
    page.get_by_text(re.compile(r"^200 characters in [\d.]+ s")).wait_for(timeout=PAGE_LOAD_MS)
    settle(page)
    no_exception(page)
    reread_text = page.locator(".st-key-generate-output").inner_text()
    reread_text = reread_text.replace("\xa0", " ").replace("\u2060", "").strip()
    assert set(reread_text) <= set(TEXT.lower()) | {"\n"}, set(reread_text) - set(TEXT.lower())
    shoot(page, "tutorial-generate")

    # the alternative: one step per character, the memory carried on. Each action waits for the script run it
    # causes to finish (rerun): the old text and caption are still on the page until then
    rerun(page, lambda: page.get_by_text(STATEFUL).click())
    expect()(page.get_by_role("radio", name=STATEFUL)).to_be_checked()
    rerun(page, lambda: page.get_by_role("button", name="Generate", exact=True).click())
    page.get_by_text(re.compile(r"^200 characters in [\d.]+ s")).wait_for(timeout=PAGE_LOAD_MS)
    no_exception(page)
    stateful_text = page.locator(".st-key-generate-output").inner_text().replace("\xa0", " ").replace("\u2060", "")
    stateful_text = stateful_text.strip()
    assert len(stateful_text) > 60 and set(stateful_text) <= set(TEXT.lower()) | {"\n"}
    expect()(page.get_by_role("radio", name=STATEFUL)).to_be_checked()  # the text above was written this way


@journey
def test_home_shows_the_measured_comparison(page, server):
    open_page(page, "Home", "charlstm")
    section = page.get_by_test_id("stExpander").filter(has_text="Why the classic tutorial learns slowly")
    section.get_by_text("Why the classic tutorial learns slowly").click()
    section.locator("table").filter(has_text="targets/s").wait_for()
    chart = section.get_by_test_id("stVegaLiteChart")
    chart.locator("canvas, svg").first.wait_for()
    assert chart.bounding_box()["height"] > 150
    page.get_by_text("Targets per window:").wait_for()
    no_exception(page)
    shoot(page, "tutorial-home")
