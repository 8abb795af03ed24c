"""The Teach page in a real browser, with the shipped demo model: every view, checked and photographed.

One tab (a fresh session, so the active model is the demo) visits each view in order and photographs it into
tests/artifacts/ (and $CHARLSTM_SCREENSHOTS, e.g. docs/).
"""

from __future__ import annotations

import re

import pytest

from .test_browser import PAGE_LOAD_MS, heading, no_exception, settle, shoot
from .test_units import tab

pytestmark = pytest.mark.e2e
journey = pytest.mark.journey

STORY = "Divya likes to eat. Reena is not fat."


@journey
def test_the_three_gates(page, server):
    page.goto(f"{server.url}/teach", wait_until="domcontentloaded")
    heading(page, "Teach").wait_for(timeout=PAGE_LOAD_MS)
    settle(page)
    no_exception(page)
    heading(page, "The forget gate: let go of the old subject", 3).wait_for(timeout=PAGE_LOAD_MS)
    assert page.get_by_label("Sentence", exact=True).input_value() == STORY
    img = page.locator("img.charlstm-cell")
    img.wait_for(timeout=PAGE_LOAD_MS)
    page.wait_for_function("() => document.querySelector('img.charlstm-cell').naturalWidth > 0")  # the SVG decoded
    assert "reading “.” (position 18)" in img.get_attribute("alt")
    assert img.bounding_box()["width"] > 700  # drawn across the page, not as a thumbnail
    assert page.locator(".charlstm-trace span").count() == len(STORY)
    shoot(page, "teach-forget")

    page.get_by_test_id("stButtonGroup").get_by_text("Input gate", exact=True).click()
    heading(page, "The input gate: choose what is worth writing", 3).wait_for(timeout=PAGE_LOAD_MS)
    page.wait_for_function("() => (document.querySelector('img.charlstm-cell') || {}).alt"
                           "?.includes('reading “S”')", timeout=PAGE_LOAD_MS)
    settle(page)
    no_exception(page)
    shoot(page, "teach-input")

    page.get_by_test_id("stButtonGroup").get_by_text("Output gate", exact=True).click()
    heading(page, "The output gate: say only what the next step needs", 3).wait_for(timeout=PAGE_LOAD_MS)
    page.get_by_test_id("stVegaLiteChart").first.locator("canvas, svg").first.wait_for(timeout=PAGE_LOAD_MS)
    settle(page)
    no_exception(page)
    shoot(page, "teach-output")


@journey
def test_clamp_a_unit(page, server):
    from charlstm.insight.interventions import LINES

    tab(page, "Clamp a unit", page.get_by_test_id("stMetric").first)
    assert page.get_by_label("Text", exact=True).input_value() == LINES  # the shipped model's lesson
    page.get_by_text(re.compile(r"^What moved: “↵”, the character that comes next in the text, goes from 96\.5% "
                                r"to 0\.6%")).wait_for(timeout=PAGE_LOAD_MS)
    metrics = dict(zip(page.get_by_test_id("stMetricLabel").all_inner_texts(),
                       page.get_by_test_id("stMetricValue").all_inner_texts(), strict=True))
    assert re.fullmatch(r"\d\.\d{4} nats", metrics["How far it moved"]), metrics
    # a continuation each way, in the page (the sidebar has the workspace link in a code box too)
    assert page.get_by_test_id("stMain").get_by_test_id("stCode").count() == 2
    page.get_by_test_id("stVegaLiteChart").nth(1).locator("canvas, svg").first.wait_for(timeout=PAGE_LOAD_MS)
    assert page.get_by_text("python -m charlstm clamp RUN").count() == 1
    no_exception(page)
    shoot(page, "teach-clamp")


@journey
def test_minimal_pairs(page, server):
    tab(page, "Minimal pairs", heading(page, "The units that change most", 3))
    assert page.get_by_label("Text B", exact=True).input_value() == STORY.replace("eat.", "eat")
    assert page.get_by_test_id("stVegaLiteChart").count() == 4
    page.get_by_test_id("stDataFrame").first.locator("canvas").first.wait_for(timeout=PAGE_LOAD_MS)
    no_exception(page)
    shoot(page, "teach-pairs")


@journey
def test_how_a_unit_learns(page, server):
    tab(page, "How a unit learns", page.get_by_text("trained before charlstm kept a probe per epoch"))
    no_exception(page)
    tab(page, "The three gates", page.locator("img.charlstm-cell"))  # the lesson picked before is still there
    heading(page, "The output gate: say only what the next step needs", 3).wait_for(timeout=PAGE_LOAD_MS)
