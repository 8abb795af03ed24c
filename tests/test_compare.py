"""Two runs side by side: the planted unit matched to its copy in a permuted model, the losses and where they part."""

import numpy as np
import pytest
from planted import AFTER, DOT, VOCAB, planted, planted_text

from charlstm.insight.compare import Side, common_text, compare, match_units
from charlstm.text.corpus import Vocab

PERM = np.random.default_rng(5).permutation(16)


def test_the_planted_units_match_their_copies_in_a_permuted_model():
    a = Side("A", planted(seed=0), VOCAB)
    b = Side("B", planted(seed=1, perm=PERM), VOCAB)  # other noise, units in another order
    c = compare(a, b, planted_text(1500))
    by_unit = {(m.layer_a, m.unit_a): m for m in c.matches}
    for unit in (AFTER, DOT):
        m = by_unit[(0, unit)]
        assert (m.layer_b, m.unit_b) == (0, PERM[unit]) and m.r > 0.99 and m.mutual
    assert {(m.layer_a, m.unit_a) for m in c.matches[:2]} == {(0, AFTER), (0, DOT)}  # best |r| first
    assert len(c.matches) == 16


def test_the_same_model_permuted_matches_every_unit_and_loses_the_same():
    w = planted(seed=0)
    c = compare(Side("A", w, VOCAB), Side("B", planted(seed=0, perm=PERM), VOCAB), planted_text(800))
    assert np.nanmax(np.abs(c.diff)) < 1e-5 and abs(c.mean_a - c.mean_b) < 1e-6
    assert all(m.unit_b == PERM[m.unit_a] and m.mutual for m in c.matches if abs(m.r) > 0)


def test_the_model_that_ignores_the_full_stop_is_surprised_by_the_capitals():
    text = planted_text(600)
    c = compare(Side("reads", planted(), VOCAB), Side("ignores", planted(reads_after=False), VOCAB), text)
    assert np.isnan(c.loss_a[0]) and np.isnan(c.loss_b[0])
    top = c.disagreements(10)
    assert all(d.char in "AB" and text[d.position - 2:d.position] == ". " for d in top)
    assert all(d.diff < -1 for d in top)  # A, which reads the full stop, is far less surprised
    assert c.mean_a < c.mean_b


def test_only_characters_both_know_are_read():
    a = Side("A", None, Vocab.build("abc .A"))
    b = Side("B", None, Vocab.build("abcd ."), lowercase=True)
    shown, ta, tb, dropped = common_text("Abd. cAx", a, b)
    assert (shown, ta, tb, dropped) == ("Ab. cA", "Ab. cA", "ab. ca", ("d", "x"))


def test_bad_layers_and_empty_texts_say_why():
    a = Side("A", planted(), VOCAB)
    with pytest.raises(ValueError, match="run B has layers 1 to 1; no layer 3"):
        compare(a, a, "ab. Ab", layers_b=(2,))
    with pytest.raises(ValueError, match="fewer than two characters"):
        compare(a, a, "xyz")


def test_a_constant_unit_matches_nothing():
    x = np.random.default_rng(0).normal(size=(50, 3))
    const = np.ones((50, 1))
    (m,) = [m for m in match_units([const], [x])]
    assert m.r == 0.0
