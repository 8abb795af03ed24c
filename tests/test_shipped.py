"""The model shipped in the package (charlstm/data/demo): what it holds, and that it shows what the pages say."""

import tomllib
from pathlib import Path

import numpy as np
import pytest
from conftest import require

from charlstm.gates import EXAMPLE, trace
from charlstm.lstm_np import Stepper
from charlstm.sampling import generate
from charlstm.store import OPTIONAL, SHIPPED, StoreError, demo_run, read_run

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_holds_one_copy_of_its_weights_and_ships_with_the_package():
    run = demo_run()
    names = {p.name for p in run.path.iterdir()}
    assert "model.keras" not in names and set(SHIPPED) <= names <= set(SHIPPED + OPTIONAL)
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "data/demo/*" in package_data["charlstm"]  # `pip install .` carries the folder, whatever it holds


def test_the_demo_loads_traces_and_generates_without_keras():
    run = demo_run()
    tr = trace(run, EXAMPLE)
    assert len(tr.layers) == run.config.layers and tr.layers[0]["forget"].shape == (len(EXAMPLE), run.config.units)
    text = "".join(generate(run.weights, run.vocab, "ROMEO:", 80, 0.8, 0, 0))
    assert len(text) == 80 and text == "".join(generate(run.weights, run.vocab, "ROMEO:", 80, 0.8, 0, 0))


def test_a_folder_without_model_keras_is_refused_unless_it_is_read_as_shipped(tmp_path):
    with pytest.raises(StoreError, match=r"missing model\.keras"):
        read_run(demo_run().path)  # a run in a store must hold its Keras model (it may be continued)


def test_the_demos_keras_model_is_rebuilt_from_its_weights():
    require("keras")
    run = demo_run()
    model = run.keras_model()  # built from config.json, weights.npz's weights put in
    ids = run.vocab.encode("ROMEO:\nWhat say you, my lord?")
    logits = np.asarray(model(ids[None, :], training=False))[0, -1]
    np.testing.assert_allclose(Stepper(run.weights).feed(ids), logits, atol=1e-4)
    assert model.optimizer is not None  # compiled, as a loaded model is
