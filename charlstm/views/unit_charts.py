"""Charts and HTML for finding what units do (the Units page): pure functions from plain data to a chart or a string.

Every character of user text that lands in HTML is escaped; no function here imports streamlit.
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
HIGHER, LOWER = "#1c7ed6", "#e8590c"  # a unit that is higher on labelled characters, or lower
LABEL_MARK = "#e8590c"  # the bar under a labelled character
SPAN = "#ffd43b"  # the chosen span, as in the Gates page's context


def unit_name(layer: int, state: str, unit: int) -> str:
    """How the page names a unit: layer counted from 1, as the layer selectors do."""
    return f"layer {layer + 1} · {state} · unit {unit}"


# ---- the cell finder
def scores_chart(rows: Sequence[dict], binary: bool) -> alt.LayerChart:
    """Bars from chance (AUC 0.5, or r = 0) to each unit's score; rows have name, score and rank, best first."""
    base = 0.5 if binary else 0.0
    df = pd.DataFrame(list(rows), columns=["name", "score", "rank"])
    df["base"] = base
    up, down = (("higher where labelled", "lower where labelled") if binary
                else ("rises along the line", "falls along the line"))
    df["direction"] = np.where(df["score"] >= base, up, down)
    title = "AUC (0.5 = chance)" if binary else "correlation r"
    domain = [0.0, 1.0] if binary else [-1.0, 1.0]
    bars = alt.Chart(df).mark_bar(height=16, cornerRadius=2).encode(
        x=alt.X("score:Q", title=title, scale=alt.Scale(domain=domain)),
        x2="base:Q",
        y=alt.Y("name:N", sort=alt.EncodingSortField("rank"), title=None, axis=alt.Axis(labelLimit=260)),
        color=alt.Color("direction:N", title=None, legend=alt.Legend(orient="top", labelLimit=0),
                        scale=alt.Scale(domain=[up, down], range=[HIGHER, LOWER])),
        tooltip=[alt.Tooltip("name:N", title="unit"), alt.Tooltip("score:Q", title=title, format=".3f"),
                 alt.Tooltip("direction:N", title="")],
    )
    rule = alt.Chart(pd.DataFrame({"base": [base]})).mark_rule(color="#495057", strokeDash=[4, 3]).encode(x="base:Q")
    return alt.layer(bars, rule).properties(height=alt.Step(24))


def separation_chart(values: np.ndarray, y: np.ndarray, binary: bool, what: str, bins: int = 40) -> alt.Chart:
    """What the score measures, drawn: the unit's values on labelled against other characters (a yes/no label),
    or its typical value at each position in the line (a count)."""
    values = np.asarray(values, dtype=np.float64)
    if binary:
        y = np.asarray(y, dtype=bool)
        edges = np.linspace(values.min(), values.max() + 1e-9, bins + 1)
        rows = []
        for name, part in (("labelled", values[y]), ("other characters", values[~y])):
            counts, _ = np.histogram(part, edges)
            share = counts / max(1, len(part))
            rows += [{"lo": float(a), "hi": float(b), "share": float(s), "group": name}
                     for a, b, s in zip(edges[:-1], edges[1:], share, strict=True)]
        df = pd.DataFrame(rows)
        return alt.Chart(df).mark_bar(opacity=0.6, binSpacing=0).encode(
            x=alt.X("lo:Q", title=what, bin="binned"), x2="hi:Q",
            y=alt.Y("share:Q", title="share of the characters", stack=None, axis=alt.Axis(format=".0%")),
            color=alt.Color("group:N", title=None, legend=alt.Legend(orient="top"),
                            scale=alt.Scale(domain=["labelled", "other characters"], range=[LABEL_MARK, "#868e96"])),
            tooltip=[alt.Tooltip("group:N", title=""), alt.Tooltip("lo:Q", title="from", format=".3f"),
                     alt.Tooltip("hi:Q", title="to", format=".3f"), alt.Tooltip("share:Q", format=".1%")],
        ).properties(height=240)
    position = np.asarray(y).astype(int)
    top = int(min(position.max(), np.percentile(position, 99)))  # the rare very long lines say little
    rows = []
    for p in range(top + 1):
        v = values[position == p]
        if len(v) >= 5:
            lo, mid, hi = np.percentile(v, [25, 50, 75])
            rows.append({"position": p, "median": float(mid), "lo": float(lo), "hi": float(hi), "n": len(v)})
    df = pd.DataFrame(rows, columns=["position", "median", "lo", "hi", "n"])
    x = alt.X("position:Q", title="characters into the line (0 = the newline)")
    band = alt.Chart(df).mark_area(opacity=0.25, color=HIGHER).encode(x=x, y="lo:Q", y2="hi:Q")
    line = alt.Chart(df).mark_line(color=HIGHER, point=alt.OverlayMarkDef(size=18)).encode(
        x=x, y=alt.Y("median:Q", title=what),
        tooltip=[alt.Tooltip("position:Q", title="position in line"), alt.Tooltip("median:Q", format=".3f"),
                 alt.Tooltip("lo:Q", title="25%", format=".3f"), alt.Tooltip("hi:Q", title="75%", format=".3f"),
                 alt.Tooltip("n:Q", title="characters", format=",")])
    return alt.layer(band, line).properties(height=240)


