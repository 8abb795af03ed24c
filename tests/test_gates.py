"""The numpy gate tracer against Keras's own LSTM, layer by layer.

Only the tests that compare with Keras (or read a model Keras trained) need Keras; they ask for it through
the `keras` fixture, so the others run without it, and under CI a missing or broken Keras fails them.
"""

import numpy as np
import pytest
from conftest import require

from charlstm.config import Config
from charlstm.insight.gates import (
    EXAMPLE,
    GATES,
    GateTrace,
    forgetters,
    saturation,
    sentence_boundaries,
    trace,
    trace_weights,
)
from charlstm.model.lstm_np import Stepper, Weights, run_layer, sigmoid
from charlstm.text.corpus import CorpusError, Vocab


@pytest.fixture
def keras():
    return require("keras")


def keras_layer_outputs(model, ids: np.ndarray) -> list[np.ndarray]:
    """Hidden states of every LSTM layer and the final logits, computed by Keras itself."""
    import keras

    names = [layer.name for layer in model.layers if layer.name.startswith("lstm_")] + ["logits"]
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    return [np.asarray(o)[0] for o in probe(ids[None, :], training=False)]


def randomise(model, rng) -> None:
    """Random weights at a larger scale than Glorot, so gates saturate and differences show."""
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()])


@pytest.mark.parametrize("layers,units", [(1, 7), (2, 16), (3, 5)])
def test_numpy_forward_equals_keras_on_random_weights(keras, layers, units):
    from charlstm.model.network import build_model

    rng = np.random.default_rng(layers * 10 + units)
    vocab = Vocab.build("abcdefghij .")
    model = build_model(Config(layers=layers, units=units, embedding=6, dropout=0.3), len(vocab))
    randomise(model, rng)
    ids = rng.integers(0, len(vocab), 40).astype(np.int32)
    expected = keras_layer_outputs(model, ids)
    tr = trace_weights(Weights.from_keras(model), vocab, vocab.decode(ids))
    for k in range(layers):
        np.testing.assert_allclose(tr.layers[k]["hidden"], expected[k], atol=1e-5, rtol=0)
    np.testing.assert_allclose(tr.logits, expected[-1], atol=1e-5, rtol=0)


def test_numpy_forward_equals_keras_on_a_trained_model(keras, trained_run):
    model = trained_run.keras_model()
    text = "The cat sat on the mat. Divya likes to eat."
    ids = trained_run.vocab.encode(text)
    expected = keras_layer_outputs(model, ids)
    tr = trace(trained_run, text)
    for k in range(trained_run.config.layers):
        np.testing.assert_allclose(tr.layers[k]["hidden"], expected[k], atol=1e-5, rtol=0)
    np.testing.assert_allclose(tr.logits, expected[-1], atol=1e-5, rtol=0)


def test_gates_follow_the_lstm_equations():
    """Recompute one step by hand from the recorded gates: c = f*c' + i*g, h = o*tanh(c)."""
    rng = np.random.default_rng(1)
    from charlstm.model.lstm_np import LayerWeights

    u, d = 4, 3
    lw = LayerWeights(rng.normal(size=(d, 4 * u)).astype(np.float32), rng.normal(size=(u, 4 * u)).astype(np.float32),
                      rng.normal(size=4 * u).astype(np.float32))
    x = rng.normal(size=(5, d)).astype(np.float32)
    _, _, _, rec = run_layer(lw, x, np.zeros(u, np.float32), np.zeros(u, np.float32), record=True)
    for t in range(1, 5):
        z = x[t] @ lw.kernel + rec["hidden"][t - 1] @ lw.recurrent + lw.bias
        np.testing.assert_allclose(rec["input"][t], sigmoid(z[:u]), atol=1e-6)  # Keras order: i, f, c, o
        np.testing.assert_allclose(rec["forget"][t], sigmoid(z[u:2 * u]), atol=1e-6)
        np.testing.assert_allclose(rec["candidate"][t], np.tanh(z[2 * u:3 * u]), atol=1e-6)
        np.testing.assert_allclose(rec["output"][t], sigmoid(z[3 * u:]), atol=1e-6)
        c = rec["forget"][t] * rec["cell"][t - 1] + rec["input"][t] * rec["candidate"][t]
        np.testing.assert_allclose(rec["cell"][t], c, atol=1e-6)
        np.testing.assert_allclose(rec["hidden"][t], rec["output"][t] * np.tanh(c), atol=1e-6)


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_fused_stepper_equals_keras_step_by_step_on_random_weights(keras, layers):
    """Stepper.step (one tanh for all four gates, the first layer looked up) against Keras's logits, 50 steps."""
    from charlstm.model.network import build_model

    rng = np.random.default_rng(100 + layers)
    vocab = Vocab.build("abcdefghij .")
    model = build_model(Config(layers=layers, units=9, embedding=5, dropout=0.3), len(vocab))
    randomise(model, rng)
    ids = rng.integers(0, len(vocab), 50).astype(np.int32)
    expected = np.asarray(model(ids[None, :], training=False))[0]  # (50, vocab): the logits after each character
    stepper = Stepper(Weights.from_keras(model))
    got = np.stack([stepper.step(int(i)) for i in ids])  # from the zero state, as Keras starts
    assert np.abs(expected).max() > 1  # large enough logits for a wrong gate to show
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)


