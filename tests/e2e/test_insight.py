"""The Insight page in a real browser, on the shipped model: attribution, components and two runs, each chart seen
and photographed (tests/artifacts/, and $CHARLSTM_SCREENSHOTS, e.g. docs/img)."""

from __future__ import annotations

import pytest

from .test_browser import PAGE_LOAD_MS, heading, no_exception, settle, shoot
from .test_units import tab

pytestmark = pytest.mark.e2e
journey = pytest.mark.journey


def chart(page, nth: int = 0):
    """The nth Altair chart, once drawn (a canvas or an svg inside it)."""
    return page.get_by_test_id("stVegaLiteChart").nth(nth).locator("canvas, svg").first


@journey
def test_each_insight_view_draws_its_chart_on_the_shipped_model(page, server):
    page.goto(f"{server.url}/insight", wait_until="domcontentloaded")
    heading(page, "Insight").wait_for(timeout=PAGE_LOAD_MS)
    settle(page)
    no_exception(page)
    assert page.get_by_role("tab", name="Attribution").get_attribute("aria-selected") == "true"
    page.locator("h3").filter(has_text="What moved").first.wait_for(timeout=PAGE_LOAD_MS)
    chart(page).wait_for(timeout=PAGE_LOAD_MS)
    for name in ("CSV", "SVG", "PNG"):  # the numbers, and the chart as a file (vl-convert, no browser needed)
        page.get_by_role("button", name=name).first.wait_for()
    shoot(page, "insight-attribution")

    tab(page, "Components", page.locator("h3").filter(has_text="components of the").first)
    chart(page).wait_for(timeout=PAGE_LOAD_MS)
    page.locator("h3").filter(has_text="The map: every character's hidden state").wait_for(timeout=PAGE_LOAD_MS)
    assert page.get_by_test_id("stVegaLiteChart").count() >= 2  # a component's strengths and the map
    shoot(page, "insight-components")

    tab(page, "Two runs", page.locator("h3").filter(has_text="Surprise, character by character").first)
    chart(page).wait_for(timeout=PAGE_LOAD_MS)
    page.locator("h3").filter(has_text="Each unit of A, its match in B").wait_for(timeout=PAGE_LOAD_MS)
    no_exception(page)
    shoot(page, "insight-two-runs")


@journey
def test_the_gates_csv_downloaded_in_the_browser_is_the_trace(page, server, tmp_path):
    """The Gates page's CSV, downloaded as a visitor downloads it, read back: one row per character, one column per
    unit, the values of the library's own trace of the same text on the shipped model."""
    import numpy as np

    from charlstm.insight.gates import trace
    from charlstm.runs.store import demo_run
    from charlstm.views.tables import read_csv

    page.goto(f"{server.url}/gates", wait_until="domcontentloaded")
    heading(page, "Gates").wait_for(timeout=PAGE_LOAD_MS)
    settle(page)
    with page.expect_download(timeout=PAGE_LOAD_MS) as download:
        page.get_by_role("button", name="CSV").first.click()
    path = tmp_path / "gates.csv"
    download.value.save_as(path)
    table = read_csv(path.read_bytes())
    demo = demo_run()
    tr = trace(demo, "Divya likes to eat. Reena is not fat.")
    last = demo.config.layers
    assert "".join(table["char"]) == tr.text and list(table["position"]) == list(range(len(tr.text)))
    values = table[[f"L{last}_forget_u{u}" for u in range(demo.config.units)]].to_numpy()
    np.testing.assert_allclose(values, tr.layers[last - 1]["forget"], rtol=1e-6, atol=1e-7)