def excerpt(y: np.ndarray, text: str, width: int = 700) -> tuple[int, int]:
    """A window of about `width` characters, from the start of a line, where the label y (T,) sums highest:
    the most labelled characters, or for position in the line the longest lines."""
    if len(text) <= width:
        return 0, len(text)
    sums = np.convolve(np.asarray(y, dtype=np.float64), np.ones(width), mode="valid")  # (T - width + 1,)
    start = int(np.argmax(sums))
    line = text.rfind("\n", 0, start)
    if start - line < 200:  # back to the start of the line, unless lines are very long
        start = line + 1
    end = min(len(text), start + width)
    end = text.rfind("\n", start, end) + 1 or end  # end on a whole line where there is one
    return start, end


def labelled_text_html(text: str, values: Sequence[float], value_range: tuple[float, float],
                       labelled: Sequence[bool] | None = None, what: str = "value") -> str:
    """The text coloured by one unit's values, a bar under every labelled character (Karpathy's figures)."""
    if len(values) != len(text):
        raise ValueError(f"{len(text)} characters but {len(values)} values")
    spans = []
    for t, (c, v) in enumerate(zip(text, values, strict=True)):
        bg, fg = activation_color(v, value_range)
        mark = labelled is not None and bool(labelled[t])
        tip = html.escape(f"{char_label(c)} · {what} {float(v):+.3f}{' · labelled' if mark else ''}", quote=True)
        shown = "↵\n" if c == "\n" else c
        bar = f";box-shadow:inset 0 -3px 0 {LABEL_MARK}" if mark else ""
        spans.append(f'<span title="{tip}" style="background:{bg};color:{fg};padding:2px 0{bar}">'
                     f"{html.escape(shown)}</span>")
    return (f'<div class="charlstm-units-text" style="{MONO};font-size:1.02rem;line-height:1.9;white-space:pre-wrap;'
            'word-break:break-word;max-height:26rem;overflow-y:auto;padding:0.5rem;border:1px solid #dee2e6;'
            'border-radius:6px">' + "".join(spans) + "</div>")


# ---- span search and match
def span_text_html(text: str, start: int, end: int) -> str:
    """The traced text with the chosen span highlighted and numbered by its first and last positions."""
    def part(s: str) -> str:
        return html.escape("".join("↵\n" if c == "\n" else c for c in s))
    return (f'<div class="charlstm-span" style="{MONO};font-size:1.1rem;line-height:1.9;white-space:pre-wrap;'
            f'word-break:break-word">{part(text[:start])}<mark style="background:{SPAN};border-radius:3px;'
            f'padding:2px 1px">{part(text[start:end])}</mark>{part(text[end:])}</div>')


