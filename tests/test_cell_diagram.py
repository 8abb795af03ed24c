"""The cell diagram: its values are the trace's, its terms add up, its text is escaped."""

import re

import numpy as np
import pytest

from charlstm.insight.gates import EXAMPLE, trace
from charlstm.runs.store import demo_run
from charlstm.views.cell_diagram import cell_svg, cell_values


def test_values_are_the_traces_and_the_terms_add_up_to_the_new_memory():
    tr = trace(demo_run(), EXAMPLE)
    rec = tr.layers[1]
    for t in (0, 18, 19):
        v = cell_values(tr, 1, 72, t)
        assert v.c_prev == (float(rec["cell"][t - 1, 72]) if t else 0.0)
        assert v.kept + v.written == pytest.approx(v.c, abs=1e-5)  # c = f c_prev + i g
        assert v.shown == pytest.approx(v.h, abs=1e-5)  # h = o tanh(c)
    svg = cell_svg(cell_values(tr, 1, 72, 19))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    v = cell_values(tr, 1, 72, 19)
    for s in (f"f × c_prev = {v.kept:+.3f}", f"i × g = {v.written:+.3f}", f"h = {v.h:+.3f}", f"{v.f:.3f}",
              f"{v.c_prev:+.3f}", f"{v.c:+.3f}", "reading “␣” (position 19)"):
        assert s in svg, s
    with pytest.raises(ValueError, match="outside the text"):
        cell_values(tr, 1, 72, len(tr.text))


def test_user_text_is_escaped():
    tr = trace(demo_run(), "a&b")  # "<" is not in the demo model's vocabulary; "&" is
    svg = cell_svg(cell_values(tr, 0, 3, 1))
    assert "“&amp;”" in svg and not re.search(r"“&”", svg)
    assert np.isfinite(cell_values(tr, 0, 3, 2).c)
