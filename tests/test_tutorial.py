"""The classic tutorial's formulation: its exact model, its fixed input, its generation, its config and its pages."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import make_text, require

from charlstm.config import LATER_FIELDS, PRESETS, Config
from charlstm.insight.gates import trace, trace_weights
from charlstm.model.lstm_np import Stepper, Weights
from charlstm.model.sampling import generate, window_logits
from charlstm.serve import settings as settings_mod
from charlstm.text import window
from charlstm.text.corpus import Vocab
from charlstm.views import comparison

keras = require("keras")

TUTORIAL = PRESETS["the tutorial, exactly"]
ROOT = Path(__file__).resolve().parents[1]


def the_tutorials_model(n_vocab: int):
    """The tutorial's own code: Sequential LSTM(300, input_shape=(50, 1)) ... Dense(softmax), fed X / n_vocab."""
    model = keras.Sequential([
        keras.Input(shape=(50, 1)),
        keras.layers.LSTM(300, return_sequences=True),
        keras.layers.Dropout(0.2),
        keras.layers.LSTM(300),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(n_vocab, activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    return model


# ---- the preset's model
def test_preset_is_the_tutorials_configuration():
    c = TUTORIAL
    assert (c.formulation, c.seq_len, c.layers, c.units, c.dropout, c.embedding, c.lowercase) == (
        "window", 50, 2, 300, 0.2, 1, True)
    assert c.learning_rate == pytest.approx(1e-3) and c.clipnorm == 0  # Adam as Keras makes it by default


def test_preset_model_has_exactly_the_tutorials_layers_and_shapes():
    from charlstm.model.network import build_model, check_architecture

    V = 39  # tiny Shakespeare, lowercased
    ours = build_model(TUTORIAL, V)
    check_architecture(ours, TUTORIAL, V)
    layers = [(type(layer).__name__, tuple(layer.output.shape)) for layer in ours.layers]
    assert layers == [("InputLayer", (None, 50)), ("Embedding", (None, 50, 1)), ("LSTM", (None, 50, 300)),
                      ("Dropout", (None, 50, 300)), ("LSTM", (None, 300)), ("Dropout", (None, 300)),
                      ("Dense", (None, V)), ("Softmax", (None, V))]
    assert [ours.get_layer(f"dropout_{i}").rate for i in range(2)] == [0.2, 0.2]
    assert isinstance(ours.optimizer, keras.optimizers.Adam) and ours.optimizer.clipnorm is None
    assert float(ours.optimizer.learning_rate) == pytest.approx(1e-3)
    assert isinstance(ours.loss, keras.losses.SparseCategoricalCrossentropy) and not ours.loss.from_logits

    # the tutorial's own model has the same trainable weights, shape for shape...
    ref = the_tutorials_model(V)
    assert [w.shape for w in ours.trainable_weights] == [w.shape for w in ref.trainable_weights]
    assert ours.count_params() - V == ref.count_params() == 4 * 300 * (1 + 300 + 1) + 4 * 300 * (300 + 300 + 1) + (
        300 * V + V)  # the only extra: the V fixed inputs i / V
    # ... and, given them, the same outputs: our ids through the fixed embedding are the tutorial's X / V
    rng = np.random.default_rng(0)
    ref.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in ref.get_weights()])
    for a, b in zip(ours.trainable_weights, ref.trainable_weights, strict=True):
        a.assign(b)
    ids = rng.integers(0, V, (4, 50)).astype(np.int32)
    np.testing.assert_allclose(ours(ids, training=False), ref((ids / V)[..., None].astype(np.float32), training=False),
                               atol=1e-6)
    # and the same loss: sparse targets give the tutorial's categorical cross-entropy on one-hot targets
    y = rng.integers(0, V, 4)
    p = ours(ids, training=False)
    sparse = float(keras.losses.SparseCategoricalCrossentropy()(y, p))
    onehot = float(keras.losses.CategoricalCrossentropy()(keras.utils.to_categorical(y, V), p))
    assert sparse == pytest.approx(onehot, rel=1e-6)


def test_fixed_input_embedding_is_i_over_v_and_stays_fixed_through_training(tiny_corpus, store):
    from charlstm.model.network import build_model
    from charlstm.training.trainer import train

    config = TUTORIAL.replace(units=8, batch_size=64, learning_rate=1e-2, epochs=1, seed=1)
    t = train(tiny_corpus, config)
    V = len(t.vocab)
    expected = (np.arange(V) / V).astype(np.float32)[:, None]
    np.testing.assert_array_equal(window.scaled_inputs(V), expected)
    np.testing.assert_array_equal(t.model.get_layer("embedding").get_weights()[0], expected)
    assert not t.model.get_layer("embedding").trainable
    # the rest did train: the LSTM moved away from the weights it starts from with this seed
    keras.utils.set_random_seed(config.seed)
    fresh = build_model(config, V)
    assert not np.allclose(fresh.get_layer("lstm_0").get_weights()[0], t.model.get_layer("lstm_0").get_weights()[0])
    # stored, reloaded and trained on: still i / V, in the numpy copy and in Keras
    run = store.save(t, tiny_corpus)
    np.testing.assert_array_equal(run.weights.embedding, expected)
    more = train(tiny_corpus, config.replace(epochs=2), resume=run)
    assert more.epochs_done == 2
    np.testing.assert_array_equal(more.model.get_layer("embedding").get_weights()[0], expected)


def test_windows_are_every_start_shuffled_and_validation_one_per_window():
    ids = np.arange(30, dtype=np.int32)
    config = TUTORIAL.replace(seq_len=5, batch_size=4, seed=2)
    starts = window.epoch_starts(len(ids), config, 0)
    assert len(starts) == 24 and len(set(starts.tolist())) == 24 and set(starts.tolist()) <= set(range(25))
    assert not (window.epoch_starts(len(ids), config, 1) == starts).all()
    x, y = window.gather(ids, starts, 5)
    assert x.shape == (24, 5) and (y == x[:, -1] + 1).all() and (x[:, 1:] == x[:, :-1] + 1).all()
    vx, vy = window.validation(ids, 5)
    assert vx[:, 0].tolist() == [0, 5, 10, 15, 20] and vy.tolist() == [5, 10, 15, 20, 25]


# ---- generation
def keras_logits(run, windows: np.ndarray) -> np.ndarray:
    """What the tutorial does per character: model.predict on a window; here, the logits before the softmax."""
    model = run.keras_model()
    probe = keras.Model(model.inputs, model.get_layer("logits").output)
    return np.asarray(probe([windows], training=False))


def test_tutorial_generation_equals_keras_on_each_window(tutorial_run):
    v, n = tutorial_run.vocab, tutorial_run.config.seq_len
    prime = make_text(80, seed=9).lower()
    assert len(prime) > n
    out = "".join(generate(tutorial_run.weights, v, prime, 20, temperature=0.0, window=n))
    assert len(out) == 20
    text = v.encode(prime + out)
    windows = np.stack([text[len(prime) + k - n:len(prime) + k] for k in range(20)])  # (20, 50): what each char saw
    expected = keras_logits(tutorial_run, windows)
    stepper = Stepper(tutorial_run.weights)
    ours = np.stack([window_logits(stepper, w) for w in windows])
    np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=0)
    assert v.decode(expected.argmax(axis=1)) == out  # greedy: Keras's likeliest character, every time