def span_chart(values: np.ndarray, text: str, chosen: Sequence[int], threshold: float, start: int, end: int,
               what: str, others: int = 40) -> alt.LayerChart:
    """LSTMVis's view: the chosen units' values along the text in colour, a sample of the rest in grey,
    the threshold dashed and the span shaded."""
    T, units = values.shape
    chosen = list(chosen)[:10]
    rest = [u for u in range(units) if u not in chosen]
    rest = [rest[i] for i in np.linspace(0, len(rest) - 1, min(others, len(rest))).astype(int)] if rest else []
    labels = np.array([char_label(c) for c in text[:T]], dtype=object)

    def frame(us: list[int]) -> pd.DataFrame:
        return pd.DataFrame({"pos": np.tile(np.arange(T), len(us)), "char": np.tile(labels, len(us)),
                             "unit": np.repeat([f"unit {u}" for u in us], T),
                             "value": values[:, us].T.ravel().round(4) if us else []})
    x = alt.X("pos:O", axis=_position_axis(text[:T]))
    y = alt.Y("value:Q", title=what)
    tip = [alt.Tooltip("unit:N"), alt.Tooltip("char:N", title="character"), alt.Tooltip("pos:O", title="position"),
           alt.Tooltip("value:Q", format=".3f")]
    shade = alt.Chart(pd.DataFrame({"pos": list(range(start, end))})).mark_rect(color=SPAN, opacity=0.35).encode(x=x)
    grey = alt.Chart(frame(rest)).mark_line(color="#adb5bd", opacity=0.35, strokeWidth=1).encode(
        x=x, y=y, detail="unit:N")
    lines = alt.Chart(frame(chosen)).mark_line(strokeWidth=2.5, point=alt.OverlayMarkDef(size=30)).encode(
        x=x, y=y, color=alt.Color("unit:N", title="units found", sort=[f"unit {u}" for u in chosen],
                                  scale=alt.Scale(scheme="tableau10"), legend=alt.Legend(orient="right")),
        tooltip=tip)
    rule = alt.Chart(pd.DataFrame({"threshold": [threshold]})).mark_rule(
        color="#212529", strokeDash=[6, 4], strokeWidth=1.5).encode(y="threshold:Q")
    return alt.layer(shade, grey, rule, lines).properties(height=300)


def matches_html(text: str, matches, share: np.ndarray, context: int = 36) -> str:
    """One line per match: its rank and score, and the match in its context, each matched character shaded by
    the share of the units that are on there. `share` is (T,) over the whole sample."""
    rows = []
    for rank, m in enumerate(matches, 1):
        a, b = max(0, m.start - context), min(len(text), m.end + context)
        hit = "".join(f'<span style="background:rgba(255,212,59,{0.35 + 0.65 * float(share[t]):.2f});'
                      f'border-radius:2px;font-weight:600">{html.escape(glyph(text[t]))}</span>'
                      for t in range(m.start, m.end))
        rows.append(
            f'<div style="display:flex;gap:0.8rem;align-items:baseline;padding:0.15rem 0;'
            f'border-bottom:1px solid #f1f3f5"><span style="color:#868e96;width:1.6rem;text-align:right">{rank}'
            f'</span><span style="width:3.2rem;font-variant-numeric:tabular-nums" title="score: share of the units '
            f'on x length similarity">{m.score:.2f}</span><span style="{MONO};white-space:pre;overflow:hidden">'
            f'<span style="color:#495057">{"…" if a > 0 else ""}{html.escape(_line(text[a:m.start]))}</span>{hit}'
            f'<span style="color:#495057">{html.escape(_line(text[m.end:b]))}{"…" if b < len(text) else ""}'
            f'</span></span><span style="color:#adb5bd;font-size:0.8rem;margin-left:auto">at {m.start:,}</span></div>')
    return f'<div class="charlstm-matches" style="font-size:0.98rem">{"".join(rows)}</div>'


def _line(s: str) -> str:
    return "".join(glyph(c) if c in "\n\t\r" else c for c in s)  # spaces stay spaces: context reads as text


# ---- surprise under every character
MAX_NATS = 6.0  # the colour scale stops here: e^-6 is a 1-in-400 surprise


