"""Minimal pairs: the alignment, the difference and the units that change most."""

import numpy as np

from charlstm.insight.gates import trace
from charlstm.insight.pairs import GAP, align, changed_units, pair
from charlstm.runs.store import demo_run


def test_align_pairs_equal_characters_and_leaves_gaps():
    cols = align("eat. Reena", "eat Reena")
    assert cols.shape == (10, 2)
    assert [tuple(c) for c in cols[:5]] == [(0, 0), (1, 1), (2, 2), (3, GAP), (4, 3)]
    assert (cols[4:, 0] - cols[4:, 1] == 1).all()
    cols = align("abc", "axc")  # a replaced character pairs with its replacement
    assert [tuple(c) for c in cols] == [(0, 0), (1, 1), (2, 2)]
    assert [tuple(c) for c in align("", "ab")] == [(GAP, 0), (GAP, 1)]


def test_the_difference_is_zero_before_the_edit_and_the_top_unit_changes_most():
    run = demo_run()
    a, b = "Divya likes to eat. Reena is not fat.", "Divya likes to eat Reena is not fat."
    p = pair(trace(run, a), trace(run, b))
    va, vb, diff = p.aligned(1, "cell")
    assert np.isnan(diff[18]).all() and np.isnan(vb[18]).all() and not np.isnan(va[18]).any()  # the period
    assert np.abs(diff[:18]).max() == 0  # same characters read from the same memory: nothing differs yet
    np.testing.assert_array_equal(va[19:], trace(run, a).layers[1]["cell"][19:])
    top = changed_units(p, 1, "cell", k=5)
    means = np.nanmean(np.abs(diff[p.both]), axis=0)
    assert [c.unit for c in top] == list(np.argsort(-means)[:5])
    assert top[0].mean > 0.05 and top[0].column > 18
    assert abs(top[0].largest) == np.abs(diff[p.both][:, top[0].unit]).max()
    assert changed_units(pair(trace(run, a), trace(run, a)), 0, "forget")[0].mean == 0
