"""Charts and HTML for the Insight page (attribution, components, two runs): pure functions from plain data.

Every character of user text that lands in HTML is escaped; nothing here imports streamlit. chart_files
turns any chart into files to take away: SVG and PNG where vl-convert-python is installed, else the
chart's Vega-Lite JSON and a standalone HTML page (which draws it with Vega from a CDN).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from charlstm.text.corpus import char_label
from charlstm.views.charts import _position_axis, activation_color, glyph

MONO = "font-family:ui-monospace,SFMono-Regular,Menlo,monospace"
RAISES, LOWERS = "#c92a2a", "#1864ab"  # raised the target, lowered it: the diverging scale's red and blue ends
RUN_COLORS = ("#e8590c", "#4263eb")  # run A, run B
FOCUS = "#ffd43b"  # the position explained, as the Gates page's context


def symmetric(values: np.ndarray) -> tuple[float, float]:
    """A range centred on zero that holds every value: colour scales where white means no effect."""
    m = float(np.nanmax(np.abs(values))) if np.size(values) else 0.0
    return (-m, m) if m > 1e-12 else (-1.0, 1.0)


# ---- attribution
def attribution_html(text: str, scores: np.ndarray, start: int, position: int, what: str) -> str:
    """The text with each character read shaded by its attribution (red raised the target, blue lowered it);
    the explained position outlined; characters the model did not read for it greyed."""
    value_range = symmetric(scores[start:position + 1])
    spans = []
    for t, c in enumerate(text):
        shown = "↵\n" if c == "\n" else ("⇥" if c == "\t" else c)
        if start <= t <= position:
            bg, fg = activation_color(float(scores[t]), value_range)
            tip = f"{char_label(c)} · position {t} · {float(scores[t]):+.4f} to {what}"
            ring = f"outline:2px solid {FOCUS};outline-offset:1px;" if t == position else ""
            style = f"background:{bg};color:{fg};{ring}"
        else:
            tip, style = f"{char_label(c)} · position {t} · not read for this target", "color:#adb5bd;"
        spans.append(f'<span title="{html.escape(tip, quote=True)}" style="{style}padding:2px 1px;'
                     f'border-radius:2px">{html.escape(shown)}</span>')
    return (f'<div class="charlstm-attribution" style="{MONO};font-size:1.15rem;line-height:2.1;'
            'white-space:pre-wrap;word-break:break-word">' + "".join(spans) + "</div>")


def attribution_chart(text: str, scores: np.ndarray, start: int, position: int, what: str,
                      last: int = 80) -> alt.Chart:
    """Bars of the attribution of the (at most `last`) characters before and at the position, by sign."""
    lo = max(start, position - last + 1)
    shown = text[lo:position + 1]
    df = pd.DataFrame({"pos": np.arange(len(shown)), "position": np.arange(lo, position + 1),
                       "char": [char_label(c) for c in shown], "score": np.round(scores[lo:position + 1], 6)})
    df["effect"] = np.where(df["score"] >= 0, "raised it", "lowered it")
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("pos:O", axis=_position_axis(shown)),
        y=alt.Y("score:Q", title=f"attribution to {what}"),
        color=alt.Color("effect:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=["raised it", "lowered it"], range=[RAISES, LOWERS])),
        tooltip=[alt.Tooltip("char:N", title="character"), alt.Tooltip("position:Q"),
                 alt.Tooltip("score:Q", title="attribution", format="+.4f")],
    ).properties(height=240)


# ---- components
def components_heatmap(strengths: np.ndarray, text: str, signed: bool) -> alt.Chart:
    """One row per component, one column per character, each row scaled to its own largest |strength|."""
    W = np.asarray(strengths, np.float64)  # (T, k)
    T, k = W.shape
    scaled = W / np.maximum(np.abs(W).max(axis=0), 1e-12)
    labels = np.array([char_label(c) for c in text[:T]], dtype=object)
    df = pd.DataFrame({"pos": np.repeat(np.arange(T), k), "char": np.repeat(labels, k),
                       "component": np.tile(np.arange(1, k + 1), T), "strength": W.ravel().round(4),
                       "scaled": scaled.ravel().round(4)})
    scale = (alt.Scale(domain=[-1, 1], domainMid=0, scheme="redblue", reverse=True) if signed
             else alt.Scale(domain=[0, 1], scheme="blues"))
    return alt.Chart(df).mark_rect().encode(
        x=alt.X("pos:O", axis=_position_axis(text[:T])),
        y=alt.Y("component:O", title="component"),
        color=alt.Color("scaled:Q", title="strength / its largest", scale=scale),
        tooltip=[alt.Tooltip("char:N", title="character"), alt.Tooltip("pos:O", title="position"),
                 alt.Tooltip("component:O"), alt.Tooltip("strength:Q", format=".3f")],
    ).properties(height=k * 22 + 60)


def loadings_chart(top_units: Sequence[tuple[int, float]]) -> alt.Chart:
    """A component's top units as bars of their weight in it."""
    df = pd.DataFrame([{"unit": f"unit {u}", "weight": float(w)} for u, w in top_units], columns=["unit", "weight"])
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("weight:Q", title="weight in the component"),
        y=alt.Y("unit:N", sort=None, title=None),
        color=alt.condition("datum.weight >= 0", alt.value(RAISES), alt.value(LOWERS)),
        tooltip=[alt.Tooltip("unit:N"), alt.Tooltip("weight:Q", format="+.3f")],
    ).properties(height=alt.Step(22))


