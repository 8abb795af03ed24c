"""Altair charts and small HTML renderings for the app: pure functions from plain data to a chart or a string.

Nothing here imports streamlit, so every builder can be tested by looking at its spec.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Iterable, Iterator, Sequence

import altair as alt
import numpy as np
import pandas as pd

from charlstm.text.corpus import PLACEHOLDER, char_label
from charlstm.training.curves import CHART_POINTS, thin

# One glyph per character, so a window of text and its shifted target line up column by column.
_GLYPHS = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍", PLACEHOLDER: "�"}

GATE_TITLES = {"input": "input gate", "forget": "forget gate", "candidate": "candidate",
               "output": "output gate", "cell": "cell state", "hidden": "hidden state"}
SEQUENTIAL = "blues"  # gates live in [0, 1]: white = closed, dark blue = open
DIVERGING = "redblue"  # tanh values in [-1, 1], reversed: blue below zero, white at zero, red above
GATE_COLORS = {"input": "#2b8a3e", "forget": "#c92a2a", "output": "#1864ab", "candidate": "#e67700"}


def glyph(c: str) -> str:
    """A single visible character for c (␣ for a space, ↵ for a newline, U+0007 style for others)."""
    return _GLYPHS.get(c) or char_label(c)


def visible(text: str) -> str:
    """The text on one line, every invisible character replaced by its glyph."""
    return "".join(glyph(c) for c in text)


def _is_diverging(value_range: tuple[float, float]) -> bool:
    return value_range[0] < 0


def color_scale(value_range: tuple[float, float]) -> alt.Scale:
    """A fixed colour scale: sequential for [0, 1] gates, diverging around zero for tanh values."""
    lo, hi = value_range
    if _is_diverging(value_range):
        return alt.Scale(domain=[lo, hi], domainMid=0.0, scheme=DIVERGING, reverse=True, clamp=True)
    return alt.Scale(domain=[lo, hi], scheme=SEQUENTIAL, clamp=True)


def _position_axis(text: str, title: str | None = "character") -> alt.Axis:
    """An axis over character positions that shows each position's character instead of its number."""
    labels = json.dumps([glyph(c) for c in text], ensure_ascii=False)  # a Vega array literal, safely quoted
    return alt.Axis(title=title, labelExpr=f"{labels}[datum.value]", labelAngle=0, labelFontSize=13,
                    labelFont="monospace", labelOverlap=True, ticks=False, domain=False)


def char_frequency(rows: Sequence[dict], top: int | None = None) -> alt.Chart:
    """Bars of character counts, most frequent first; rows as made by corpus.char_table."""
    df = pd.DataFrame(list(rows), columns=["char", "id", "count", "share"])
    df = df.sort_values("count", ascending=False)
    if top is not None:
        df = df.head(top)
    return alt.Chart(df, title="How often each character occurs").mark_bar(color="#4263eb").encode(
        x=alt.X("char:N", sort="-y", title="character", axis=alt.Axis(labelAngle=0, labelFontSize=12)),
        y=alt.Y("count:Q", title="count"),
        tooltip=[alt.Tooltip("char:N", title="character"), alt.Tooltip("id:Q", title="id"),
                 alt.Tooltip("count:Q", title="count", format=","),
                 alt.Tooltip("share:Q", title="share", format=".2%")],
    )


