"""The Insight page through AppTest, on the shipped model: attribution, components, two runs; and its CSVs read back."""

from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from charlstm.insight import attribution, gates
from charlstm.runs.store import demo_run
from charlstm.views import tables


@pytest.fixture
def at(fresh_app) -> AppTest:
    fresh_app.switch_page("pages/insight.py").run()
    assert not fresh_app.exception, [e.value for e in fresh_app.exception]
    return fresh_app


def view(at: AppTest, name: str) -> AppTest:
    at.session_state["insight.view"] = name  # what a click on the tab does
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def html(at: AppTest, marker: str) -> list[str]:
    return [h.proto.body for h in at.get("html") if marker in h.proto.body]


def table(at: AppTest, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def downloads(at: AppTest) -> dict[str, str]:
    return {b.key: b.label for b in at.get("download_button")}


def test_attribution_starts_at_the_full_stop_and_asks_why_a_capital(at):
    assert [t.value for t in at.title] == ["Insight"]
    assert [t.label for t in at.tabs] == ["Attribution", "Components", "Two runs"]
    assert at.text_area(key="insight.attr_text").value == gates.EXAMPLE
    position = gates.EXAMPLE.index(". ") + 1  # the space after "eat.": the next character is "R"
    assert at.session_state["insight.attr_position"] == position
    assert at.selectbox(key="insight.attr_char").value == "R"
    assert "What moved log p\\('R' next\\) at position 19" in [s.value for s in at.subheader]
    (body,) = html(at, "charlstm-attribution")
    assert body.count("<span") == len(gates.EXAMPLE) and "not read for this target" in body  # after the position
    assert any(s.get("mark", {}).get("type") == "bar" for s in specs(at))
    run = demo_run()  # the table shows the library's own numbers
    want = attribution.attribute(run.weights, run.vocab, gates.EXAMPLE, position, attribution.Target("next", char="R"),
                                 "ig", 32, " ")
    top = table(at, "attribution")
    assert top["position"].tolist() == [t for t, _, _ in attribution.top_characters(want, 10)]
    np.testing.assert_allclose(top["attribution"], [s for _, _, s in attribution.top_characters(want, 10)], atol=1e-9)
    assert {"insight.attr_dl.csv"} <= set(downloads(at))


def test_a_units_forget_gate_is_explained_from_the_boundary_forgetter(at):
    at.radio(key="insight.attr_target").set_value("unit").run()
    assert not at.exception
    run = demo_run()
    tr = gates.trace(run, gates.EXAMPLE)
    forgetter = gates.forgetters(tr, 1, gates.EXAMPLE.index("."), k=1)[0].unit
    assert at.number_input(key="insight.attr_unit").value == forgetter
    assert any(f"unit {forgetter}'s forget gate in layer 2" in s.value for s in at.subheader)
    at.radio(key="insight.attr_method").set_value("gxi").run()
    assert not at.exception and any(s.get("mark", {}).get("type") == "bar" for s in specs(at))


def test_the_zero_baseline_says_when_its_scores_do_not_add_up(at):
    at.text_area(key="insight.attr_text").set_value(gates.PRESETS["Shakespeare"] * 3).run()
    at.selectbox(key="insight.attr_baseline").set_value("zero").run()
    assert not at.exception
    assert any("The scores miss the change by" in w.value and "zero embedding" in w.value for w in at.warning)


def test_components_factorise_a_corpus_sample_and_map_it(at):
    view(at, "Components")
    text = at.text_area(key="insight.comp_text").value
    assert len(text) == 2000  # the held-out end of tiny Shakespeare
    assert "8 components of the forget gate, layer 2 (NMF)" in [s.value for s in at.subheader]
    comps = table(at, "top units")
    assert len(comps) == 8 and comps["share"].is_monotonic_decreasing
    marks = [s.get("mark", {}).get("type") for s in specs(at)]
    assert "rect" in marks and "circle" in marks  # the heatmap and the map
    assert html(at, "charlstm-trace")  # one component as coloured text
    at.selectbox(key="insight.comp_state").set_value("cell").run()
    assert not at.exception and "8 components of the cell state, layer 2 (PCA)" in [s.value for s in at.subheader]


def test_two_runs_on_the_shipped_model_alone_compare_it_with_itself(at):
    view(at, "Two runs")
    assert any("the same model here" in i.value for i in at.info)
    matches = table(at, "mutual")
    assert len(matches) == 2 * 256 and (matches["r"] > 0.999).all()
    assert (matches["unit_a"] == matches["unit_b"]).all()
    assert any("vconcat" in s for s in specs(at))
    assert {"insight.cmp_dl.csv", "insight.cmp_dl.matches"} <= set(downloads(at))


def test_every_view_offers_its_chart_as_files(at):
    from charlstm.views.insight_charts import chart_kinds

    labels = [label for label, _, _ in chart_kinds()]
    got = downloads(at)
    assert [got[k] for k in sorted(got) if k.startswith("insight.attr_dl.") and not k.endswith(".csv")] == sorted(
        labels, key=lambda label: next(ext for lab, ext, _ in chart_kinds() if lab == label))


def test_a_csv_reads_back_as_the_trace():
    """What the downloads hold and `trace --csv` writes, read back: the trace's numbers to float32 precision."""
    run = demo_run()
    tr = gates.trace(run, "He said 'stop', 3 NA.\nShe went; - $&")  # digits, NA, a newline, a comma: as written
    back = tables.read_csv(tables.to_csv(tables.trace_table(tr)))
    assert "".join(back["char"]) == tr.text and back["position"].tolist() == list(range(len(tr.text)))
    for k in range(len(tr.layers)):
        for q in ("forget", "cell"):
            got = back[[f"L{k + 1}_{q}_u{u}" for u in range(run.config.units)]].to_numpy()
            np.testing.assert_allclose(got, tr.layers[k][q], rtol=1e-6, atol=1e-7)


def test_the_gates_heatmap_offers_its_numbers_as_csv_and_its_chart_as_files(fresh_app):
    fresh_app.switch_page("pages/gates.py").run()
    assert not fresh_app.exception
    assert downloads(fresh_app) == {"gates.dl.csv": "CSV", "gates.dl.svg": "SVG", "gates.dl.png": "PNG"}


def test_units_and_teach_offer_their_numbers_and_charts(fresh_app):
    """Every insight view takes away: the cell finder's unit, the surprise strip, a lesson's heatmap, a clamp."""
    fresh_app.switch_page("pages/units.py").run()
    assert not fresh_app.exception
    assert {"units.dl.csv", "units.dl.svg", "units.dl.png"} <= set(downloads(fresh_app))
    fresh_app.switch_page("pages/teach.py").run()
    assert not fresh_app.exception
    assert {"teach.dl.csv", "teach.dl.svg", "teach.dl.png"} <= set(downloads(fresh_app))