def projection_chart(xy: np.ndarray, text: str, contexts: Sequence[str], label_title: str,
                     label: np.ndarray, binary: bool, explained: tuple[float, float]) -> alt.Chart:
    """Each character's hidden state on the first two principal axes, coloured by a label, its context on hover."""
    df = pd.DataFrame({"x": np.round(xy[:, 0], 4), "y": np.round(xy[:, 1], 4), "position": np.arange(len(xy)),
                       "char": [char_label(c) for c in text[:len(xy)]], "context": list(contexts)})
    if binary:
        df["label"] = np.where(np.asarray(label, bool), "yes", "no")
        color = alt.Color("label:N", title=label_title, legend=alt.Legend(orient="top"),
                          scale=alt.Scale(domain=["yes", "no"], range=["#e8590c", "#adb5bd"]))
    else:
        df["label"] = np.asarray(label, np.float64)
        color = alt.Color("label:Q", title=label_title, scale=alt.Scale(scheme="viridis"))
    return alt.Chart(df).mark_circle(size=28, opacity=0.7).encode(
        x=alt.X("x:Q", title=f"first principal axis ({explained[0]:.0%} of the variance)"),
        y=alt.Y("y:Q", title=f"second principal axis ({explained[1]:.0%})"),
        color=color,
        order=alt.Order("label:N" if binary else "label:Q", sort="ascending"),  # the labelled points drawn on top
        tooltip=[alt.Tooltip("context:N", title="context"), alt.Tooltip("char:N", title="character"),
                 alt.Tooltip("position:Q"), alt.Tooltip("label:N" if binary else "label:Q", title=label_title)],
    ).properties(height=420)


# ---- two runs
def loss_strip_chart(text: str, loss_a: np.ndarray, loss_b: np.ndarray, name_a: str, name_b: str,
                     last: int = 400) -> alt.VConcatChart:
    """The two losses per character as lines, and under them A's minus B's as bars (orange: A more surprised)."""
    n = min(len(text), last)
    shown = text[:n]
    rows = pd.DataFrame({"pos": np.arange(n), "char": [char_label(c) for c in shown],
                         name_a: np.round(loss_a[:n], 4), name_b: np.round(loss_b[:n], 4)})
    long = rows.melt(id_vars=["pos", "char"], var_name="run", value_name="nats")
    lines = alt.Chart(long).mark_line(point=alt.OverlayMarkDef(size=12)).encode(
        x=alt.X("pos:O", axis=_position_axis(shown, None)),
        y=alt.Y("nats:Q", title="surprise, nats"),
        color=alt.Color("run:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=[name_a, name_b], range=list(RUN_COLORS))),
        tooltip=[alt.Tooltip("char:N", title="character"), alt.Tooltip("pos:O", title="position"),
                 alt.Tooltip("run:N"), alt.Tooltip("nats:Q", format=".2f")],
    ).properties(height=200)
    rows["difference"] = np.round(loss_a[:n] - loss_b[:n], 4)
    bars = alt.Chart(rows).mark_bar().encode(
        x=alt.X("pos:O", axis=_position_axis(shown)),
        y=alt.Y("difference:Q", title=f"{name_a} − {name_b}"),
        color=alt.condition("datum.difference >= 0", alt.value(RUN_COLORS[0]), alt.value(RUN_COLORS[1])),
        tooltip=[alt.Tooltip("char:N", title="character"), alt.Tooltip("pos:O", title="position"),
                 alt.Tooltip("difference:Q", format="+.2f")],
    ).properties(height=140)
    return alt.vconcat(lines, bars)


def matches_chart(rs: Sequence[float]) -> alt.Chart:
    """How well A's units are matched: a histogram of each unit's best |r| in B."""
    df = pd.DataFrame({"r": np.abs(np.asarray(rs, np.float64))})
    return alt.Chart(df).mark_bar(color=RUN_COLORS[1]).encode(
        x=alt.X("r:Q", bin=alt.Bin(extent=[0, 1], step=0.05), title="|r| of each unit's best match"),
        y=alt.Y("count():Q", title="units of A"),
    ).properties(height=200)


def context_line(text: str, t: int, before: int = 24, after: int = 8) -> str:
    """Text around position t on one line, the character at t in brackets."""
    def one(s: str) -> str:
        return "".join(glyph(c) if c in "\n\t\r" else c for c in s)

    return f"{one(text[max(0, t - before):t])}[{glyph(text[t])}]{one(text[t + 1:t + 1 + after])}"


# ---- taking a chart away
IMAGE_KINDS = (("SVG", "svg", "image/svg+xml"), ("PNG", "png", "image/png"))
SPEC_KINDS = (("Vega-Lite JSON", "vl.json", "application/json"), ("HTML", "html", "text/html"))


def can_draw_images() -> bool:
    """Whether charts can be saved as SVG and PNG here: vl-convert-python is installed."""
    import importlib.util

    return importlib.util.find_spec("vl_convert") is not None


def chart_kinds() -> tuple[tuple[str, str, str], ...]:
    """(label, file extension, MIME type) of each file a chart can be saved as here: SVG and PNG with
    vl-convert-python installed, else the chart's Vega-Lite JSON and a standalone HTML page."""
    return IMAGE_KINDS if can_draw_images() else SPEC_KINDS


def chart_file(chart: alt.TopLevelMixin, ext: str) -> bytes:
    """The chart as a file of one of chart_kinds()' extensions."""
    import json

    with alt.data_transformers.disable_max_rows():  # the charts hold every character: more than 5,000 rows
        spec = chart.to_dict()
        if ext == "vl.json":
            return json.dumps(spec, ensure_ascii=False).encode("utf-8")
        if ext == "html":
            return chart.to_html().encode("utf-8")
    import vl_convert as vlc

    if ext == "svg":
        return vlc.vegalite_to_svg(spec).encode("utf-8")
    if ext == "png":
        return vlc.vegalite_to_png(spec, scale=2)
    raise ValueError(f"unknown chart file kind {ext!r}")
