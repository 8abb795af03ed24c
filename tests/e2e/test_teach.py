"""The Teach page in a real browser, with the shipped demo model: every view, checked and photographed.

The first visit a class sees: a server of its own, fresh, with nothing trained (issue 23). One tab visits each
view in order, checks that it shows what it says with the figures the library computes on the shipped files, and
photographs it into tests/artifacts/ (and $CHARLSTM_SCREENSHOTS, e.g. docs/).
"""

from __future__ import annotations

import re

import pytest

from .conftest import running_server
from .test_browser import PAGE_LOAD_MS, heading, no_exception, settle, shoot
from .test_units import choose, tab

pytestmark = pytest.mark.e2e
journey = pytest.mark.journey

STORY = "Divya likes to eat. Reena is not fat."


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A fresh server for this module alone (conftest's `page` opens its tab here): nothing trained, no run stored."""
    with running_server(tmp_path_factory.mktemp("e2e-teach")) as srv:
        assert not list(srv.home.rglob("meta.json"))
        yield srv


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
    from charlstm.insight.interventions import compare, lesson_for, moved
    from charlstm.runs.store import demo_run
    from charlstm.views.charts import glyph

    run = demo_run()
    lesson = lesson_for(run)
    m = moved(compare(run.weights, run.vocab, lesson.text, lesson.clamp, length=0), lesson.at)
    assert m.visible and abs(m.p_plain - m.p_clamped) >= 0.2  # the lesson moves the next character visibly
    tab(page, "Clamp a unit", page.get_by_test_id("stMetric").first)
    assert page.get_by_label("Text", exact=True).input_value() == lesson.text  # the shipped model's lesson
    said = (f"What moved: “{glyph(m.char)}”, the character that comes next in the text, goes from "
            f"{m.p_plain:.1%} to {m.p_clamped:.1%}")
    page.get_by_text(re.compile("^" + re.escape(said))).wait_for(timeout=PAGE_LOAD_MS)
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
    """The shipped model's probes: each lesson's unit, untrained (no pattern) to the last epoch (the lesson)."""
    from charlstm.runs.store import demo_run

    probes = demo_run().probes()
    assert probes is not None and len(probes.epochs) > 1
    last = probes.epochs[-1]
    tab(page, "How a unit learns", page.get_by_text(re.compile(r"before training$")).first)
    for j, p in enumerate(probes.probes):
        if j:
            choose(page, "Sentence", f"{p.gate.capitalize()} gate: “{' '.join(p.text.split())}”")
        f = p.focus()
        first, end = p.then(f, 0), p.then(f, len(probes.epochs) - 1)
        label = f"Layer {f.layer + 1}, unit {f.unit} "
        values = page.get_by_test_id("stMetric").filter(has_text=label)
        values.nth(1).wait_for(timeout=PAGE_LOAD_MS)
        assert values.nth(0).get_by_test_id("stMetricValue").inner_text() == f"{first.before:.2f} → {first.at:.2f}"
        assert values.nth(1).get_by_test_id("stMetricLabel").inner_text().endswith(f"after epoch {last}")
        assert values.nth(1).get_by_test_id("stMetricValue").inner_text() == f"{end.before:.2f} → {end.at:.2f}"
        # epoch by epoch, then every kept unit: both charts drawn
        charts = page.get_by_test_id("stVegaLiteChart")
        charts.nth(1).locator("canvas, svg").first.wait_for(timeout=PAGE_LOAD_MS)
        assert page.get_by_test_id("stSlider").count() == 1  # the epoch slider, 1 .. last
        settle(page)
        no_exception(page)
        shoot(page, f"teach-learns-{p.gate}")
    tab(page, "The three gates", page.locator("img.charlstm-cell"))  # the lesson picked before is still there
    heading(page, "The output gate: say only what the next step needs", 3).wait_for(timeout=PAGE_LOAD_MS)
