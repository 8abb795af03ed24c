"""Clamping a unit: a planted tiny model whose clamped values are known by hand, and the demo model's story."""

import dataclasses
import math

import numpy as np
import pytest
from test_cli import cli

from charlstm.insight.gates import trace_weights
from charlstm.insight.interventions import STORY, Clamp, ClampedStepper, compare, story_clamp
from charlstm.model.lstm_np import LayerWeights, Weights
from charlstm.runs.store import demo_run
from charlstm.text.corpus import Vocab

VOCAB = Vocab(("a", "b", "."))


def planted() -> Weights:
    """One layer of 2 units, no recurrence: every gate is fixed by the character read.

    Unit 0: input gate sigmoid(0) = 1/2, candidate tanh(1), output sigmoid(2); its forget gate is
    sigmoid(4) on a letter and sigmoid(-4) on the period (it forgets at the period). Unit 1: all 0 bias.
    The output layer reads unit 0 into the logit of "a" and unit 1 into "b".
    """
    u = 2
    emb = np.eye(3, dtype=np.float32)  # one-hot embedding
    kernel = np.zeros((3, 4 * u), np.float32)
    kernel[:, u + 0] = [4.0, 4.0, -4.0]  # forget gate of unit 0 per character
    bias = np.zeros(4 * u, np.float32)
    bias[2 * u + 0] = 1.0  # candidate of unit 0: tanh(1)
    bias[3 * u + 0] = 2.0  # output gate of unit 0: sigmoid(2)
    dense_w = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], np.float32)
    return Weights(emb, (LayerWeights(kernel, np.zeros((u, 4 * u), np.float32), bias),), dense_w,
                   np.zeros(3, np.float32))


def sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def hand_cell(text: str, forget_at_one_from: int | None) -> list[float]:
    """Unit 0's cell state after each character, by hand: c = f c + (1/2) tanh(1)."""
    c, out = 0.0, []
    for t, ch in enumerate(text):
        f = sig(-4.0 if ch == "." else 4.0)
        if forget_at_one_from is not None and t >= forget_at_one_from:
            f = 1.0
        c = f * c + 0.5 * math.tanh(1.0)
        out.append(c)
    return out


def logit_a(c: float) -> float:
    return sig(2.0) * math.tanh(c)  # the hidden state of unit 0 is the logit of "a"


def test_the_clamp_changes_exactly_what_the_hand_computation_says():
    text, start = "aab.ab", 3  # the clamp starts at the period, where unit 0 would forget
    cmp = compare(planted(), VOCAB, text, Clamp(layer=0, unit=0, target="forget", value=1.0, start=start), length=0)
    free, held = hand_cell(text, None), hand_cell(text, start)
    for t in range(len(text)):
        for probs, cells in ((cmp.plain, free), (cmp.clamped, held)):
            la, lb = logit_a(cells[t]), 0.5 * math.tanh(0.0)  # unit 1: i = o = 1/2, g = tanh(0) = 0
            z = np.exp([la, lb, 0.0])
            np.testing.assert_allclose(probs[t], z / z.sum(), rtol=1e-5, atol=1e-6)
    assert held[start] == pytest.approx(free[start - 1] + 0.5 * math.tanh(1))  # nothing forgotten at the period
    assert not np.allclose(cmp.plain[start:], cmp.clamped[start:])  # the clamp changed the prediction ...
    np.testing.assert_array_equal(cmp.plain[:start], cmp.clamped[:start])  # ... and nothing before it
    assert cmp.divergence[:start].max() == 0 and cmp.divergence[start] > 0.01


