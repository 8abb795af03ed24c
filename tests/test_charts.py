"""The app's chart builders and HTML renderings: right encodings, right data, safe HTML."""

from __future__ import annotations

import json
import random
import re

import altair as alt
import numpy as np
import pytest

from charlstm.text.corpus import Vocab, char_table
from charlstm.views import charts


def spec(chart) -> dict:
    return chart.to_dict()


def layer_values(d: dict) -> list[dict]:
    """Rows of a spec whose data Altair inlined (as a named dataset or as values)."""
    if "values" in d.get("data", {}):
        return d["data"]["values"]
    return next(iter(d["datasets"].values()))


# ---- heatmap
def test_heatmap_encodes_position_unit_and_value_with_a_fixed_scale():
    text = "ab c\n"
    values = np.linspace(0, 1, 5 * 3).reshape(5, 3)  # (T, units)
    d = spec(charts.heatmap(values, text, "forget", (0.0, 1.0)))
    assert d["mark"]["type"] == "rect"
    enc = d["encoding"]
    assert (enc["x"]["field"], enc["x"]["type"]) == ("pos", "ordinal")
    assert (enc["y"]["field"], enc["y"]["type"]) == ("unit", "ordinal")
    assert enc["color"]["field"] == "value"
    assert enc["color"]["scale"]["domain"] == [0.0, 1.0]
    # literal names, not charts.SEQUENTIAL: white (closed) to dark blue (open), as activation_color draws it
    assert enc["color"]["scale"]["scheme"] == "blues" and not enc["color"]["scale"].get("reverse")
    assert [t["field"] for t in enc["tooltip"]] == ["char", "pos", "unit", "value"]
    rows = layer_values(d)
    assert len(rows) == 15
    assert rows[3 * 2 + 1] == {"pos": 2, "char": "␣ space", "unit": 1, "value": pytest.approx(values[2, 1], abs=1e-4)}
    # the axis shows each position's character: a Vega array literal indexed by the position
    expr = enc["x"]["axis"]["labelExpr"]
    labels = json.loads(expr[:expr.index("[datum.value]")])
    assert labels == ["a", "b", "␣", "c", "↵"]


def test_heatmap_of_tanh_values_is_diverging_around_zero():
    d = spec(charts.heatmap(np.zeros((2, 2)), "hi", "cell", (-1.0, 1.0)))
    scale = d["encoding"]["color"]["scale"]
    assert scale["domain"] == [-1.0, 1.0] and scale["domainMid"] == 0.0
    assert scale["scheme"] == charts.DIVERGING and scale["clamp"] is True
    # Vega's "redblue" runs red to blue; reversed, it is blue below zero and red above, as activation_color draws it
    assert (scale["scheme"], scale["reverse"]) == ("redblue", True)


def test_a_large_heatmap_renders_through_streamlits_arrow_path():
    """10,240 rectangles, over Altair's default 5,000 rows: Streamlit's own converter has no limit."""
    from streamlit.elements.vega_charts import _convert_altair_to_vega_lite_spec

    values = np.random.default_rng(0).random((40, 256))
    chart = charts.heatmap(values, "x" * 40, "input", (0.0, 1.0))
    converted = _convert_altair_to_vega_lite_spec(chart)
    assert converted["mark"]["type"] == "rect" and len(converted["datasets"]) == 1
    with alt.data_transformers.disable_max_rows():
        assert len(layer_values(spec(chart))) == 40 * 256


def test_labels_with_quotes_stay_a_valid_expression():
    text = 'a"\'\\b'
    expr = spec(charts.heatmap(np.zeros((len(text), 1)), text, "input", (0, 1)))["encoding"]["x"]["axis"]["labelExpr"]
    assert json.loads(expr[:expr.index("[datum.value]")]) == list(text)