def test_tutorial_generation_sees_only_its_window(tutorial_run):
    v, n = tutorial_run.vocab, tutorial_run.config.seq_len
    tail = make_text(n, seed=4).lower()
    a = "".join(generate(tutorial_run.weights, v, "she reads a book. " + tail, 40, temperature=0.0, window=n))
    b = "".join(generate(tutorial_run.weights, v, "we like tea. " + tail, 40, temperature=0.0, window=n))
    assert a == b  # what came before the last 50 characters cannot matter
    short = "".join(generate(tutorial_run.weights, v, "the cat", 10, temperature=0.0, window=n))
    assert len(short) == 10  # a shorter prime is a shorter window, until the text has grown
    sampled = "".join(generate(tutorial_run.weights, v, tail, 30, temperature=1.0, seed=3, window=n))
    assert sampled == "".join(generate(tutorial_run.weights, v, tail, 30, temperature=1.0, seed=3, window=n))


# ---- gates: window semantics
def test_trace_of_a_window_run_restarts_at_every_window(tutorial_run):
    n = tutorial_run.config.seq_len
    text = make_text(2 * n + 20, seed=6).lower()
    tr = trace(tutorial_run, text)
    assert tr.text == text and tr.logits.shape == (len(text), len(tutorial_run.vocab))
    w, v = tutorial_run.weights, tutorial_run.vocab
    for start in (0, n, 2 * n):
        part = trace_weights(w, v, text[start:start + n])
        for k in range(tutorial_run.config.layers):
            np.testing.assert_allclose(tr.layers[k]["cell"][start:start + n], part.layers[k]["cell"], atol=1e-6)
        np.testing.assert_allclose(tr.logits[start:start + n], part.logits, atol=1e-6)
    carried = trace_weights(w, v, text)  # the memory carried across the window's edge differs
    assert not np.allclose(carried.layers[0]["cell"][n], tr.layers[0]["cell"][n])
    np.testing.assert_allclose(carried.layers[0]["cell"][:n], tr.layers[0]["cell"][:n], atol=1e-6)