def test_stepper_matches_sequence_forward(trained_run):
    w, v = trained_run.weights, trained_run.vocab
    ids = v.encode("Reena is not fat.")
    whole = trace_weights(w, v, v.decode(ids)).logits[-1]
    s = Stepper(w)
    s.feed(ids[:3])
    for i in ids[3:]:
        last = s.step(int(i))
    np.testing.assert_allclose(last, whole, atol=1e-5)


def test_trace_shapes_and_probabilities(trained_run):
    tr = trace(trained_run, EXAMPLE)
    T, units = len(EXAMPLE), trained_run.config.units
    assert tr.text == EXAMPLE and len(tr.layers) == trained_run.config.layers
    for rec in tr.layers:
        assert set(rec) == set(GATES) and all(a.shape == (T, units) for a in rec.values())
        for g in ("input", "forget", "output"):
            assert rec[g].min() >= 0 and rec[g].max() <= 1
    np.testing.assert_allclose(tr.probs.sum(axis=1), 1, atol=1e-5)
    top = tr.top_next(3, k=5)
    assert len(top) == 5 and top[0][1] >= top[-1][1]


def test_trace_names_missing_characters(trained_run):
    with pytest.raises(CorpusError, match="Z"):
        trace(trained_run, "Zebra")
    assert trace(trained_run, "Zebra", drop_unknown=True).text == "ebra"


def test_sentence_boundaries():
    assert sentence_boundaries(EXAMPLE) == [18]
    assert sentence_boundaries("No end here") == [] and sentence_boundaries("One. Two! Three? ") == [3, 8]


def test_forgetters_on_a_hand_checked_trace():
    """Forget gates written by hand; every expected number below is worked out on paper, not by the formula."""
    text = "abcdefgh. xy"  # the boundary is the '.' at 8; the window is the 6 characters 2..7 before it
    f = np.full((12, 4), 0.5, np.float32)  # (T, units)
    f[:, 0] = [0.9] * 8 + [0.2, 0.6, 0.9, 0.9]  # drops on the '.': before 0.9, at 0.2, drop 0.7
    f[:, 1] = [0.0, 0.0] + [0.6] * 6 + [0.9, 0.0, 0.6, 0.6]  # drops on the space after it; 0.0s outside the window
    f[:, 2] = [0.5] * 10 + [0.0, 0.0]  # drops only two characters later: not at the boundary
    f[:, 3] = [1.0] * 8 + [0.95, 0.95, 1.0, 1.0]  # barely: drop 0.05
    cell = np.arange(12 * 4, dtype=np.float32).reshape(12, 4)  # cell[t, u] = 4t + u
    rec = {g: np.full((12, 4), 0.5, np.float32) for g in GATES} | {"forget": f, "cell": cell}
    tr = GateTrace(text=text, layers=(rec,), logits=np.zeros((12, 3), np.float32), vocab=Vocab.build("abc"))
    got = [(x.unit, x.before, x.at, x.drop, x.cell_before, x.cell_after) for x in forgetters(tr, 0, 8, k=None)]
    assert got == [
        (0, pytest.approx(0.9), pytest.approx(0.2), pytest.approx(0.7), 28.0, 36.0),
        (1, pytest.approx(0.6), pytest.approx(0.0), pytest.approx(0.6), 29.0, 37.0),
        (3, pytest.approx(1.0), pytest.approx(0.95), pytest.approx(0.05), 31.0, 39.0),
        (2, pytest.approx(0.5), pytest.approx(0.5), pytest.approx(0.0), 30.0, 38.0),
    ]
    assert [x.unit for x in forgetters(tr, 0, 8, k=2)] == [0, 1]
    # at the last character there is no next one: it alone counts; a window of 2 averages f[9] and f[10]
    last = forgetters(tr, 0, 11, window=2, k=None)
    assert [x.unit for x in last] == [2, 3, 0, 1]  # drops 0.25, -0.025, -0.15, -0.3
    assert (last[0].before, last[0].at, last[0].drop) == (pytest.approx(0.25), 0.0, pytest.approx(0.25))
    assert (last[0].cell_before, last[0].cell_after) == (42.0, 46.0)
    with pytest.raises(ValueError, match="outside the text"):
        forgetters(tr, 0, 0)
    with pytest.raises(ValueError, match="outside the text"):
        forgetters(tr, 0, 12)