def loss_curves(curve: Iterable[Sequence[float]], val_curve: Iterable[Sequence[float]] = (),
                steps_per_epoch: int | None = None) -> alt.Chart:
    """Training loss (running mean per step) and validation loss (per epoch) against the global step.

    The training curve is thinned to at most curves.CHART_POINTS: the chart is redrawn every second
    while a model trains in the same process, and a cheap chart leaves the CPU to the training.
    """
    rows = [{"step": int(s), "loss": float(v), "series": "training"} for s, v in thin(list(curve), CHART_POINTS)]
    rows += [{"step": int(s), "loss": float(v), "series": "validation"} for s, v in val_curve]
    df = pd.DataFrame(rows, columns=["step", "loss", "series"])
    colour = alt.Color("series:N", title=None, scale=alt.Scale(domain=["training", "validation"],
                                                                range=["#4263eb", "#e8590c"]),
                       legend=alt.Legend(orient="top"))
    base = alt.Chart(df).encode(
        x=alt.X("step:Q", title="step" if not steps_per_epoch else f"step ({steps_per_epoch:,} per epoch)"),
        y=alt.Y("loss:Q", title="loss (nats per character)", scale=alt.Scale(zero=False)),
        color=colour,
        tooltip=[alt.Tooltip("series:N"), alt.Tooltip("step:Q", format=","), alt.Tooltip("loss:Q", format=".4f")],
    )
    lines = base.transform_filter(alt.datum.series == "training").mark_line()
    points = base.transform_filter(alt.datum.series == "validation").mark_line(point=alt.OverlayMarkDef(size=60))
    return alt.layer(lines, points).properties(height=260)


def comparison_curves(points: Sequence[dict]) -> alt.Chart:
    """Validation loss against training time, one line per formulation; points as comparison.curve_points makes."""
    df = pd.DataFrame(list(points), columns=["formulation", "seconds", "val_loss"])
    df["minutes"] = df["seconds"] / 60
    return alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("minutes:Q", title="training time (minutes)"),
        y=alt.Y("val_loss:Q", title="validation loss (nats per character)", scale=alt.Scale(zero=False)),
        color=alt.Color("formulation:N", title=None, legend=alt.Legend(orient="top", labelLimit=400)),
        tooltip=[alt.Tooltip("formulation:N"), alt.Tooltip("minutes:Q", format=".1f"),
                 alt.Tooltip("val_loss:Q", format=".3f")],
    ).properties(height=280)


def heatmap(values: np.ndarray, text: str, name: str, value_range: tuple[float, float],
            height: int | None = None, units: Sequence[int] | None = None) -> alt.Chart:
    """One rectangle per (character, unit): x = position labelled by its character, y = unit.

    units: the unit number of each column of values, when they are not 0, 1, 2 ... (a probe's kept units).

    values is (T, n). 256 units x 40 characters is already 10,240 rectangles, over Altair's
    default 5,000-row limit: st.altair_chart ships the frame as Arrow with no limit; elsewhere
    call to_dict inside `with alt.data_transformers.disable_max_rows():`. (Inline alt.Data values
    would dodge the limit too, but Altair then validates every row: seconds per chart.)
    """
    values = np.asarray(values, dtype=np.float64)
    T, n = values.shape
    labels = np.array([char_label(c) for c in text[:T]], dtype=object)
    df = pd.DataFrame({"pos": np.repeat(np.arange(T), n), "char": np.repeat(labels, n),
                       "unit": np.tile(np.arange(n) if units is None else np.asarray(units), T),
                       "value": values.ravel().round(4)})  # row-major: t, u
    title = GATE_TITLES.get(name, name)
    if height is None:  # Streamlit fits axes and legend into the height too: add room for them
        height = int(min(900, max(120, n * 6)) + 70)
    return alt.Chart(df).mark_rect().encode(
        x=alt.X("pos:O", axis=_position_axis(text)),
        y=alt.Y("unit:O", title="unit", axis=alt.Axis(labelOverlap=True, ticks=False, domain=False)),
        color=alt.Color("value:Q", title=title, scale=color_scale(value_range),
                        legend=alt.Legend(orient="right", gradientLength=min(height, 300))),
        tooltip=[alt.Tooltip("char:N", title="character"), alt.Tooltip("pos:O", title="position"),
                 alt.Tooltip("unit:O", title="unit"), alt.Tooltip("value:Q", title=title, format=".3f")],
    ).properties(height=height)


