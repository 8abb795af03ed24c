"""Altair charts for the Teach page: a clamp's two predictions, where it moved them, a minimal pair's values."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from charlstm.text.corpus import char_label
from charlstm.views.charts import _position_axis, glyph

UNTOUCHED, CLAMPED = "#868e96", "#e8590c"


def clamp_bars(top: Sequence[tuple[str, float, float]]) -> alt.Chart:
    """The likeliest next characters, a bar untouched and a bar clamped for each."""
    rows = [{"char": char_label(c), "which": w, "p": p, "rank": k}
            for k, (c, p0, p1) in enumerate(top) for w, p in (("untouched", p0), ("clamped", p1))]
    df = pd.DataFrame(rows, columns=["char", "which", "p", "rank"])
    return alt.Chart(df).mark_bar(cornerRadiusEnd=3).encode(
        x=alt.X("p:Q", title="probability of the next character", axis=alt.Axis(format=".0%")),
        y=alt.Y("which:N", title=None, sort=["untouched", "clamped"], axis=None),
        row=alt.Row("char:N", title=None, sort=alt.SortField("rank"),
                    header=alt.Header(labelAngle=0, labelAlign="left", labelFontSize=14, labelFont="monospace")),
        color=alt.Color("which:N", title=None, scale=alt.Scale(domain=["untouched", "clamped"],
                                                               range=[UNTOUCHED, CLAMPED]),
                        legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("char:N", title="character"), alt.Tooltip("which:N", title="model"),
                 alt.Tooltip("p:Q", title="probability", format=".2%")],
    ).properties(height=alt.Step(11)).configure_facet(spacing=3)


def divergence_chart(kl: np.ndarray, text: str, start: int, at: int) -> alt.Chart:
    """How far the clamp moved the prediction after each character (KL, nats); the clamp's start shaded."""
    T = len(text)
    df = pd.DataFrame({"pos": np.arange(T), "kl": np.asarray(kl, np.float64), "char": [glyph(c) for c in text],
                       "held": np.arange(T) >= start, "at": np.arange(T) == at})
    base = alt.Chart(df).encode(x=alt.X("pos:O", axis=_position_axis(text, None)))
    bars = base.mark_bar().encode(
        y=alt.Y("kl:Q", title="KL (nats)"),
        color=alt.condition("datum.at", alt.value(CLAMPED), alt.value("#4263eb")),
        tooltip=[alt.Tooltip("char:N", title="after"), alt.Tooltip("pos:O", title="position"),
                 alt.Tooltip("kl:Q", title="KL, nats", format=".4f")])
    held = alt.Chart(pd.DataFrame({"a": [start - 0.5], "b": [T - 0.5]})).mark_rect(opacity=0.07, color=CLAMPED)
    held = held.encode(x=alt.X("a:Q", scale=alt.Scale(domain=[-0.5, T - 0.5]), axis=None), x2="b:Q")
    return alt.layer(bars, held).resolve_scale(x="independent").properties(height=150)


def pair_lines(a: np.ndarray, b: np.ndarray, labels: Sequence[str], unit: int, what: str) -> alt.Chart:
    """One unit's value in text A and in text B over the aligned columns (a gap breaks the line)."""
    C = len(labels)
    df = pd.DataFrame({"col": np.tile(np.arange(C), 2), "text": ["A"] * C + ["B"] * C,
                       "value": np.r_[a, b].astype(np.float64), "char": list(labels) * 2})
    return alt.Chart(df).mark_line(point=True, strokeWidth=2).encode(
        x=alt.X("col:O", axis=_position_axis("".join(c or "·" for c in labels), None)),
        y=alt.Y("value:Q", title=f"unit {unit}, {what}"),
        color=alt.Color("text:N", title=None, scale=alt.Scale(domain=["A", "B"], range=["#4263eb", CLAMPED]),
                        legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("text:N"), alt.Tooltip("col:O", title="column"),
                 alt.Tooltip("value:Q", format=".3f")],
    ).properties(height=200)


def epochs_chart(values: np.ndarray, text: str, boundary: int | None, what: str,
                 epochs: Sequence[int] | None = None) -> alt.Chart:
    """One line per traced epoch (values (E, T)) of one unit's state along the probe text; later epochs darker.

    epochs names each row (default 1..E); 0 is the untrained model. The colour is a gradient, not a legend entry
    per epoch, so a run of 200 epochs draws as plainly as one of 3."""
    E, T = values.shape
    names = np.arange(1, E + 1) if epochs is None else np.asarray(epochs)
    df = pd.DataFrame({"epoch": np.repeat(names, T), "pos": np.tile(np.arange(T), E),
                       "value": values.ravel().astype(np.float64)})
    lines = alt.Chart(df).mark_line(strokeWidth=2).encode(
        x=alt.X("pos:O", axis=_position_axis(text, None)),
        y=alt.Y("value:Q", title=what),
        color=alt.Color("epoch:Q", scale=alt.Scale(scheme="purples", domain=[int(names.min()), int(names.max())]),
                        legend=alt.Legend(orient="right", title="epoch", format="d")),
        detail="epoch:O",
        tooltip=[alt.Tooltip("epoch:O"), alt.Tooltip("pos:O", title="position"),
                 alt.Tooltip("value:Q", format=".3f")])
    if boundary is None:
        return lines.properties(height=220)
    rule = alt.Chart(pd.DataFrame({"pos": [boundary]})).mark_rule(strokeDash=[4, 3], color="#c92a2a").encode(
        x="pos:O")
    return alt.layer(lines, rule).properties(height=220)