@pytest.mark.parametrize("target,value", [("input", 0.0), ("output", 1.0), ("cell", 3.0), ("forget", 0.0)])
def test_every_target_leaves_the_past_alone_and_holds_its_value(target, value):
    rng = np.random.default_rng(1)
    v = Vocab(tuple("abcde."))
    layers = (LayerWeights(rng.normal(0, 0.7, (4, 20)).astype(np.float32),
                           rng.normal(0, 0.7, (5, 20)).astype(np.float32), rng.normal(0, 0.5, 20).astype(np.float32)),
              LayerWeights(rng.normal(0, 0.7, (5, 12)).astype(np.float32),
                           rng.normal(0, 0.7, (3, 12)).astype(np.float32), rng.normal(0, 0.5, 12).astype(np.float32)))
    w = Weights(rng.normal(0, 1, (6, 4)).astype(np.float32), layers, rng.normal(0, 1, (3, 6)).astype(np.float32),
                np.zeros(6, np.float32))
    text, start = "abcde.abcde.ab", 6
    clamp = Clamp(layer=0, unit=2, target=target, value=value, start=start)
    cmp = compare(w, v, text, clamp, length=0)
    np.testing.assert_allclose(cmp.plain, trace_weights(w, v, text).probs, rtol=1e-5, atol=1e-7)  # the plain path
    np.testing.assert_array_equal(cmp.plain[:start], cmp.clamped[:start])
    assert not np.allclose(cmp.plain[start:], cmp.clamped[start:])
    if target == "cell":
        s = ClampedStepper(w, clamp)
        s.feed_all(v.encode(text))
        assert s.c[0][2] == pytest.approx(value)
    # feeding at once or one character at a time gives the same thing
    one = ClampedStepper(w, clamp)
    steps = np.array([one.step(i) for i in v.encode(text)])
    np.testing.assert_allclose(steps, ClampedStepper(w, clamp).feed_all(v.encode(text)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("clamp,message", [
    (Clamp(0, 9, "forget", 1.0, 0), "unit 9 does not exist"),
    (Clamp(3, 0, "forget", 1.0, 0), "layer 4 does not exist"),
    (Clamp(0, 0, "hidden", 1.0, 0), "cannot clamp 'hidden'"),
    (Clamp(0, 0, "forget", 2.0, 0), "between 0 and 1"),
    (Clamp(0, 0, "forget", 1.0, 99), "after the text ends"),
])
def test_bad_clamps_are_refused_with_a_reason(clamp, message):
    with pytest.raises(ValueError, match=message):
        compare(planted(), VOCAB, "ab.a", clamp, length=0)


def test_continuations_share_the_seed_and_the_plain_one_is_what_generate_gives():
    from charlstm.model.sampling import generate

    run = demo_run()
    clamp = story_clamp(run.weights, run.vocab)
    cmp = compare(run.weights, run.vocab, STORY, clamp, length=80, temperature=0.5, seed=3)
    assert cmp.continuation_plain == "".join(generate(run.weights, run.vocab, STORY, 80, 0.5, seed=3))
    assert len(cmp.continuation_clamped) == 80
    # the clamp acts from its start and not before: up to it both readings are the same model on the same text
    assert cmp.divergence[:clamp.start].max() == 0.0
    assert cmp.divergence[clamp.start:].max() > 0.0


def test_the_story_clamps_the_demo_models_strongest_forgetter_at_the_boundary():
    run = demo_run()
    clamp = story_clamp(run.weights, run.vocab)
    assert (clamp.target, clamp.value, clamp.start) == ("forget", 1.0, STORY.index("."))
    tr = trace_weights(run.weights, run.vocab, STORY)
    f = tr.layers[clamp.layer]["forget"][:, clamp.unit]
    assert f[clamp.start - 6:clamp.start].mean() > 0.9 and f[clamp.start:clamp.start + 2].min() < 0.1


def test_cli_clamp(tmp_path):
    r = cli("clamp", "demo", "--text", STORY, "--layer", "2", "--unit", "72", "--gate", "forget", "--value", "1",
            "--from", "18", "--at", "19", "--length", "40", home=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "layer 2, unit 72: forget held at 1 from position 18 ('.') on" in r.stdout
    assert "untouched:" in r.stdout and "clamped:" in r.stdout
    r = cli("clamp", "demo", "--unit", "500", home=tmp_path)
    assert r.returncode != 0 and r.stderr.strip().splitlines()[-1].startswith("error: unit 500 does not exist")


def test_the_divergence_is_never_negative_even_where_the_clamp_barely_moves_anything():
    """KL(p || q) >= 0; in float32 a prediction the clamp barely touched summed to -8.5e-08 here ("-0.0000 nats")."""
    run = demo_run()
    cmp = compare(run.weights, run.vocab, STORY, story_clamp(run.weights, run.vocab), length=0)
    p, q = np.clip(cmp.plain, 1e-12, 1), np.clip(cmp.clamped, 1e-12, 1)
    raw = (p * (np.log(p) - np.log(q))).sum(axis=-1)
    np.testing.assert_allclose(cmp.divergence, np.maximum(raw, 0))
    # where rounding makes the sum negative, it reads 0, whatever this machine's BLAS does: a prediction whose
    # float32 probabilities sum a little under 1 against one a little over (the raw sum here is -1e-3)
    rounded = dataclasses.replace(cmp, plain=np.array([[0.4995, 0.4995]], np.float32),
                                  clamped=np.array([[0.5, 0.5]], np.float32))
    assert (rounded.plain * np.log(rounded.plain / rounded.clamped)).sum() < 0
    assert rounded.divergence.tolist() == [0.0]
