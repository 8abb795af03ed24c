"""The Units page in a real browser, with the shipped demo model: the cell finder, span search and match, surprise.

One tab (a fresh session, so the active model is the demo) visits each view in order, checks what it shows,
and photographs it into tests/artifacts/ (and $CHARLSTM_SCREENSHOTS, e.g. docs/).
"""

from __future__ import annotations

import re

import pytest
from test_units_page import library_span_units  # tests/test_units_page.py: the page's AppTest twin

from .test_browser import PAGE_LOAD_MS, heading, no_exception, open_page, settle, shoot

pytestmark = pytest.mark.e2e
journey = pytest.mark.journey

EXAMPLE = "Divya likes to eat. Reena is not fat."
SHAKESPEARE = "ROMEO:\nBut soft, what light through yonder window breaks?\n"
MARKED = ".charlstm-units-text span[style*='box-shadow']"  # labelled characters in the coloured text


def tab(page, name: str, ready) -> None:
    """Open a tab and wait for its content: a lazy tab's script run starts only after the click reaches the server."""
    page.get_by_role("tab", name=name).click()
    ready.wait_for(timeout=PAGE_LOAD_MS)
    settle(page)
    no_exception(page)


def choose(page, label: str, option: str) -> None:
    """Pick an option of the selectbox with this label."""
    page.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label, exact=True)).click()
    page.get_by_role("option", name=option, exact=True).click()
    settle(page)


@journey
def test_gates_on_the_shipped_model(page, server):
    """The Gates page as a first visitor sees it (the README's picture): the shipped model, last layer."""
    from charlstm.runs.store import demo_run

    config = demo_run().config
    page.goto(f"{server.url}/gates", wait_until="domcontentloaded")
    heading(page, "Gates").wait_for(timeout=PAGE_LOAD_MS)
    settle(page)
    intro = page.get_by_text("Inside the active model (").inner_text()
    assert f"(tiny Shakespeare, {config.layers} × {config.units}, the shipped demo)" in intro, intro
    heading(page, f"Forget gate, layer {config.layers}: every unit at every character", 3).wait_for()
    page.get_by_text(f"{config.units} units (rows) × {len(EXAMPLE)} characters (columns)").wait_for()
    heading(page, "Who forgets at the boundary", 3).wait_for()
    page.get_by_test_id("stDataFrame").first.locator("canvas").first.wait_for(timeout=PAGE_LOAD_MS)
    page.get_by_test_id("stVegaLiteChart").first.locator("canvas, svg").first.wait_for(timeout=PAGE_LOAD_MS)
    settle(page)
    no_exception(page)
    shoot(page, "gates-demo")


@journey
def test_cell_finder(page, server):
    page.goto(f"{server.url}/units", wait_until="domcontentloaded")
    heading(page, "Units").wait_for(timeout=PAGE_LOAD_MS)
    settle(page)
    no_exception(page)
    assert page.get_by_role("tab", name="Cell finder").get_attribute("aria-selected") == "true"
    heading(page, "The units that follow the label best", 3).wait_for(timeout=PAGE_LOAD_MS)
    page.get_by_text("Scored over 20,000 characters from the held-out end of tiny Shakespeare").wait_for()
    table = page.get_by_test_id("stDataFrame").first
    table.locator("canvas").first.wait_for()
    assert table.bounding_box()["height"] > 200
    text = page.locator(".charlstm-units-text")
    assert text.locator("span").count() > 400  # one coloured span per character of the excerpt
    assert page.get_by_test_id("stVegaLiteChart").count() == 2  # the scores and what the score sees
    shoot(page, "units-line-position")

    choose(page, "Label", "Start of a word")
    page.get_by_text(re.compile(r"of them \(\d+\.\d%\) are labelled")).wait_for(timeout=PAGE_LOAD_MS)
    # a bar under every labelled character of the excerpt: the first letter of each word
    page.wait_for_function(f"() => document.querySelectorAll({MARKED!r}).length > 50", timeout=PAGE_LOAD_MS)
    settle(page)
    assert page.get_by_text("area under the ROC curve").count() == 1
    no_exception(page)
    shoot(page, "units-cells")

    choose(page, "Label", "Your own regular expression…")
    box = page.get_by_label("Regular expression", exact=True)
    box.fill("(")
    box.press("Enter")
    page.get_by_text("Nothing to score: not a regular expression").wait_for(timeout=PAGE_LOAD_MS)
    no_exception(page)


@journey
def test_span_search_and_match(page, server):
    tab(page, "Span search and match", page.locator(".charlstm-span mark"))
    assert page.get_by_label("Text to trace", exact=True).input_value() == EXAMPLE
    mark = page.locator(".charlstm-span mark")
    assert mark.inner_text() == " "  # the space after "eat.", where a new sentence begins
    units = library_span_units(19, 20, 0.5)  # layer 2's hidden state on the space after "eat." only
    assert len(units) >= 2
    found = heading(page, f"{len(units)} units mark “␣”", 3)  # the page finds what the library finds
    found.wait_for(timeout=PAGE_LOAD_MS)
    heading(page, "Where else they switch on together", 3).wait_for(timeout=PAGE_LOAD_MS)
    rows = page.locator(".charlstm-matches > div")
    rows.first.wait_for(timeout=PAGE_LOAD_MS)
    assert rows.count() >= 8
    for line in rows.all_inner_texts()[:8]:  # each match is the break after a sentence's end ("sir?␣what") or a
        assert re.search(r"[.!?:]\s*\S", line.replace("\n", " ")), line  # colon (a speaker's name: "BIANCA:↵In")
    chart = page.get_by_test_id("stVegaLiteChart").first
    chart.locator("canvas, svg").first.wait_for()
    no_exception(page)
    shoot(page, "units-span")


@journey
def test_surprise(page, server):
    tab(page, "Surprise", page.locator(".charlstm-surprise"))
    assert page.get_by_label("Text to read", exact=True).input_value() == SHAKESPEARE
    strip = page.locator(".charlstm-surprise")
    strip.wait_for(timeout=PAGE_LOAD_MS)
    assert strip.locator(".col").count() == len(SHAKESPEARE)
    metrics = dict(zip(page.get_by_test_id("stMetricLabel").all_inner_texts(),
                       page.get_by_test_id("stMetricValue").all_inner_texts(), strict=True))
    assert re.fullmatch(r"\d\.\d\d nats/char", metrics["Mean surprise"]), metrics
    no_exception(page)
    shoot(page, "units-surprise")

    box = page.get_by_label("Regular expression", exact=True)
    tab(page, "Cell finder", box)  # the picks made before are still there
    assert box.input_value() == "("
    page.get_by_text("Nothing to score: not a regular expression").wait_for()
    open_page(page, "Gates", "Gates")  # ... and after a visit to another page
    open_page(page, "Units", "Units")
    box.wait_for(timeout=PAGE_LOAD_MS)
    assert box.input_value() == "("
