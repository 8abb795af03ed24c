"""The Units page through AppTest, with the shipped demo model: cell finder, span search and match, surprise."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from charlstm.runs.store import demo_run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo_long():
    """The shipped model's trace over the page's sample: the library's own answers, to hold the page to."""
    from charlstm.insight import find
    from charlstm.runs.store import demo_run

    run = demo_run()
    return find.trace_long(run.weights, run.vocab, find.run_sample(run, None).text)


def library_ranking(long, label: str, states=("cell", "hidden")):
    from charlstm.insight import find

    lab, y = find.label_for(long.text, label, None)
    return [(u.layer + 1, u.unit, u.state) for u in find.rank_units(long, y, lab.binary, states, k=10)]


@pytest.fixture
def at(fresh_app) -> AppTest:
    fresh_app.switch_page("pages/units.py").run()
    assert not fresh_app.exception, [e.value for e in fresh_app.exception]
    return fresh_app


def view(at: AppTest, name: str) -> AppTest:
    at.session_state["units.view"] = name  # what a click on the tab does
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def table(at: AppTest, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def html(at: AppTest, marker: str) -> list[str]:
    return [h.proto.body for h in at.get("html") if marker in h.proto.body]


def specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def test_the_cell_finder_starts_with_the_line_position_cell(at, demo_long):
    assert [t.value for t in at.title] == ["Units"]
    assert [t.label for t in at.tabs] == ["Cell finder", "Span search and match", "Surprise"]
    assert "Val loss:" in " ".join(m.value for m in at.sidebar.markdown)  # app.py's sidebar, as on every page
    assert any("python -m charlstm trace RUN --format csv" in m.value for m in at.markdown)  # gates per step: said
    ranked = table(at, "separation")
    assert len(ranked) == 10 and ranked["separation"].is_monotonic_decreasing
    assert list(zip(ranked["layer"], ranked["unit"], ranked["state"], strict=True)) == library_ranking(
        demo_long, "line-position")
    assert abs(ranked.iloc[0]["score"]) > 0.7  # the shipped model's line-position unit (layer 1 unit 85: r = -0.73)
    assert any("20,000 characters from the held-out end of tiny Shakespeare" in c.value for c in at.caption)
    assert any("correlation" in i.value for i in at.info)
    (text,) = html(at, "charlstm-units-text")
    assert text.count("<span") > 400 and "box-shadow" not in text  # a count has nothing to underline
    marks = [s.get("mark", {}).get("type") if "mark" in s else s["layer"][0]["mark"]["type"] for s in specs(at)]
    assert marks == ["bar", "area"]  # the scores, and the median value along the line


def test_a_yes_no_label_is_scored_by_auc_and_underlined(at, demo_long):
    at.selectbox(key="units.label").set_value("sentence-boundary").run()
    assert not at.exception
    ranked = table(at, "separation")
    assert list(zip(ranked["layer"], ranked["unit"], ranked["state"], strict=True)) == library_ranking(
        demo_long, "sentence-boundary")
    assert ranked.iloc[0]["separation"] > 0.95  # AUC above 0.975 or below 0.025: a sentence-boundary detector
    assert any("area under the ROC curve" in i.value for i in at.info)
    assert "box-shadow" in html(at, "charlstm-units-text")[0]
    at.radio(key="units.states").set_value("cell").run()
    assert set(table(at, "separation")["state"]) == {"cell"}


def test_quotes_and_bad_regular_expressions_get_a_clear_message(at):
    at.selectbox(key="units.label").set_value("quotes").run()
    assert any("no character of the sample is labelled" in w.value for w in at.warning)
    at.selectbox(key="units.label").set_value("regex").run()
    assert at.text_input(key="units.regex").value == r"\b[A-Z]+:"  # speakers' names, a fine first pattern
    assert not at.warning and len(table(at, "separation")) == 10
    at.text_input(key="units.regex").set_value("(").run()
    assert any("not a regular expression" in w.value for w in at.warning)
    assert not at.exception


def test_a_pattern_past_the_servers_own_cap_is_refused_in_a_sentence(at, monkeypatch):
    """CHARLSTM_MAX_PATTERN (or st.secrets) sets the cap; the box has no max_chars, so a longer paste is answered."""
    at.selectbox(key="units.label").set_value("regex").run()
    monkeypatch.setenv("CHARLSTM_MAX_PATTERN", "8")
    at.text_input(key="units.regex").set_value(r"\b[A-Z]+:").run()  # 9 characters
    warned = [w.value for w in at.warning]
    assert any("the regular expression is 9 characters; this server allows at most 8" in w for w in warned), warned
    box = at.text_input(key="units.regex")
    assert not box.max_chars and "at most 8 characters" in box.help  # a browser cap would drop it without a word
    at.text_input(key="units.regex").set_value("[A-Z]+:").run()  # 7: within the cap, scored
    assert not at.warning and len(table(at, "separation")) == 10
    assert not at.exception


def library_span_units(start: int, end: int, threshold: float) -> list[int]:
    """The units of the demo model's layer 2 whose hidden state is on through the span and off around it."""
    from charlstm.insight import find, gates
    from charlstm.runs.store import demo_run

    run = demo_run()
    values = gates.trace_weights(run.weights, run.vocab, gates.EXAMPLE).layers[1]["hidden"]
    return [f.unit for f in find.span_search(values, start, end, threshold)]


def test_span_search_finds_the_units_that_mark_a_new_sentence(at):
    view(at, "Span search and match")
    assert at.text_area(key="units.span_text").value == "Divya likes to eat. Reena is not fat."
    assert at.slider(key="units.span").value == (19, 19)
    found = table(at, "margin")
    assert list(found["unit"]) == library_span_units(19, 20, 0.5) and len(found) >= 2
    assert found["margin"].is_monotonic_decreasing
    assert any(s.get("layer") and len(s["layer"]) == 4 for s in specs(at))  # span, others, threshold, units
    (matches,) = html(at, "charlstm-matches")
    assert matches.count("at ") >= 10 and "1.00" in matches

    at.selectbox(key="units.state").set_value("forget").run()  # a forget gate letting go at the boundary
    at.toggle(key="units.below").set_value(True)
    at.slider(key="units.span").set_value((18, 18)).run()
    assert not at.exception
    assert at.slider(key="units.threshold").value == 0.5
    assert len(table(at, "margin")) >= 1

    at.slider(key="units.threshold").set_value(0.0).run()  # nothing is below 0 through the span
    assert any("No unit of layer 2" in i.value for i in at.info)


def test_a_new_text_starts_at_its_first_sentence_boundary(at):
    view(at, "Span search and match")
    at.text_area(key="units.span_text").set_value("It is late. He is tall.").run()
    assert at.slider(key="units.span").value == (11, 11)
    at.text_area(key="units.span_text").set_value("Divya <é>").run()
    assert any("“<”" in w.value and "“é”" in w.value for w in at.warning)
    at.checkbox(key="units.drop").check().run()
    assert not at.exception
    kept = "".join(c for c in "Divya <é>" if c in demo_run().vocab.stoi)  # what the model reads once they are dropped
    assert len(kept) < len("Divya <é>")
    assert at.slider(key="units.span").max == len(kept) - 1  # the span view traced the text without them


def test_surprise_under_every_character(at):
    view(at, "Surprise")
    text = at.text_area(key="units.surprise_text").value
    assert text.startswith("ROMEO:")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Mean surprise"].endswith("nats/char") and 1.0 < float(metrics["Mean surprise"].split()[0]) < 3
    (strip,) = html(at, "charlstm-surprise")
    assert strip.count('class="col"') == len(text)
    at.selectbox(key="units.surprise_example").set_value("Counting").run()
    assert at.text_area(key="units.surprise_text").value.startswith("one two three")


def test_the_views_remember_their_settings(at):
    at.selectbox(key="units.label").set_value("vowel").run()
    view(at, "Surprise")
    view(at, "Cell finder")
    assert at.selectbox(key="units.label").value == "vowel"


def test_a_run_without_its_corpus_says_so(at, tmp_path, trained_run, monkeypatch):
    monkeypatch.setenv("CHARLSTM_MODE", "personal")  # a run put in the home folder, as the command line does
    home = tmp_path / "home"  # the fixture's store: copy in a run, without the corpus it was trained on
    shutil.copytree(trained_run.path, home / "runs" / trained_run.key)
    at.session_state["active_run_key"] = trained_run.key
    at.run()
    assert any("not stored on this server" in i.value for i in at.info)
    view(at, "Surprise")  # needs no corpus; this model's small vocabulary cannot read Shakespeare's capitals
    assert any("never saw" in w.value for w in at.warning)
    at.text_area(key="units.surprise_text").set_value("It is late. He is tall.").run()
    (strip,) = html(at, "charlstm-surprise")
    assert strip.count('class="col"') == len("It is late. He is tall.")