def mean_activation(layer: dict[str, np.ndarray], text: str, boundaries: Sequence[int] = (),
                    names: Sequence[str] = ("input", "forget", "output")) -> alt.Chart:
    """Each gate's mean over the layer's units at every character, with a rule at each sentence boundary."""
    rows = []
    for name in names:
        mean = np.asarray(layer[name]).mean(axis=1)  # (T,)
        rows += [{"pos": t, "char": char_label(text[t]), "gate": GATE_TITLES[name], "mean": round(float(m), 4)}
                 for t, m in enumerate(mean)]
    df = pd.DataFrame(rows, columns=["pos", "char", "gate", "mean"])
    titles = [GATE_TITLES[n] for n in names]
    lines = alt.Chart(df).mark_line(point=alt.OverlayMarkDef(size=25)).encode(
        x=alt.X("pos:O", axis=_position_axis(text)),
        y=alt.Y("mean:Q", title="mean activation over units", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("gate:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=titles, range=[GATE_COLORS.get(n, "#868e96") for n in names])),
        tooltip=[alt.Tooltip("char:N", title="character"), alt.Tooltip("pos:O", title="position"),
                 alt.Tooltip("gate:N"), alt.Tooltip("mean:Q", format=".3f")],
    )
    rules = alt.Chart(pd.DataFrame({"pos": list(boundaries), "label": ["sentence boundary"] * len(boundaries)})
                      ).mark_rule(color="#495057", strokeDash=[5, 4], strokeWidth=2).encode(
        x=alt.X("pos:O"), tooltip=[alt.Tooltip("label:N", title=""), alt.Tooltip("pos:O", title="position")])
    return alt.layer(rules, lines).properties(height=280)


def forgetters_chart(rows: Sequence[dict]) -> alt.Chart:
    """Bars of how far each unit's forget gate drops at the boundary; rows have unit, before, at, drop."""
    df = pd.DataFrame(list(rows), columns=["unit", "before", "at", "drop"])
    df["unit"] = df["unit"].map(lambda u: f"unit {u}")
    return alt.Chart(df).mark_bar(color=GATE_COLORS["forget"]).encode(
        x=alt.X("drop:Q", title="drop of the forget gate at the boundary"),
        y=alt.Y("unit:N", sort="-x", title=None),
        tooltip=[alt.Tooltip("unit:N"), alt.Tooltip("before:Q", title="before", format=".3f"),
                 alt.Tooltip("at:Q", title="at boundary", format=".3f"), alt.Tooltip("drop:Q", format=".3f")],
    ).properties(height=alt.Step(24))


def saturation_chart(sat: dict[str, tuple[Sequence[float], Sequence[float]]]) -> alt.HConcatChart:
    """Per gate, each unit as a point: fraction of time below 0.1 (x) against above 0.9 (y).

    Karpathy, Johnson and Fei-Fei (2015), figure 3: points near the right edge are mostly
    closed, near the top mostly open, on the diagonal switching between the two.
    """
    panels = []
    edge = pd.DataFrame({"x": [0.0, 1.0], "y": [1.0, 0.0]})
    for gate, (low, high) in sat.items():
        df = pd.DataFrame({"unit": np.arange(len(low)), "low": np.asarray(low, float), "high": np.asarray(high, float)})
        points = alt.Chart(df).mark_circle(size=45, opacity=0.7, color=GATE_COLORS.get(gate, "#495057")).encode(
            x=alt.X("low:Q", title="fraction of time < 0.1", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("high:Q", title="fraction of time > 0.9", scale=alt.Scale(domain=[0, 1])),
            tooltip=[alt.Tooltip("unit:Q"), alt.Tooltip("low:Q", title="< 0.1", format=".0%"),
                     alt.Tooltip("high:Q", title="> 0.9", format=".0%")],
        )
        line = alt.Chart(edge).mark_line(color="#adb5bd", strokeDash=[3, 3]).encode(x="x:Q", y="y:Q")
        panels.append(alt.layer(line, points).properties(title=GATE_TITLES.get(gate, gate), width=220, height=220))
    return alt.hconcat(*panels)


def next_char_chart(top: Sequence[tuple[str, float]], actual: str | None = None) -> alt.Chart:
    """The likeliest next characters as bars; the character that really came next is highlighted."""
    df = pd.DataFrame([{"char": char_label(c), "p": float(p), "actual": c == actual} for c, p in top],
                      columns=["char", "p", "actual"])
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("p:Q", title="probability", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=".0%")),
        y=alt.Y("char:N", sort="-x", title=None, axis=alt.Axis(labelFontSize=13)),
        color=alt.Color("actual:N", scale=alt.Scale(domain=[True, False], range=["#e8590c", "#4263eb"]),
                        legend=alt.Legend(title="what came next", labelExpr="datum.value ? 'actual' : 'other'")),
        tooltip=[alt.Tooltip("char:N", title="character"), alt.Tooltip("p:Q", title="probability", format=".2%")],
    ).properties(height=alt.Step(24))


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))