# ---- corpus and training charts
def test_char_frequency_sorts_by_count_and_carries_the_table():
    rows = char_table(Vocab.build("aaab b\n"))
    d = spec(charts.char_frequency(rows))
    assert d["mark"]["type"] == "bar"
    assert d["encoding"]["x"]["field"] == "char" and d["encoding"]["x"]["sort"] == "-y"
    assert d["encoding"]["y"]["field"] == "count"
    data = layer_values(d)
    assert [r["char"] for r in data] == ["a", "b", "␣ space", "↵ newline"]
    assert [r["count"] for r in data] == [3, 2, 1, 1]


def test_loss_curves_have_a_training_and_a_validation_series():
    d = spec(charts.loss_curves([(1, 4.0), (2, 3.5), (3, 3.2)], [(3, 3.3)], steps_per_epoch=3))
    rows = layer_values(d)
    assert {r["series"] for r in rows} == {"training", "validation"}
    assert [r["loss"] for r in rows if r["series"] == "validation"] == [3.3]
    assert len(d["layer"]) == 2
    assert d["layer"][0]["encoding"]["x"]["title"] == "step (3 per epoch)"


def test_loss_curves_accept_an_empty_curve():
    assert layer_values(spec(charts.loss_curves([], []))) == []


# ---- gate charts
def layer(T=6, units=4, seed=0):
    rng = np.random.default_rng(seed)
    return {g: rng.random((T, units)) for g in ("input", "forget", "candidate", "output", "cell", "hidden")}


def test_mean_activation_averages_over_units_and_marks_boundaries():
    lay = layer()
    d = spec(charts.mean_activation(lay, "ab. cd", boundaries=[2]))
    rules, lines = d["layer"]
    assert rules["mark"]["type"] == "rule"
    assert lines["mark"]["type"] == "line"
    data = d["datasets"]
    rule_rows = next(v for v in data.values() if v and "label" in v[0])
    assert [r["pos"] for r in rule_rows] == [2]
    line_rows = next(v for v in data.values() if v and "gate" in v[0])
    forget = [r["mean"] for r in line_rows if r["gate"] == "forget gate"]
    assert forget == pytest.approx(lay["forget"].mean(axis=1), abs=1e-4)


def test_forgetters_chart_sorts_units_by_drop():
    rows = [{"unit": 7, "before": 0.9, "at": 0.2, "drop": 0.7}, {"unit": 3, "before": 0.5, "at": 0.4, "drop": 0.1}]
    d = spec(charts.forgetters_chart(rows))
    assert d["encoding"]["x"]["field"] == "drop"
    assert d["encoding"]["y"]["sort"] == "-x"
    assert [r["unit"] for r in layer_values(d)] == ["unit 7", "unit 3"]


def test_saturation_chart_has_one_panel_per_gate():
    sat = {g: (np.array([0.1, 0.5]), np.array([0.8, 0.0])) for g in ("input", "forget", "output")}
    d = spec(charts.saturation_chart(sat))
    assert [p["title"] for p in d["hconcat"]] == ["input gate", "forget gate", "output gate"]
    points = d["hconcat"][0]["layer"][1]
    assert points["mark"]["type"] == "circle"
    assert (points["encoding"]["x"]["field"], points["encoding"]["y"]["field"]) == ("low", "high")


def test_next_char_chart_highlights_the_actual_next_character():
    d = spec(charts.next_char_chart([("e", 0.5), (" ", 0.3), ("a", 0.2)], actual=" "))
    rows = layer_values(d)
    assert [(r["char"], r["actual"]) for r in rows] == [("e", False), ("␣ space", True), ("a", False)]
    assert d["encoding"]["x"]["scale"]["domain"] == [0, 1]


# ---- HTML
def test_colored_text_escapes_everything():
    text = '<script>alert("x")</script>&'
    out = charts.colored_text_html(text, np.linspace(0, 1, len(text)), (0.0, 1.0))
    assert "<script" not in out and "</script" not in out
    assert "&lt;" in out and "&gt;" in out and "&amp;" in out
    assert out.count("<span") == len(text)
    assert 'title="&lt; · position 0' in out