def test_forgetters_on_a_trained_model(trained_run):
    tr = trace(trained_run, EXAMPLE)
    top = forgetters(tr, 0, 18, k=4)
    assert len(top) == 4
    drops = [f.drop for f in top]
    assert drops == sorted(drops, reverse=True)
    with pytest.raises(ValueError):
        forgetters(tr, 0, 0)


def test_saturation_fractions():
    from charlstm.insight.gates import GateTrace

    forget = np.array([[0.05, 0.5], [0.95, 0.5], [0.05, 0.99], [0.5, 0.99]], np.float32)
    rec = {g: np.full((4, 2), 0.5, np.float32) for g in GATES}
    rec["forget"] = forget
    tr = GateTrace(text="abcd", layers=(rec,), logits=np.zeros((4, 3), np.float32), vocab=Vocab.build("abc"))
    low, high = saturation(tr, 0)["forget"]
    np.testing.assert_allclose(low, [0.5, 0.0])
    np.testing.assert_allclose(high, [0.25, 0.5])


# ---- a run of the classic tutorial's formulation: windows of 50 read from an empty state, input i / V
def keras_window_outputs(model, ids: np.ndarray) -> list[np.ndarray]:
    """Every LSTM layer's hidden states at every position, and the logits after the window, from Keras.

    The tutorial's last LSTM returns only its final step; a copy of it that returns every step, with
    the same weights, gives Keras's hidden states at the positions before.
    """
    import keras

    names = [layer.name for layer in model.layers if layer.name.startswith("lstm_")]
    probe = keras.Model(model.inputs, [model.get_layer(n).input for n in names]
                        + [model.get_layer(names[-1]).output, model.get_layer("logits").output])
    *inputs, last_final, logits = (np.asarray(o) for o in probe([ids[None, :]], training=False))
    hidden = [np.asarray(x)[0] for x in inputs[1:]]  # layer k's input is layer k-1's hidden states
    top = model.get_layer(names[-1])
    every_step = keras.layers.LSTM(top.units, return_sequences=True)
    every_step.build(inputs[-1].shape)
    every_step.set_weights(top.get_weights())
    full = np.asarray(every_step(inputs[-1]))[0]  # (50, units)
    np.testing.assert_allclose(full[-1], last_final[0], atol=1e-6)  # the copy is the layer
    return [*hidden, full, logits[0]]


@pytest.mark.parametrize("units", [7, 16])
def test_numpy_forward_equals_keras_on_a_random_tutorial_model(units, keras):
    from charlstm.config import PRESETS
    from charlstm.model.network import build_model

    rng = np.random.default_rng(units)
    vocab = Vocab.build("abcdefghij .")
    model = build_model(PRESETS["the tutorial, exactly"].replace(units=units), len(vocab))
    fixed = model.get_layer("embedding").get_weights()
    randomise(model, rng)
    model.get_layer("embedding").set_weights(fixed)  # the input stays i / V
    ids = rng.integers(0, len(vocab), 50).astype(np.int32)
    *hidden, logits = keras_window_outputs(model, ids)
    tr = trace_weights(Weights.from_keras(model), vocab, vocab.decode(ids), window=50)
    for k in range(2):
        np.testing.assert_allclose(tr.layers[k]["hidden"], hidden[k], atol=1e-5, rtol=0)
    np.testing.assert_allclose(tr.logits[-1], logits, atol=1e-5, rtol=0)


def test_numpy_forward_equals_keras_on_a_trained_tutorial_run(tutorial_run):
    model = tutorial_run.keras_model()
    text = "the cat sat on the mat. divya likes to eat. reena i"  # one window: 50 characters
    text = text[:tutorial_run.config.seq_len]
    ids = tutorial_run.vocab.encode(text)
    *hidden, logits = keras_window_outputs(model, ids)
    tr = trace(tutorial_run, text)
    for k in range(tutorial_run.config.layers):
        np.testing.assert_allclose(tr.layers[k]["hidden"], hidden[k], atol=1e-5, rtol=0)
    np.testing.assert_allclose(tr.logits[-1], logits, atol=1e-5, rtol=0)
    s = Stepper(tutorial_run.weights)  # the stepper behind generation, over the same window
    s.feed(ids[:1])
    for i in ids[1:]:
        last = s.step(int(i))
    np.testing.assert_allclose(last, logits, atol=1e-5)
