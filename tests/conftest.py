"""Shared fixtures: tiny corpora, tiny configs, a throwaway run store."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

from charlstm.serve import settings as settings_mod

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

def on_ci(environ=None) -> bool:
    """Whether we run under CI: any non-empty CI other than 0 or false (CI services set true, 1, yes ...)."""
    value = (os.environ if environ is None else environ).get("CI", "").strip().lower()
    return value not in ("", "0", "false")


def require(module: str):
    """Import a module a test needs. Missing or broken, it skips the test (or, called at a module's top, the whole
    module), except under CI, where it fails it: CI must not pass by skipping. Use it instead of importorskip."""
    try:
        return importlib.import_module(module)
    except Exception as e:  # a broken TensorFlow raises more than ImportError
        message = f"{module} cannot be imported ({type(e).__name__}: {e})"
        if on_ci():
            pytest.fail(message + "; under CI that is a failure, not a skip", pytrace=False)
        pytest.skip(message, allow_module_level=True)


# A small, learnable text: short sentences, so sentence boundaries exist and a tiny model can fit it.
SENTENCES = [
    "Divya likes to eat.", "Reena is not fat.", "The cat sat on the mat.", "A dog ran home.",
    "We like tea.", "It is late.", "She reads a book.", "He is tall.",
]


def make_text(n_chars: int = 6000, seed: int = 0) -> str:
    import random

    rng = random.Random(seed)
    out, size = [], 0
    while size < n_chars:
        s = rng.choice(SENTENCES)
        out.append(s)
        size += len(s) + 1
    return " ".join(out)[:n_chars]


@pytest.fixture(scope="session")
def tiny_text() -> str:
    return make_text()


@pytest.fixture
def tiny_corpus(tiny_text):
    from charlstm.text.corpus import from_text

    return from_text(tiny_text, "tiny.txt")


@pytest.fixture
def tiny_config():
    from charlstm.config import Config

    return Config(layers=2, units=16, embedding=8, seq_len=16, batch_size=16, epochs=1, learning_rate=1e-2, seed=3)


@pytest.fixture
def store(tmp_path):
    from charlstm.runs.store import RunStore

    return RunStore(tmp_path / "home")


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """One tiny model, really trained by Keras and stored, shared by the tests that only read it."""
    require("keras")
    from charlstm.config import Config
    from charlstm.runs.store import RunStore
    from charlstm.text.corpus import from_text
    from charlstm.training.trainer import train

    corpus = from_text(make_text(8000, seed=1), "shared.txt")
    config = Config(layers=2, units=24, embedding=8, seq_len=32, batch_size=16, epochs=2, learning_rate=1e-2, seed=7)
    store = RunStore(tmp_path_factory.mktemp("shared-home"))
    store.save_corpus(corpus)
    return store.save(train(corpus, config), corpus)


@pytest.fixture(scope="session")
def tutorial_run(tmp_path_factory):
    """A tiny model of the classic tutorial's formulation (windows of 50, input i / V), really trained and stored."""
    require("keras")
    from charlstm.config import PRESETS
    from charlstm.runs.store import RunStore
    from charlstm.text.corpus import from_text
    from charlstm.training.trainer import train

    corpus = from_text(make_text(6000, seed=2), "tutorial.txt")
    config = PRESETS["the tutorial, exactly"].replace(units=24, batch_size=32, learning_rate=1e-2, seed=5)
    store = RunStore(tmp_path_factory.mktemp("tutorial-home"))
    store.save_corpus(corpus)
    return store.save(train(corpus, config), corpus)


@pytest.fixture
def fresh_app(tmp_path, monkeypatch):
    """app.py through AppTest with its own empty run store and no server caps set; its job managers closed after."""
    from streamlit.testing.v1 import AppTest

    from charlstm.serve import limits as limits_mod
    from charlstm.serve.jobs import live_managers

    monkeypatch.setenv("CHARLSTM_HOME", str(tmp_path / "home"))
    for name in limits_mod.FIELDS:
        monkeypatch.delenv(settings_mod.env_name(name), raising=False)
    app = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=60)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    yield app
    for m in live_managers():  # the app's cached managers: stop their workers before the next test
        if tmp_path in m.store.root.parents:
            m.close()
