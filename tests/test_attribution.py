"""Attribution: our numpy backward pass against TensorFlow's GradientTape, integrated gradients' completeness,
and a planted model whose prediction rests on one full stop."""

import numpy as np
import pytest
from conftest import require
from planted import AFTER, DOT, TEXT, VOCAB, planted

from charlstm.config import Config
from charlstm.insight.attribution import Target, attribute, top_characters, value_and_grad
from charlstm.model.lstm_np import Weights
from charlstm.text.corpus import CorpusError, Vocab

TF_VOCAB = Vocab.build("abcdefghij .")


@pytest.fixture(scope="module")
def tiny_keras():
    """A tiny two-layer model of build_model's, with random weights large enough that gates saturate."""
    require("keras")
    require("tensorflow")
    from charlstm.model.network import build_model

    model = build_model(Config(layers=2, units=7, embedding=5, dropout=0.3), len(TF_VOCAB))
    rng = np.random.default_rng(4)
    model.set_weights([rng.normal(0, 0.6, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def tape_gradient(model, ids: np.ndarray, target: Target, char_id: int | None = None) -> tuple[float, np.ndarray]:
    """The target at the last position and its gradient on the embedded inputs, by TensorFlow's GradientTape."""
    import tensorflow as tf

    emb = tf.constant(model.get_layer("embedding").get_weights()[0][ids][None])  # (1, T, emb)
    with tf.GradientTape() as tape:
        tape.watch(emb)
        x = emb
        if target.kind == "next":
            for i in range(2):
                x = model.get_layer(f"lstm_{i}")(x, training=False)
            logits = model.get_layer("logits")(x)
            y = tf.nn.log_softmax(logits[0, -1])[char_id]
        else:  # step the layers' own cells, reading the cell state and the gates off Keras's weights
            for i in range(target.layer + 1):
                cell = model.get_layer(f"lstm_{i}").cell
                h = c = tf.zeros((1, cell.units))
                hs = []
                for t in range(x.shape[1]):
                    z = x[:, t] @ cell.kernel + h @ cell.recurrent_kernel + cell.bias
                    f_gate = tf.sigmoid(z[:, cell.units:2 * cell.units])
                    h, (_, c) = cell(x[:, t], [h, c], training=False)
                    hs.append(h)
                x = tf.stack(hs, axis=1)
            y = (c if target.kind == "cell" else f_gate)[0, target.unit]
    return float(y), tape.gradient(y, emb).numpy()[0]


@pytest.mark.parametrize("target", [Target("next"), Target("cell", 0, 3), Target("forget", 1, 5), Target("cell", 1, 2)],
                         ids=["next", "cell-layer1", "forget-layer2", "cell-layer2"])
def test_gradients_equal_tensorflows_gradient_tape(tiny_keras, target):
    rng = np.random.default_rng(11)
    ids = rng.integers(0, len(TF_VOCAB), 30).astype(np.int32)
    w = Weights.from_keras(tiny_keras)
    x = np.asarray(w.embedding, np.float64)[ids][None]
    char_id = 4 if target.kind == "next" else None
    value, grad = value_and_grad(w, x, target, char_id)
    want_value, want_grad = tape_gradient(tiny_keras, ids, target, char_id)
    assert abs(value[0] - want_value) < 1e-4
    assert np.abs(grad[0]).max() > 1e-3  # something flowed back, so the comparison means something
    np.testing.assert_allclose(grad[0], want_grad, atol=1e-4, rtol=0)


@pytest.mark.parametrize("target,baseline", [(Target("next"), None), (Target("next"), " "),
                                             (Target("hidden", 1, 5), None), (Target("input", 0, 1), "a")])
def test_integrated_gradients_sum_to_the_change_from_the_baseline(target, baseline):
    rng = np.random.default_rng(2)
    w = Weights(rng.normal(0, 1, (12, 5)).astype(np.float32),
                tuple(_random_layer(rng, d, 6) for d in (5, 6)), rng.normal(0, 1, (6, 12)).astype(np.float32),
                rng.normal(0, 0.5, 12).astype(np.float32))
    text = "abc de.fgh ij aj. bd"
    a = attribute(w, TF_VOCAB, text, 15, target, method="ig", steps=256, baseline=baseline)
    change = a.value - a.baseline_value
    assert abs(change) > 0.05  # a real change to account for
    assert abs(a.total - change) <= 0.01 * abs(change)
    assert np.all(a.scores[16:] == 0)  # nothing after the position counts
    coarse = attribute(w, TF_VOCAB, text, 15, target, method="ig", steps=2, baseline=baseline)
    assert abs(coarse.total - change) > abs(a.total - change)  # more steps, closer


def _random_layer(rng, d: int, u: int):
    from charlstm.model.lstm_np import LayerWeights

    return LayerWeights(rng.normal(0, 0.7, (d, 4 * u)).astype(np.float32),
                        rng.normal(0, 0.7, (u, 4 * u)).astype(np.float32), rng.normal(0, 0.5, 4 * u).astype(np.float32))


@pytest.mark.parametrize("method", ["ig", "gxi"])
def test_a_planted_model_looks_at_the_full_stop(method):
    w = planted()
    after = [t + 1 for t, c in enumerate(TEXT[:-1]) if c == "."]
    for t in after:
        a = attribute(w, VOCAB, TEXT, t, method=method)
        assert a.target.char in "AB" and a.what == f"log p({a.target.char!r} next)"
        (pos, char, score), *_ = top_characters(a)
        assert (pos, char) == (t - 1, ".") and score > 0
        rest = np.delete(a.scores, t - 1)
        assert score > 5 * np.abs(rest).max()
    # the planted unit's own cell state, explained: all of it is the full stop one step back
    t = after[2]
    a = attribute(w, VOCAB, TEXT, t, Target("cell", 0, AFTER), method="ig", steps=128)
    assert a.what == "unit 1's cell state in layer 1"
    assert a.value > 0.8 and abs(a.scores[t - 1] - a.total) < 0.02 * a.total
    # a character that comes after no full stop: DOT's state there is 0, and so is every attribution
    b = attribute(w, VOCAB, TEXT, 3, Target("hidden", 0, DOT), method="ig")
    assert abs(b.value) < 1e-9 and np.abs(b.scores).max() < 1e-9


def test_a_window_run_reads_only_its_window():
    w = planted()
    t = TEXT.index(". A") + 1
    full = attribute(w, VOCAB, TEXT, t, method="gxi")
    windowed = attribute(w, VOCAB, TEXT, t, method="gxi", window=4)
    assert windowed.start == t - 3 and np.all(windowed.scores[:t - 3] == 0) and np.any(full.scores[:t - 3] != 0)
    assert top_characters(windowed)[0][:2] == (t - 1, ".")


def test_bad_requests_say_why():
    w = planted()
    with pytest.raises(ValueError, match="position must be 0 to"):
        attribute(w, VOCAB, "ab. A", 5)
    with pytest.raises(ValueError, match="unknown method"):
        attribute(w, VOCAB, "ab. A", 2, method="saliency")
    with pytest.raises(ValueError, match="unit 16 is outside"):
        attribute(w, VOCAB, "ab. A", 2, Target("cell", 0, 16))
    with pytest.raises(ValueError, match="layer 2 is outside"):
        attribute(w, VOCAB, "ab. A", 2, Target("cell", 1, 0))
    with pytest.raises(ValueError, match="not in the model's vocabulary"):
        attribute(w, VOCAB, "ab. A", 2, method="ig", baseline="z")
    with pytest.raises(CorpusError):
        attribute(w, VOCAB, "xyz", 1)


def test_the_shipped_model_adds_up_from_a_space_and_says_when_the_zero_embedding_does_not():
    from charlstm.insight.attribution import neutral_char
    from charlstm.runs.store import demo_run

    run = demo_run()
    text = "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun."
    t = text.index(" Juliet")  # the space before it: why a capital J?
    assert neutral_char(run.vocab) == " "
    a = attribute(run.weights, run.vocab, text, t, method="ig", steps=256, baseline=" ")
    assert a.target.char == "J" and a.baseline == " " and a.gap < 0.05
    b = attribute(run.weights, run.vocab, text, t, method="ig", steps=256, baseline=None)
    assert b.baseline == "zero" and b.gap > 1  # measured: the sum misses by thousands of times the change
    assert attribute(run.weights, run.vocab, text, t, method="gxi").gap is None
