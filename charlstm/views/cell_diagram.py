"""One LSTM cell drawn as SVG with its live values at one character and unit: f × c_prev, i × candidate, o × tanh(c).

The drawing follows the tutorial's (Olah's) picture: the cell state runs along the top like a
conveyor belt, the forget gate scales it, the input gate adds the candidate, and the output gate
decides how much of tanh(c) the unit shows as h. Pure string building; the page puts it in st.html.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

from charlstm.views.charts import GATE_COLORS, glyph

INK, MUTED, BELT = "#1f2933", "#7b8794", "#3e4c59"


@dataclass(frozen=True)
class CellValues:
    char: str  # the character read at this step
    position: int
    layer: int
    unit: int
    c_prev: float
    f: float
    i: float
    g: float  # the candidate
    o: float
    c: float
    h: float

    @property
    def kept(self) -> float:
        return self.f * self.c_prev  # what the forget gate lets through of the old memory

    @property
    def written(self) -> float:
        return self.i * self.g  # what the input gate writes of the candidate

    @property
    def shown(self) -> float:
        return self.o * float(np.tanh(self.c))  # = h


def cell_values(tr, layer: int, unit: int, position: int) -> CellValues:
    """The values of one unit at one position of a gates.GateTrace (c_prev is 0 before the first character)."""
    rec = tr.layers[layer]
    if not 0 <= position < len(tr.text):
        raise ValueError(f"position {position} is outside the text (0 to {len(tr.text) - 1})")
    if not 0 <= unit < rec["cell"].shape[1]:
        raise ValueError(f"unit {unit} does not exist (0 to {rec['cell'].shape[1] - 1})")

    def v(name: str, t: int = position) -> float:
        return float(rec[name][t, unit])

    return CellValues(char=tr.text[position], position=position, layer=layer, unit=unit,
                      c_prev=v("cell", position - 1) if position else 0.0, f=v("forget"), i=v("input"),
                      g=v("candidate"), o=v("output"), c=v("cell"), h=v("hidden"))


def _t(x: float, y: float, s: str, size: int = 14, fill: str = INK, weight: int = 400, anchor: str = "middle",
       family: str = "system-ui,-apple-system,Segoe UI,sans-serif") -> str:
    return (f'<text x="{x:.0f}" y="{y:.0f}" font-size="{size}" fill="{fill}" font-weight="{weight}" '
            f'text-anchor="{anchor}" font-family="{family}">{html.escape(s)}</text>')


def _mono(x: float, y: float, s: str, size: int = 14, fill: str = INK, weight: int = 600, anchor: str = "middle"):
    return _t(x, y, s, size, fill, weight, anchor, "ui-monospace,SFMono-Regular,Menlo,monospace")


def _node(x: float, y: float, sym: str) -> str:
    return (f'<circle cx="{x}" cy="{y}" r="15" fill="#fff" stroke="{BELT}" stroke-width="2"/>'
            + _t(x, y + 6, sym, 19, BELT, 700))


def _gate(x: float, y: float, name: str, fn: str, value: float, color: str, lo: float = 0.0) -> str:
    """A gate box: its function, its name, its value as a number and as a filled bar."""
    w, h = 120, 74
    frac = (value - lo) / (1 - lo)  # 0..1 across the box
    bar_w = w - 24
    parts = [f'<rect x="{x - w / 2}" y="{y}" width="{w}" height="{h}" rx="10" fill="{color}" fill-opacity="0.08" '
             f'stroke="{color}" stroke-width="2"/>',
             _t(x, y + 19, f"{fn}  {name}", 13, color, 700),
             _mono(x, y + 44, f"{value:+.3f}" if lo < 0 else f"{value:.3f}", 18, color, 700),
             f'<rect x="{x - bar_w / 2}" y="{y + 55}" width="{bar_w}" height="7" rx="3.5" fill="{color}" '
             'fill-opacity="0.15"/>']
    if lo < 0:  # a bar from the middle, left for negative values
        mid = x
        left = mid + min(0.0, value) * bar_w / 2
        parts.append(f'<rect x="{left:.1f}" y="{y + 55}" width="{abs(value) * bar_w / 2:.1f}" height="7" rx="3.5" '
                     f'fill="{color}"/>')
    else:
        parts.append(f'<rect x="{x - bar_w / 2}" y="{y + 55}" width="{max(0.0, frac) * bar_w:.1f}" height="7" '
                     f'rx="3.5" fill="{color}"/>')
    return "".join(parts)


def _line(points: list[tuple[float, float]], color: str = BELT, width: float = 2, arrow: bool = True) -> str:
    d = " ".join(f"{'M' if k == 0 else 'L'}{x:.0f},{y:.0f}" for k, (x, y) in enumerate(points))
    end = ' marker-end="url(#charlstm-arrow)"' if arrow else ""
    return f'<path d="{d}" fill="none" stroke="{color}" stroke-width="{width}"{end}/>'


def cell_svg(v: CellValues) -> str:
    """The drawing, 960 x 460 in its own units, scaled to its container's width."""
    F, IN, G, O = (GATE_COLORS[k] for k in ("forget", "input", "candidate", "output"))
    belt_y, gate_y, mul_y, in_y = 112, 272, 192, 392
    x_f, x_i, x_g, x_o, x_plus, x_c, x_out = 250, 410, 550, 700, 480, 660, 850
    s = [f'<svg class="charlstm-cell" viewBox="0 0 960 460" width="100%" style="max-width:960px" '
         f'role="img" aria-label="LSTM cell: layer {v.layer + 1}, unit {v.unit}, at {html.escape(glyph(v.char))}" '
         'xmlns="http://www.w3.org/2000/svg">',
         '<defs><marker id="charlstm-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" '
         f'markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
         f'fill="{BELT}"/></marker></defs>',
         '<rect x="1" y="1" width="958" height="458" rx="16" fill="#fbfcfd" stroke="#d9e2ec"/>',
         _t(24, 36, f"Layer {v.layer + 1}, unit {v.unit}, reading “{glyph(v.char)}” (position {v.position})",
            17, INK, 700, "start")]
    # the cell state: the belt along the top, old memory in, new memory out
    box = (f'<rect x="{{x}}" y="{belt_y - 30}" width="126" height="60" rx="10" fill="#fff" stroke="{BELT}" '
           'stroke-width="2"/>')
    s += [_line([(150, belt_y), (x_f - 16, belt_y)], BELT, 4),
          _line([(x_f + 15, belt_y), (x_plus - 16, belt_y)], BELT, 4),
          _line([(x_plus + 15, belt_y), (x_c - 64, belt_y)], BELT, 4),
          _line([(x_c + 63, belt_y), (936, belt_y)], BELT, 4),
          _line([(x_out, belt_y + 2), (x_out, mul_y - 16)], BELT, 2),
          _t(936, belt_y - 10, "to the next step", 11, MUTED, 400, "end"),
          box.format(x=24), _t(87, belt_y - 9, "old memory c_prev", 12, MUTED),
          _mono(87, belt_y + 17, f"{v.c_prev:+.3f}", 17),
          box.format(x=x_c - 63), _t(x_c, belt_y - 9, "new memory c", 12, MUTED),
          _mono(x_c, belt_y + 17, f"{v.c:+.3f}", 17),
          _node(x_f, belt_y, "×"), _node(x_plus, belt_y, "+"),
          _mono(x_f - 40, belt_y - 44, f"f × c_prev = {v.kept:+.3f}", 14, F, 700, "start"),
          _mono(x_plus + 16, belt_y - 44, f"i × g = {v.written:+.3f}", 14, IN, 700, "start")]
    # the gates, from the input below
    s += [_line([(x_f, gate_y), (x_f, belt_y + 16)], F),
          _line([(x_i, gate_y), (x_i, mul_y), (x_plus - 16, mul_y)], IN),
          _line([(x_g, gate_y), (x_g, mul_y), (x_plus + 16, mul_y)], G),
          _node(x_plus, mul_y, "×"), _line([(x_plus, mul_y - 15), (x_plus, belt_y + 16)], IN),
          _gate(x_f, gate_y, "forget", "σ", v.f, F), _gate(x_i, gate_y, "input", "σ", v.i, IN),
          _gate(x_g, gate_y, "candidate", "tanh", v.g, G, lo=-1.0), _gate(x_o, gate_y, "output", "σ", v.o, O)]
    # the output: tanh(c) times the output gate is h
    node_y = gate_y + 37
    s += [f'<rect x="{x_out - 30}" y="{mul_y - 15}" width="60" height="30" rx="8" fill="#fff" stroke="{BELT}" '
          'stroke-width="2"/>', _t(x_out, mul_y + 5, "tanh", 13, BELT, 700),
          _line([(x_out, mul_y + 15), (x_out, node_y - 16)]),
          _line([(x_o + 60, node_y), (x_out - 16, node_y)], O),
          _node(x_out, node_y, "×"), _line([(x_out + 15, node_y), (936, node_y)], BELT, 3),
          _mono(936, node_y + 34, f"h = {v.h:+.3f}", 16, INK, 700, "end"),
          _mono(936, node_y + 56, f"= o × tanh(c) = {v.shown:+.3f}", 13, O, 700, "end")]
    # the input under the gates
    s += [_line([(60, in_y), (x_o, in_y)], MUTED, 2, arrow=False)]
    s += [_line([(x, in_y), (x, gate_y + 77)], MUTED, 1.5) for x in (x_f, x_i, x_g, x_o)]
    s += [_t(24, in_y + 30, f"In: the character “{glyph(v.char)}” and the layer's h from the step before.", 13,
             MUTED, 400, "start"),
          _t(24, in_y + 50, "Each gate is σ (0 closed, 1 open) or tanh (−1 to 1) of a weighted sum of these.", 13,
             MUTED, 400, "start"), "</svg>"]
    return "".join(s)