# ---- the config: stored, keyed and checked
def test_old_configs_load_and_keep_their_run_keys(tiny_config):
    from charlstm.runs.store import run_key

    old = {k: v for k, v in tiny_config.to_dict().items() if k not in LATER_FIELDS}  # a config.json from before
    assert Config.from_dict(old) == tiny_config and tiny_config.formulation == "sequence"
    old_key = hashlib.sha256(("abc" + json.dumps(old, sort_keys=True)).encode()).hexdigest()[:16]
    assert run_key("abc", tiny_config) == old_key
    tutorial = tiny_config.replace(formulation="window", embedding=1)
    assert run_key("abc", tutorial) != run_key("abc", tiny_config.replace(embedding=1))
    assert Config.from_dict(json.loads(json.dumps(tutorial.to_dict()))) == tutorial


def test_config_refuses_unknown_formulations_and_wide_window_inputs():
    with pytest.raises(ValueError, match="formulation must be one of sequence, window"):
        Config(formulation="bag of words")
    with pytest.raises(ValueError, match="embedding must be 1"):
        Config(formulation="window", embedding=8)


def test_check_architecture_tells_the_formulations_apart(tutorial_run, trained_run):
    from charlstm.model.network import check_architecture

    model = tutorial_run.keras_model()
    V = len(tutorial_run.vocab)
    check_architecture(model, tutorial_run.config, V)
    with pytest.raises(ValueError, match="not a charlstm model"):
        check_architecture(model, tutorial_run.config.replace(formulation="sequence"), V)
    with pytest.raises(ValueError, match="window length"):
        check_architecture(model, tutorial_run.config.replace(seq_len=40), V)
    with pytest.raises(ValueError, match="not a charlstm window model"):
        check_architecture(trained_run.keras_model(), trained_run.config.replace(formulation="window", embedding=1),
                           len(trained_run.vocab))
    model.get_layer("embedding").set_weights([window.scaled_inputs(V) * 2])
    with pytest.raises(ValueError, match="i / V"):
        check_architecture(model, tutorial_run.config, V)


def test_a_tutorial_run_exports_and_imports(tutorial_run, store):
    from charlstm.runs.store import RunStore

    bundle = RunStore(tutorial_run.path.parent.parent).export_bundle(tutorial_run.key)
    run = store.import_bundle(bundle)  # a safe-mode Keras load and the window architecture check
    assert run.key == tutorial_run.key and run.config == tutorial_run.config
    assert "the tutorial's windows" in run.label


def test_cli_trains_and_generates_the_tutorial_way(tmp_path, capsys):
    from charlstm.cli.main import main

    corpus = tmp_path / "tiny.txt"
    corpus.write_text(make_text(3000, seed=8), encoding="utf-8")
    home = str(tmp_path / "home")
    assert main(["--home", home, "train", str(corpus), "--preset", "the tutorial, exactly", "--units", "8",
                 "--seq-len", "20", "--batch-size", "64"]) == 0
    key = capsys.readouterr().out.split("run ")[-1].split()[0]
    assert main(["--home", home, "generate", key, "--prime", "the cat sat on the mat. ", "--length", "30"]) == 0
    greedy = capsys.readouterr().out
    from charlstm.runs.store import RunStore

    run = RunStore(home).find(key)
    assert run.config.formulation == "window" and run.config.seq_len == 20
    expected = "".join(generate(run.weights, run.vocab, "the cat sat on the mat. ", 30, temperature=0.0, window=20))
    assert greedy == "the cat sat on the mat. " + expected + "\n"
    assert main(["--home", home, "generate", key, "--prime", "the cat", "--length", "5", "--stateful"]) == 0
    with pytest.raises(SystemExit):  # argparse names the choices
        main(["--home", home, "train", str(corpus), "--formulation", "sideways"])
    err = capsys.readouterr().err
    assert "invalid choice: 'sideways'" in err and "window" in err


# ---- the committed comparison
def test_the_committed_comparison_reads_and_tabulates():
    results = comparison.load()
    assert results is not None, f"{comparison.RESULTS} is missing: run python bench/tutorial_bench.py"
    names = [r["name"] for r in results["runs"]]
    assert names == ["the tutorial, exactly", "charlstm's default, lowercased"]
    tutorial, default = results["runs"]
    assert tutorial["formulation"] == "window" and default["formulation"] == "sequence"
    assert tutorial["config"]["seq_len"] == 50 and len(comparison.WHY) == 3
    table = comparison.markdown_table(results)
    assert table.count("\n") == 3 and "targets/s" in table and "2 × 300, window of 50 → 1" in table
    points = comparison.curve_points(results)
    assert {p["formulation"] for p in points} == set(names)
    assert comparison.CHART.is_file()
    assert comparison.load(comparison.RESULTS.with_name("no-such-file.json")) is None