_WHITE, _BLUE, _RED = (255, 255, 255), (33, 102, 172), (178, 24, 43)
_DARK_BLUE = (8, 81, 156)


def activation_color(v: float, value_range: tuple[float, float]) -> tuple[str, str]:
    """(background, text colour) for one activation, matching the heatmap's scale."""
    lo, hi = value_range
    v = min(hi, max(lo, float(v)))
    if _is_diverging(value_range):  # white at zero, blue below, red above
        t = v / hi if v >= 0 else v / lo
        rgb = _mix(_WHITE, _RED if v >= 0 else _BLUE, t)
    else:
        t = (v - lo) / (hi - lo) if hi > lo else 0.0
        rgb = _mix(_WHITE, _DARK_BLUE, t)
    luminance = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return f"rgb({rgb[0]},{rgb[1]},{rgb[2]})", ("#ffffff" if luminance < 140 else "#111111")


def colored_text_html(text: str, values: Sequence[float], value_range: tuple[float, float],
                      what: str = "activation") -> str:
    """The text as HTML, each character's background coloured by its activation (Karpathy's figures).

    Every character and every tooltip is HTML-escaped: the text comes from users.
    """
    if len(values) != len(text):
        raise ValueError(f"{len(text)} characters but {len(values)} values")
    spans = []
    for t, (c, v) in enumerate(zip(text, values, strict=True)):
        bg, fg = activation_color(v, value_range)
        tip = html.escape(f"{char_label(c)} · position {t} · {what} {float(v):+.3f}", quote=True)
        shown = "↵\n" if c == "\n" else ("⇥" if c == "\t" else c)  # keep the line break, but show it
        spans.append(f'<span title="{tip}" style="background:{bg};color:{fg};padding:2px 1px;'
                     f'border-radius:2px">{html.escape(shown)}</span>')
    return ('<div class="charlstm-trace" style="font-family:ui-monospace,SFMono-Regular,Menlo,monospace;'
            'font-size:1.15rem;line-height:2.1;white-space:pre-wrap;word-break:break-word">'
            + "".join(spans) + "</div>")


def color_legend_html(value_range: tuple[float, float], what: str, steps: int = 9) -> str:
    """A small strip of the colour scale with its end values, to read colored_text_html by."""
    lo, hi = value_range
    cells = []
    for v in np.linspace(lo, hi, steps):
        bg, fg = activation_color(float(v), value_range)
        cells.append(f'<span style="display:inline-block;width:3.2em;text-align:center;background:{bg};color:{fg};'
                     f'font-size:0.75rem">{v:+.2f}</span>')
    return (f'<div style="margin:0.2rem 0 0.6rem 0;font-size:0.8rem">{html.escape(what)}: '
            + "".join(cells) + "</div>")


_MD_SPECIAL = set("\\`*_{}[]()#+-.!|<>~$:&=\"'^")
WORD_JOINER = "\u2060"  # invisible; after ':' and '@' and inside 'www.' it keeps GFM from making an autolink