def surprise_color(nats: float) -> tuple[str, str]:
    """(background, text colour): white for an expected character, deep red for a surprise."""
    if not np.isfinite(nats):
        return "#f1f3f5", "#868e96"
    t = min(1.0, max(0.0, nats / MAX_NATS))
    rgb = tuple(round(255 + (c - 255) * t) for c in (201, 42, 42))
    return f"rgb({rgb[0]},{rgb[1]},{rgb[2]})", ("#ffffff" if t > 0.55 else "#111111")


def surprise_strip_html(text: str, nats: Sequence[float], guesses: Sequence[Sequence[tuple[str, float]]]) -> str:
    """A column per character: the character shaded by its surprise, the surprise in nats, and under it the
    model's top guesses for that place, each shaded by its probability; the right one is outlined.

    Words stay whole when the strip wraps, and a newline starts a new row, so it reads like the text.
    """
    words, word = [], []
    for t, c in enumerate(text):
        word.append(_surprise_column(c, float(nats[t]), guesses[t]))
        if c in " \n" or t == len(text) - 1:
            words.append('<div style="display:flex;gap:2px">' + "".join(word) + "</div>")
            word = []
            if c == "\n":
                words.append('<div style="flex-basis:100%;height:0"></div>')  # a line break in a flex row
    return (f'<div class="charlstm-surprise" style="{MONO};display:flex;flex-wrap:wrap;gap:12px 2px;'
            f'font-size:0.85rem">' + "".join(words) + "</div>")


def _surprise_column(c: str, nats: float, guesses: Sequence[tuple[str, float]]) -> str:
    bg, fg = surprise_color(nats)
    n = "–" if not np.isfinite(nats) else f"{nats:.1f}"
    cells = []
    for g, p in guesses:
        ring = f"outline:2px solid {LOWER};outline-offset:-2px;font-weight:700;" if g == c else ""
        cells.append(f'<div title="{html.escape(char_label(g), quote=True)}: {p:.1%}" style="{ring}'
                     f'background:rgba(28,126,214,{0.08 + 0.8 * p:.2f});color:{"#fff" if p > 0.55 else "#212529"}'
                     f';border-radius:2px;height:1.35rem;line-height:1.35rem">{html.escape(glyph(g))}</div>')
    tip = (f"{char_label(c)}: surprise {n} nats" if np.isfinite(nats)
           else f"{char_label(c)}: the first character, which nothing predicts")
    return (f'<div class="col" title="{html.escape(tip, quote=True)}" style="width:1.75rem;text-align:center;'
            f'display:flex;flex-direction:column;gap:1px"><div style="background:{bg};color:{fg};font-size:1.15rem;'
            f'font-weight:600;border-radius:3px;height:1.8rem;line-height:1.8rem">{html.escape(glyph(c))}</div>'
            f'<div style="font-size:0.62rem;color:#495057;height:0.95rem">{n}</div>{"".join(cells)}</div>')


def surprise_legend_html(steps: int = 7) -> str:
    cells = []
    for v in np.linspace(0, MAX_NATS, steps):
        bg, fg = surprise_color(float(v))
        cells.append(f'<span style="display:inline-block;width:3.4em;text-align:center;background:{bg};color:{fg};'
                     f'font-size:0.75rem">{v:.0f}{"+" if v == MAX_NATS else ""}</span>')
    return ('<div style="margin:0.3rem 0 0.8rem 0;font-size:0.8rem">surprise, nats: ' + "".join(cells)
            + f' &nbsp; <span style="outline:2px solid {LOWER};padding:0 4px;font-weight:700">x</span> the guess '
            'that was right</div>')


def surprise_chart(text: str, nats: Sequence[float]) -> alt.Chart:
    """Each character's surprise as a bar (the strip's numbers as a chart, for a slide)."""
    data = pd.DataFrame({"position": np.arange(len(text)), "char": [glyph(c) for c in text],
                         "surprise": np.asarray(nats, dtype=float)})
    return alt.Chart(data).mark_bar().encode(
        x=alt.X("position:O", axis=_position_axis(text)),
        y=alt.Y("surprise:Q", title="surprise, nats"),
        color=alt.Color("surprise:Q", scale=alt.Scale(scheme="orangered"), legend=None),
        tooltip=["position", "char", alt.Tooltip("surprise:Q", format=".2f")],
    ).properties(height=180)