def test_numpy_weights_of_a_window_model_hold_the_fixed_inputs():
    from charlstm.model.network import build_model

    v = Vocab.build("abc abc")
    w = Weights.from_keras(build_model(TUTORIAL.replace(units=4, seq_len=5), len(v)))
    np.testing.assert_array_equal(w.embedding, window.scaled_inputs(len(v)))  # (V, 1)


# ---- the pages, through AppTest, on a stored tutorial run
@pytest.fixture
def at_tutorial(tmp_path, monkeypatch, tutorial_run):
    """The app with the tutorial run stored in its home and active in the session."""
    import shutil

    from streamlit.testing.v1 import AppTest

    from charlstm.serve import limits as limits_mod
    from charlstm.serve.jobs import live_managers

    home = tmp_path / "home"
    shutil.copytree(tutorial_run.path, home / "runs" / tutorial_run.key)
    monkeypatch.setenv("CHARLSTM_HOME", str(home))
    monkeypatch.setenv("CHARLSTM_MODE", "personal")  # a run put in the home folder, as the command line does
    for name in limits_mod.FIELDS:
        monkeypatch.delenv(settings_mod.env_name(name), raising=False)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.session_state["active_run_key"] = tutorial_run.key
    app.run()
    assert not app.exception
    yield app
    for m in live_managers():
        if tmp_path in m.store.root.parents:
            m.close()


def goto(at, page: str):
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_generate_page_rereads_the_window_greedily_by_default(at_tutorial, tutorial_run):
    at = goto(at_tutorial, "generate")
    mode = at.radio(key="generate.mode")
    assert mode.value == "reread" and at.slider(key="generate.temperature").value == 0.0
    assert any("Re-reading, as the tutorial does" in c.value for c in at.caption)
    prime = make_text(60, seed=3).lower()
    at.text_area(key="generate.prime").set_value(prime).run()
    at.number_input(key="generate.length").set_value(25).run()
    at.button(key="generate.go").click().run()
    assert not at.exception and not at.error
    stats = at.session_state["generate.last"]
    n = tutorial_run.config.seq_len
    assert stats["text"] == "".join(generate(tutorial_run.weights, tutorial_run.vocab, prime, 25, 0.0, window=n))
    mode.set_value("stateful").run()
    at.button(key="generate.go").click().run()
    stateful = at.session_state["generate.last"]["text"]
    assert stateful == "".join(generate(tutorial_run.weights, tutorial_run.vocab, prime, 25, 0.0))
    at.session_state["active_run_key"] = None  # back to the demo: no choice to make, the usual temperature
    goto(at, "generate")
    assert len(at.radio) == 0 and at.slider(key="generate.temperature").value == pytest.approx(0.8)


def test_gates_page_says_it_traces_window_by_window(at_tutorial):
    at = goto(at_tutorial, "gates")
    notes = [i.value for i in at.info if "classic tutorial's way" in i.value]
    assert len(notes) == 1 and "characters 1, 51, 101" in notes[0]
    at.text_area(key="gates.text").set_value(make_text(120, seed=5)).run()
    assert not at.exception and not at.error


def test_train_page_describes_the_tutorial_preset(at_tutorial):
    at = goto(at_tutorial, "train")
    at.selectbox(key="train.preset").set_value("the tutorial, exactly").run()
    assert at.number_input(key="train.embedding").value == 1 and at.number_input(key="train.seq_len").value == 50
    assert any("The classic tutorial's own model" in c.value for c in at.caption)
    at.selectbox(key="train.preset").set_value("default").run()
    assert not any("The classic tutorial's own model" in c.value for c in at.caption)


def test_home_page_shows_the_committed_comparison(at_tutorial):
    at = goto(at_tutorial, "home")
    assert any(e.label.startswith("Why the classic tutorial learns slowly") for e in at.expander)
    table = next(m.value for m in at.markdown if m.value.startswith("| formulation |"))
    assert "| the tutorial, exactly | 2 × 300, window of 50 → 1" in table
    assert "| charlstm's default, lowercased | 2 × 128" in table
    assert any("Targets per window" in m.value for m in at.markdown)
    spec = next(json.loads(c.proto.spec) for c in at.get("vega_lite_chart")
                if "training time" in json.loads(c.proto.spec)["encoding"]["x"].get("title", ""))
    assert spec["encoding"]["color"]["field"] == "formulation"  # both curves, one chart