def markdown_text(chunk: str, at_line_start: bool = True) -> tuple[str, bool]:
    """Escape a chunk of plain text for st.markdown, keeping its line breaks and leading spaces.

    Returns (markdown, whether the next chunk starts a line), so a stream can be escaped
    piece by piece: every ASCII punctuation mark is backslash-escaped (CommonMark allows it),
    a newline becomes a hard break, and spaces at the start of a line become &nbsp;. GFM turns bare URLs,
    e-mail addresses and www. names into links after escapes are gone, so an invisible word joiner follows
    every ':' and '@' and splits 'www.' (within a chunk): a generated or primed URL stays text.
    """
    out = []
    for c in chunk:
        if c == "\n":
            out.append("  \n")
            at_line_start = True
            continue
        if c == " " and at_line_start:
            out.append("&nbsp;")
            continue
        at_line_start = False
        if c == "." and out[-3:] == ["w", "w", "w"]:
            out.append(WORD_JOINER)
        out.append("\\" + c if c in _MD_SPECIAL else c)
        if c in ":@":
            out.append(WORD_JOINER)
    return "".join(out), at_line_start


FLUSH_SECONDS = 0.1  # a streamed text goes out at most 10 times a second, however fast it is sampled,
PIECE_CHARS = 1_000  # or every 1,000 characters, whichever comes first: a tiny model writes 10,000 characters in
# a sixth of a second, which at 10 pieces a second would be the priming text, then the whole text at once.
# Each piece costs the page (the pause below, the interpreter lock going back and forth, the browser drawing the
# text again), so pieces are not cut finer: 2,000 characters of the shipped model at 1,000 a piece showed 11,217
# and 9,753 characters a second in the page, at 500 a piece 9,471 and 8,612, at 100 a piece 5,323 (medians of 5).
# Sampling holds the interpreter lock, and Streamlit keeps only the newest of the deltas its server thread has
# not sent yet, so without a pause the whole text can arrive at once. A pause per piece (2 ms) lets the server
# send each piece as it comes.
HAND_OVER_SECONDS = 0.002


def markdown_stream(chars: Iterable[str], stats: dict, prefix: str = "", piece: int = PIECE_CHARS,
                    flush_every: float = FLUSH_SECONDS, hand_over: float = HAND_OVER_SECONDS) -> Iterator[str]:
    """Sampled characters as markdown pieces for st.write_stream, counted in stats (prefix, text, seconds).

    st.write_stream resends everything written so far with each piece, so a piece per character would
    send the text quadratically often. A piece goes out every `flush_every` seconds, or sooner once it holds
    `piece` characters, so a fast model's text streams in too. The prefix (the priming text) comes first,
    so the output reads as one text; stats["text"] holds the generated characters only.
    """
    buf: list[str] = []
    raw: list[str] = []
    at_line_start = True
    if prefix:
        text, at_line_start = markdown_text(prefix, at_line_start)
        yield text
    stats["prefix"] = prefix
    t0 = last = time.perf_counter()
    for c in chars:
        buf.append(c)
        now = time.perf_counter()
        if now - last >= flush_every or len(buf) >= piece:
            text, at_line_start = markdown_text("".join(buf), at_line_start)
            raw.extend(buf)
            buf, last = [], now
            yield text
            time.sleep(hand_over)
    if buf:
        raw.extend(buf)
        yield markdown_text("".join(buf), at_line_start)[0]
    stats["text"] = "".join(raw)
    stats["seconds"] = time.perf_counter() - t0


def context_html(text: str, position: int, before: int = 40) -> str:
    """The text read so far, ending at `position` (highlighted), followed by the question of what comes next."""
    start = max(0, position - before)
    head = ("…" if start > 0 else "") + visible(text[start:position])
    return ('<div style="font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:1.1rem;'
            'padding:0.4rem 0">' + html.escape(head)
            + '<span style="background:#ffd43b;border-radius:3px;padding:1px 2px">'
            + html.escape(glyph(text[position])) + '</span> <span style="color:#868e96">→ ?</span></div>')
