"""Components: NMF and PCA of a layer's activations find the planted unit; the map of the hidden states."""

import numpy as np
import pytest
from planted import AFTER, VOCAB, after_full_stop, planted, planted_text

from charlstm.insight.components import components, contexts, factorise, method_for, project
from charlstm.insight.gates import trace_weights


@pytest.fixture(scope="module")
def planted_trace():
    text = planted_text(2000)
    return trace_weights(planted(units=16), VOCAB, text)


def test_nmf_on_the_input_gate_finds_the_planted_unit(planted_trace):
    c = components(planted_trace, 0, "input", k=8)
    assert c.method == "nmf" and len(c.components) == 8
    y = after_full_stop(planted_trace.text)
    found = [comp for comp in c.components if comp.top_units[0][0] == AFTER]
    assert found, [comp.top_units[:2] for comp in c.components]
    assert np.corrcoef(found[0].strengths, y)[0, 1] > 0.95
    assert found[0].label == "sentence-boundary" and found[0].label_r > 0.9  # the Units page's name for it
    shares = [comp.share for comp in c.components]
    assert shares == sorted(shares, reverse=True) and abs(sum(shares) - 1) < 1e-9
    assert np.all(c.strengths >= 0) and c.strengths.shape == (len(planted_trace.text), 8)


def test_pca_on_the_cell_state_finds_the_planted_unit(planted_trace):
    c = components(planted_trace, 0, "cell", k=8)
    assert c.method == "pca"
    assert any(comp.top_units[0][0] == AFTER for comp in c.components)
    for comp in c.components:  # the sign convention: the largest loading is positive
        assert comp.top_units[0][1] > 0
    explained = [comp.share for comp in c.components]
    assert explained == sorted(explained, reverse=True) and sum(explained) <= 1 + 1e-9


def test_pca_reconstructs_and_nmf_refuses_signed_values():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)) @ rng.normal(size=(3, 10))  # rank 3
    W, H, shares = factorise(X, 3, "pca")
    np.testing.assert_allclose(W @ H + X.mean(axis=0), X, atol=1e-8)
    assert abs(shares.sum() - 1) < 1e-9
    with pytest.raises(ValueError, match="non-negative"):
        factorise(X, 3, "nmf")
    with pytest.raises(ValueError, match="k must be 1 to 10"):
        factorise(np.abs(X), 11, "nmf")
    assert method_for("forget") == "nmf" and method_for("hidden") == "pca"
    with pytest.raises(ValueError, match="unknown quantity"):
        method_for("attention")


def test_the_map_separates_what_the_planted_unit_holds(planted_trace):
    hidden = planted_trace.layers[0]["hidden"]
    p = project(hidden)
    assert p.xy.shape == (len(planted_trace.text), 2) and 0 < p.explained[1] <= p.explained[0] < 1
    y = after_full_stop(planted_trace.text).astype(bool)
    # one of the two axes tells the characters after a full stop from the rest
    gaps = [abs(p.xy[y, a].mean() - p.xy[~y, a].mean()) / p.xy[:, a].std() for a in (0, 1)]
    assert max(gaps) > 1.0


def test_contexts_mark_the_character_on_one_line():
    assert contexts("ab\ncd", before=2, after=1) == ["[a]b", "a[b]↵", "ab[↵]c", "b↵[c]d", "↵c[d]"]