def test_colored_text_keeps_line_breaks_visible_and_checks_lengths():
    out = charts.colored_text_html("a\nb", [0.0, 0.5, 1.0], (0.0, 1.0))
    assert "↵\n" in out
    with pytest.raises(ValueError):
        charts.colored_text_html("ab", [0.1], (0.0, 1.0))


def test_activation_colours_follow_the_scale():
    assert charts.activation_color(0.0, (0.0, 1.0))[0] == "rgb(255,255,255)"
    assert charts.activation_color(1.0, (0.0, 1.0)) == ("rgb(8,81,156)", "#ffffff")
    assert charts.activation_color(5.0, (-1.0, 1.0))[0] == "rgb(178,24,43)"  # clamped, red above zero
    assert charts.activation_color(-1.0, (-1.0, 1.0))[0] == "rgb(33,102,172)"  # blue below
    assert charts.activation_color(0.0, (-1.0, 1.0))[0] == "rgb(255,255,255)"


def test_context_and_legend_are_escaped():
    out = charts.context_html("<b>x</b> y", 3)
    assert "<b>" not in out and "&lt;b" in out
    assert "&lt;" in charts.color_legend_html((0, 1), "<i>")


# ---- text helpers
def test_visible_maps_each_character_to_one_glyph():
    assert charts.visible("a b\n\tc") == "a␣b↵⇥c"
    assert len(charts.visible("x \n")) == 3


def test_markdown_text_escapes_and_keeps_lines():
    md, start = charts.markdown_text("*hi* [x](y) #1\n  two")
    assert md == "\\*hi\\* \\[x\\]\\(y\\) \\#1  \n&nbsp;&nbsp;two"
    assert start is False
    # state carries across chunks: a chunk that starts a line keeps its leading spaces
    first, start = charts.markdown_text("end\n")
    assert first == "end  \n"
    second, _ = charts.markdown_text(" x", start)
    assert start is True and second == "&nbsp;x"
    assert charts.markdown_text(" x", False)[0] == " x"


def test_markdown_text_makes_no_autolinks():
    """GFM links bare URLs, e-mail addresses and www. names even when escaped: a word joiner breaks each."""
    text = "see https://example.com, mail a@b.org or www.example.com"
    md, _ = charts.markdown_text(text)
    wj = charts.WORD_JOINER
    assert re.sub(r"\\(.)", r"\1", md).replace(wj, "") == text
    assert md.count(wj) == 3 and ":" + wj in md and "@" + wj in md and "www" + wj + "\\." in md


def test_markdown_stream_sends_a_fast_text_in_pieces_that_add_up_to_it():
    """However fast the characters come, a long text goes out a piece every 1,000 characters, escaped, none lost."""
    text = "".join(random.Random(0).choice("ab:\n *") for _ in range(10_000))
    stats: dict = {}
    pieces = list(charts.markdown_stream(iter(text), stats, prefix="ROMEO:\n", flush_every=3600, hand_over=0))
    assert pieces[0] == charts.markdown_text("ROMEO:\n")[0]  # the priming text first, on its own
    assert len(pieces) == 1 + 10_000 // charts.PIECE_CHARS == 11
    assert "".join(pieces) == charts.markdown_text("ROMEO:\n" + text)[0]  # line starts carry across pieces
    assert stats["prefix"] == "ROMEO:\n" and stats["text"] == text and stats["seconds"] >= 0
    assert len(list(charts.markdown_stream(iter(text), {}, piece=500, flush_every=3600, hand_over=0))) == 20


def test_markdown_stream_flushes_by_time_before_a_piece_is_full():
    """Once flush_every seconds have passed (here: none), what has come goes out, however short."""
    stats: dict = {}
    pieces = list(charts.markdown_stream(iter("abcdef"), stats, piece=1_000, flush_every=0.0, hand_over=0))
    assert pieces == list("abcdef") and stats["text"] == "abcdef"
