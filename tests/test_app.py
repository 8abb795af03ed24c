"""The Streamlit app through AppTest: every page renders, uploads are checked, a tiny model trains.

AppTest drives the real scripts (app.py and pages/) in-process; each test gets its own run
store through CHARLSTM_HOME, set before the app first runs.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest
from conftest import make_text
from streamlit.testing.v1 import AppTest

from charlstm.config import Config
from charlstm.runs.store import demo_run
from charlstm.serve import limits as limits_mod
from charlstm.serve import settings as settings_mod
from charlstm.serve.jobs import live_managers

ROOT = Path(__file__).resolve().parents[1]
PAGES = {"corpus": "Corpus", "train": "Train", "gates": "Gates", "generate": "Generate", "home": "charlstm"}
TINY = make_text(3000)  # short sentences: boundaries for the tracer, learnable by a tiny model


@pytest.fixture
def at(fresh_app) -> AppTest:
    return fresh_app  # tests/conftest.py: the app in its own run store, its workers stopped after


def goto(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(elements) -> list[str]:
    """The elements' text as a reader sees it: Markdown's backslash escapes and word joiners (md) undone."""
    return [re.sub(r"\\(.)", r"\1", e.value).replace("\u2060", "") if isinstance(e.value, str) else e.value
            for e in elements]


def charts_of(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def upload_corpus(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="corpus.upload").set_value((name, data, "text/plain")).run()
    assert not at.exception
    return at


def table(at: AppTest, column: str):
    """The first table with this column, as a DataFrame (AppTest does not always keep a table's key)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


# ---- every page
@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_with_the_sidebar(at, page):
    goto(at, page)
    assert texts(at.title) == [PAGES[page]]
    demo = demo_run().config
    side = " ".join(texts(at.sidebar.markdown))
    assert "tiny Shakespeare" in side and f"{demo.layers} × {demo.units} LSTM" in side and "Val loss:" in side
    assert any("demo model" in c for c in texts(at.sidebar.caption))
    run = demo_run()  # stopped by its time budget before its epochs: the sidebar says so
    assert f"Epochs:** {run.epochs_done} of {demo.epochs} (it spent its time budget)" in side, side


# ---- corpus
def test_corpus_page_shows_the_builtin_corpus(at):
    goto(at, "corpus")
    assert metric(at, "Characters") == "1,115,394"
    assert metric(at, "Vocabulary") == "65 characters"
    table = at.dataframe[0].value
    assert list(table.columns) == ["char", "id", "count", "share"]
    assert "␣ space" in set(table["char"]) and "↵ newline" in set(table["char"])
    assert any(c["mark"]["type"] == "bar" for c in charts_of(at))
    pairs = at.dataframe[1].value
    assert pairs.iloc[0].tolist() == ["First␣Citi", "z"]
    assert any(c.value.startswith("input  First␣Citizen") for c in at.code)


def test_a_good_upload_becomes_the_corpus_and_bad_ones_keep_it(at, monkeypatch):
    goto(at, "corpus")
    upload_corpus(at, "tiny.txt", TINY.replace(". ", ".\r\n").encode("cp1252"))
    assert not at.error
    assert "Active corpus: tiny.txt" in texts(at.subheader)
    assert metric(at, "Encoding") == "utf-8"
    assert any("line endings" in i for i in texts(at.info))
    size = metric(at, "Characters")

    monkeypatch.setenv("CHARLSTM_MAX_CORPUS_MB", "0.1")  # 100 kB, read on every run
    bad = {
        "binary.txt": (b"\x00\x01PNG" * 500, "binary"),
        "empty.txt": (b"", "empty"),
        "blank.txt": (b" \n\t\n" * 10, "empty"),
        "short.txt": (b"Too short to train on.", "needs at least"),
        "large.txt": (b"a" * 200_000, "the file is 200 kB; the limit is 100 kB"),
        "garbled.txt": (b"\xef\xbb\xbf" + b"\xff\xfe ok", "not valid utf-8-sig"),
        "control.txt": (bytes(range(1, 32)) * 40, "binary"),
    }
    for name, (data, reason) in bad.items():
        upload_corpus(at, name, data)
        assert len(at.error) == 1, name
        message = at.error[0].value
        assert name in message and reason in message and "stays **tiny.txt**" in message, message
        assert "Active corpus: tiny.txt" in texts(at.subheader)
        assert metric(at, "Characters") == size

    at.button(key="corpus.builtin").click().run()
    assert "Active corpus: tiny Shakespeare" in texts(at.subheader)
    assert not at.error


# ---- train
def set_form(at: AppTest, **values) -> None:
    for field, value in values.items():
        widget = at.checkbox(key=f"train.{field}") if field == "lowercase" else at.number_input(key=f"train.{field}")
        widget.set_value(value)


def start_training(at: AppTest, anyway: bool = True) -> AppTest:
    """Submit the form; a tiny test config learns little (a warning holds it back): start it anyway unless told."""
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception
    if anyway and any(b.label == "Start anyway" for b in at.button):
        at.button(key="train.start_anyway").click().run()
        assert not at.exception
    return at


def wait_for(at: AppTest, done, seconds: float = 240) -> AppTest:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        if done(at):
            return at
        time.sleep(0.5)
    raise AssertionError(f"not done after {seconds} s: {texts(at.success)} {texts(at.caption)}")


TINY_FORM = {"layers": 1, "units": 8, "embedding": 8, "seq_len": 16, "batch_size": 16, "epochs": 1,
             "patience": 0}  # no early stopping: an ENDLESS training must not end by itself


def test_presets_fill_the_form(at):
    from charlstm.training import fit

    goto(at, "train")
    assert at.selectbox(key="train.preset").value == fit.NAME  # fitted to the corpus first
    fitted = fit.fit(1_115_394)
    assert at.number_input(key="train.batch_size").value == 128 == fitted.config.batch_size
    assert at.number_input(key="train.epochs").value == fitted.config.epochs
    assert at.number_input(key="train.patience").value == fit.PATIENCE
    assert any(c == f"Fitted to this text: {fitted.reason}." for c in texts(at.caption))
    at.selectbox(key="train.preset").set_value("quick demo").run()
    assert at.number_input(key="train.units").value == 64
    at.selectbox(key="train.preset").set_value("classic tutorial").run()
    assert at.number_input(key="train.units").value == 300
    assert at.number_input(key="train.layers").value == 2
    assert at.slider(key="train.dropout").value == pytest.approx(0.2)
    assert at.checkbox(key="train.lowercase").value is True


def test_settings_survive_a_visit_to_another_page(at):
    goto(at, "train")
    at.selectbox(key="train.preset").set_value("classic tutorial").run()
    goto(at, "gates")
    at.radio(key="gates.show").set_value("output").run()
    goto(at, "train")
    assert at.selectbox(key="train.preset").value == "classic tutorial"
    assert at.number_input(key="train.units").value == 300
    goto(at, "gates")
    assert at.radio(key="gates.show").value == "output"


def test_limits_from_secrets_stop_a_large_model(at):
    at.secrets["CHARLSTM_MAX_UNITS"] = 32
    goto(at, "train")
    assert any("at most 3 layers of 32 units" in c for c in texts(at.caption))
    start_training(at)  # the fitted preset asks for 128 units
    assert any("units per layer is 128; this server allows at most 32" in e for e in texts(at.error))
    assert not at.success
    assert any("No training is running" in c for c in texts(at.caption))


def test_a_misconfigured_limit_is_reported(at, monkeypatch):
    monkeypatch.setenv("CHARLSTM_MAX_EPOCHS", "lots")
    goto(at, "train")
    assert any("CHARLSTM_MAX_EPOCHS" in e for e in texts(at.error))


def test_a_too_long_sequence_for_the_corpus_is_refused(at, monkeypatch):
    monkeypatch.setenv("CHARLSTM_MAX_SEQ_LEN", "1000")  # within this server's caps, too long for the text
    monkeypatch.setenv("CHARLSTM_MAX_TRAINING_MB", "100000")
    goto(at, "corpus")
    upload_corpus(at, "tiny.txt", TINY.encode())
    goto(at, "train")
    set_form(at, **{**TINY_FORM, "seq_len": 400})
    start_training(at)
    assert any("needs at least" in e for e in texts(at.error))


@pytest.mark.slow
def test_train_a_tiny_model_then_reuse_continue_delete_and_reimport_it(at, tmp_path):
    from charlstm.serve.settings import ServerSettings
    from charlstm.serve.workspace import Workspaces

    goto(at, "corpus")
    upload_corpus(at, "tiny.txt", TINY.encode())
    goto(at, "train")
    set_form(at, **TINY_FORM)
    start_training(at)
    assert any(s.startswith("Started job #") for s in texts(at.success))

    # the job is read from the process-wide manager: a fresh session (another tab) sees it too
    wait_for(at, lambda a: any("finished: run" in s or "finished" in s for s in texts(a.success)))
    key = at.session_state["active_run_key"]
    assert key and any(f"run `{key[:8]}`" in s for s in texts(at.success))
    shelf = Workspaces(tmp_path / "home", ServerSettings()).shelf(at.session_state["ws.token"])
    device = shelf.get(key).meta["device"]  # where the worker trained, in words
    assert device and any(f"(tiny.txt, trained on {device})" in s for s in texts(at.success))
    side = " ".join(texts(at.sidebar.markdown))
    assert "tiny.txt" in side and "1 × 8 LSTM" in side and "Status:** complete" in side
    runs = table(at, "key")
    assert runs["key"].tolist() == [key] and runs["active"].tolist() == [True]
    # the finished run, as it stays on the page: its val loss beside both baselines, its curves, its samples
    run = shelf.get(key)
    b = run.baselines
    said = next(m for m in texts(at.markdown) if m.startswith(f"**Run `{key[:8]}`**"))
    assert f"Val loss {run.val_loss:.3f} nats/char" in said and f"(unigram) {b.unigram:.3f}" in said
    assert f"uniform guess {b.uniform:.3f} (ln {b.vocab_size})" in said
    assert at.get("vega_lite_chart") and runs["letter freq."].tolist() == [pytest.approx(b.unigram)]
    assert [c.value for c in at.code if c.value == run.samples[0]]  # the sample of its one epoch
    assert "Baselines:** letter frequencies" in " ".join(texts(at.sidebar.markdown))

    # the same corpus and config again: loaded from cache, nothing trains
    set_form(at, **TINY_FORM)
    start_training(at)
    assert any("Loaded from cache" in s for s in texts(at.success))

    # continue it for one more epoch: a new run, made active when it finishes
    at.number_input(key="train.more").set_value(1)
    at.button(key="train.resume").click().run()
    assert any(f"Continuing run {key[:8]} for 1 more epoch(s) (job #3)" in i for i in texts(at.info))
    wait_for(at, lambda a: any(s.startswith("Job #3 finished") for s in texts(a.success)))
    first, key = key, at.session_state["active_run_key"]
    runs = table(at, "key")
    assert key != first and set(runs["key"]) == {first, key}
    assert runs[runs["key"] == key]["epochs"].tolist() == ["2/2"]

    # the trained run drives the gates and generate pages
    goto(at, "gates")
    assert any(c["mark"]["type"] == "rect" for c in charts_of(at))
    goto(at, "generate")
    at.button(key="generate.go").click().run()
    assert any("characters per second" in c for c in texts(at.caption))

    # download (the page's button serves exactly this), delete, import the bundle back
    bundle = Workspaces(tmp_path / "home", ServerSettings()).shelf(at.session_state["ws.token"]).export_bundle(key)
    goto(at, "train")
    at.button(key="train.delete").click().run()
    assert any(f"Deleted run {key[:8]}" in s for s in texts(at.success))
    assert at.session_state["active_run_key"] is None
    assert table(at, "key")["key"].tolist() == [first]
    at.file_uploader(key="train.bundle").set_value(("run.zip", bundle, "application/zip")).run()
    assert not at.exception
    assert any(f"Imported run {key[:8]}" in s for s in texts(at.success))
    assert set(table(at, "key")["key"]) == {first, key}


def training_shown(at: AppTest) -> bool:
    return any(p.proto.text.startswith("Training:") for p in at.get("progress"))


ENDLESS = 10_000  # epochs: a training that cannot end before the test cancels or kills it


@pytest.mark.slow
def test_jobs_queue_join_and_cancel(at, monkeypatch):
    """Personal mode: one user may queue several trainings (public mode allows one per visitor: test_privacy.py)."""
    monkeypatch.setenv("CHARLSTM_MAX_EPOCHS", str(ENDLESS))
    monkeypatch.setenv("CHARLSTM_MODE", "personal")
    goto(at, "corpus")
    upload_corpus(at, "tiny.txt", TINY.encode())
    goto(at, "train")
    long = {**TINY_FORM, "epochs": ENDLESS, "seed": 7}
    set_form(at, **long)
    start_training(at)
    wait_for(at, training_shown)
    assert any("Training now: tiny.txt" in link.proto.label for link in at.sidebar.get("page_link"))

    set_form(at, **long)  # the very same settings: joined, not trained twice
    start_training(at)
    assert any(i.startswith("Joined: the same corpus and config are already training") for i in texts(at.info))
    set_form(at, **{**long, "seed": 8})  # another model waits its turn
    start_training(at)
    assert any("Queued: job #2 waits for the current training; place 1 in the queue" in i for i in texts(at.info))
    assert any("queued, position 1 in the queue" in m for m in texts(at.markdown))

    cancels = [b for b in at.button if b.label == "Cancel"]
    assert len(cancels) == 2
    cancels[1].click().run()  # the queued job goes at once
    assert not any("queued, position" in m for m in texts(at.markdown))
    assert any("Job #2: cancelled before it started" in w for w in texts(at.warning))
    next(b for b in at.button if b.label == "Cancel").click().run()  # the running one stops within a batch
    wait_for(at, lambda a: any("No training is running" in c for c in texts(a.caption)))
    assert not any(b.label == "Cancel" for b in at.button)
    recent = table(at, "message")
    assert recent[recent["job"] == 1]["status"].tolist() == ["cancelled"]


@pytest.mark.slow
def test_a_killed_worker_fails_its_job_and_every_page_still_works(at, monkeypatch):
    monkeypatch.setenv("CHARLSTM_MAX_EPOCHS", str(ENDLESS))
    goto(at, "corpus")
    upload_corpus(at, "tiny.txt", TINY.encode())
    goto(at, "train")
    set_form(at, **{**TINY_FORM, "epochs": ENDLESS})
    start_training(at)
    wait_for(at, training_shown)  # mid-epoch: the worker is training
    (manager,) = [m for m in live_managers() if Path(os.environ["CHARLSTM_HOME"]) == m.store.root]
    (job,) = manager.jobs()
    os.kill(manager.worker_pid(job.id), signal.SIGKILL)
    wait_for(at, lambda a: any("failed: the training process was killed (SIGKILL" in e for e in texts(a.error)))
    assert not list(manager.store.runs.glob(".tmp-*"))  # nothing half-stored (finished epochs are kept, whole)
    for page in PAGES:
        goto(at, page)
        assert not at.error or page == "train"
    goto(at, "train")  # and the next training starts and finishes
    set_form(at, **TINY_FORM)
    start_training(at)
    wait_for(at, lambda a: any(s.startswith("Job #2 finished") for s in texts(a.success)))


def test_a_bad_bundle_gets_a_clear_message(at):
    goto(at, "train")
    at.file_uploader(key="train.bundle").set_value(("run.zip", b"this is not a zip", "application/zip")).run()
    assert any("run.zip was not imported: not a charlstm bundle: the file is not a zip archive" in e
               for e in texts(at.error))


def test_a_config_that_learns_little_is_held_back_and_the_fitted_settings_offered(at):
    from charlstm.training import fit

    goto(at, "corpus")
    article = make_text(7_385, seed=4)  # the 7 kB article, in size
    upload_corpus(at, "article.txt", article.encode())
    goto(at, "train")
    fitted = fit.fit(len(article))
    assert at.number_input(key="train.batch_size").value == 16  # the form was fitted to the new corpus
    assert any(c == f"Fitted to this text: {fitted.reason}." for c in texts(at.caption))
    at.selectbox(key="train.preset").set_value("default").run()  # 128 x 32 for 8 epochs: 8 steps in all
    start_training(at, anyway=False)
    (warning,) = [w for w in texts(at.warning) if w.startswith("Not started yet")]
    assert "only 8 optimizer steps in all" in warning and fitted.reason in warning
    assert not at.success and any("No training is running" in c for c in texts(at.caption))  # nothing started
    at.button(key="train.use_fitted").click().run()
    assert at.selectbox(key="train.preset").value == fit.NAME
    assert at.number_input(key="train.batch_size").value == 16
    assert at.number_input(key="train.epochs").value == fitted.config.epochs
    assert not any(w.startswith("Not started yet") for w in texts(at.warning))
    assert not at.success  # applying the settings starts nothing


def test_a_time_budget_replaces_the_epochs(at):
    from charlstm.training import fit
    from pages.common.resources import manager

    goto(at, "corpus")
    upload_corpus(at, "tiny.txt", TINY.encode())
    goto(at, "train")
    set_form(at, **{**TINY_FORM, "minutes": 0.05})  # 3 seconds: a few epochs at most
    start_training(at, anyway=False)  # a budget decides the steps: no warning about them
    assert not any(w.startswith("Not started yet") for w in texts(at.warning))
    view = manager().get(at.session_state["train.job_id"])
    assert view.config.minutes == 0.05 and view.config.epochs == fit.MAX_EPOCHS
    manager().cancel(view.id)


# ---- gates, with the shipped demo model
def test_gates_page_traces_the_example_with_the_demo_model(at):
    goto(at, "gates")
    assert at.text_area(key="gates.text").value == "Divya likes to eat. Reena is not fat."
    specs = charts_of(at)
    heat = next(c for c in specs if c["mark"]["type"] == "rect")
    assert heat["encoding"]["y"]["field"] == "unit" and heat["encoding"]["color"]["scale"]["domain"] == [0.0, 1.0]
    assert any(c.get("layer") and c["layer"][0]["mark"]["type"] == "rule" for c in specs)  # boundary rule
    forget = table(at, "drop")
    assert len(forget) == 10 and "drop" in forget.columns
    assert forget["drop"].is_monotonic_decreasing
    html = [h.proto.body for h in at.get("html")]
    assert any("charlstm-trace" in h and h.count("<span") >= 37 for h in html)
    assert at.selectbox(key="gates.unit").value == int(forget["unit"].iloc[0])  # starts at the top forgetter
    assert any(c.get("hconcat") for c in specs)  # saturation, one panel per gate

    at.radio(key="gates.show").set_value("cell").run()
    heat = next(c for c in charts_of(at) if c["mark"]["type"] == "rect")
    assert heat["encoding"]["color"]["scale"]["domainMid"] == 0.0
    assert any("cell state" in i for i in texts(at.info))


def test_gates_page_names_missing_characters_and_can_drop_them(at):
    goto(at, "gates")
    at.text_area(key="gates.text").set_value("Divya likes <é>. Reena").run()
    assert any("“<”" in w and "“é”" in w for w in texts(at.warning))
    assert any("Nothing traced" in e for e in texts(at.error))
    assert not any(c["mark"]["type"] == "rect" for c in charts_of(at))
    at.checkbox(key="gates.drop").check().run()
    assert not at.error
    assert any(c["mark"]["type"] == "rect" for c in charts_of(at))


# ---- generate, with the shipped demo model
def output_text(at: AppTest) -> str:
    """The plain text shown in the Generate page's output box (and nothing else on the page).

    Undoes charts.markdown_text: backslash escapes, &nbsp; at line starts, hard breaks ("  \\n"; st.markdown
    empties whitespace-only lines, so a blank line arrives as a bare newline).
    """
    (body,) = [m.value for m in at.get_by_key("generate.output").markdown]
    return re.sub(r"\\(.)|&nbsp;|  \n", lambda m: m.group(1) or {"&nbsp;": " "}.get(m.group(0), "\n"),
                  body.replace("\u2060", ""))  # the word joiners against autolinks


def test_generate_streams_text_from_the_demo_model(at):
    from charlstm.model import sampling

    goto(at, "generate")
    at.number_input(key="generate.length").set_value(300)
    at.button(key="generate.go").click().run()
    assert not at.error
    assert any("300 characters in" in c and "characters per second" in c for c in texts(at.caption))
    # the page's defaults (a line start of the held-out part, temperature 0.8, top-k 0, seed 0) through the library
    from charlstm.model.sampling import prime_for
    from charlstm.text.corpus import builtin

    demo = demo_run()
    prime = prime_for(demo, builtin().text)
    assert prime == "GREMIO:\n" and at.text_area(key="generate.prime").value == prime  # not ROMEO: for every model
    expected = "".join(sampling.generate(demo.weights, demo.vocab, prime, 300, 0.8, 0, 0))
    assert len(expected) == 300
    assert at.session_state["generate.last"]["text"] == expected
    # the priming text, then the generated text (a line break at the very end is not drawn: markdown drops it)
    assert output_text(at) == (prime + expected).rstrip("\n")
    at.run()  # the text stays after another rerun
    assert any("300 characters in" in c for c in texts(at.caption))
    assert output_text(at) == (prime + expected).rstrip("\n")


def test_generate_names_missing_characters_in_the_prime(at):
    goto(at, "generate")
    at.text_area(key="generate.prime").set_value("ROMEO<").run()
    assert any("“<”" in w for w in texts(at.warning))
    at.button(key="generate.go").click().run()
    assert any("Nothing generated" in e for e in texts(at.error))
    at.checkbox(key="generate.drop").check()
    at.button(key="generate.go").click().run()
    assert not at.error and any("characters per second" in c for c in texts(at.caption))


# ---- limits (charlstm/serve/limits.py, the caps the Train and Corpus pages enforce)
def test_limits_defaults_environment_and_overrides():
    assert settings_mod.from_env({}) == limits_mod.Limits()
    lim = settings_mod.from_env({"CHARLSTM_MAX_UNITS": "128", "CHARLSTM_MAX_CORPUS_MB": "2.5"},
                              overrides={"max_units": 64})
    assert lim.max_units == 64 and lim.max_corpus_bytes == 2_500_000
    assert settings_mod.from_env({}, {"CHARLSTM_MAX_LAYERS": 1}).max_layers == 1
    for bad in ("many", "0", "-3", "1.5"):
        with pytest.raises(ValueError, match="CHARLSTM_MAX_EPOCHS"):
            settings_mod.from_env({"CHARLSTM_MAX_EPOCHS": bad})


def test_limits_problems_name_each_cap():
    lim = limits_mod.Limits(max_layers=2, max_units=100, max_epochs=5, max_corpus_mb=1)
    assert lim.problems(Config(layers=2, units=100, epochs=5), corpus_bytes=1_000_000) == []
    problems = lim.problems(Config(layers=3, units=101, epochs=6), corpus_bytes=1_500_000)
    assert problems == ["layers is 3; this server allows at most 2", "units per layer is 101; this server allows at "
                        "most 100", "epochs is 6; this server allows at most 5",
                        "the corpus is 1.5 MB; this server allows at most 1 MB"]


# ---- one declaration per setting: a new Config field reaches the Train form (see also tests/test_config.py)
def test_a_new_setting_appears_on_the_train_form():
    def form():
        import dataclasses

        import streamlit as st

        from charlstm.config import Config, form_settings, setting
        from pages.common.persist import form_key
        from pages.common.widgets import settings_ui

        wider = dataclasses.make_dataclass("Wider", [
            ("optimizer", str, setting("adam", "Optimizer", "Which optimizer.", choices=("adam", "sgd"), column=2)),
            ("warmup", int, setting(0, "Warm-up steps", "Steps at a rising rate.", min=0, step=10, column=1)),
        ], bases=(Config,), frozen=True)
        for s in form_settings(wider):
            st.session_state.setdefault(form_key(s.name), s.default)
        with st.form("train.form"):
            settings_ui(form_settings(wider), form_key)
            st.form_submit_button("Start training")

    at = AppTest.from_function(form).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="train.optimizer").label == "Optimizer"
    assert at.selectbox(key="train.optimizer").options == ["adam", "sgd"]
    assert at.number_input(key="train.warmup").label == "Warm-up steps"
    assert at.number_input(key="train.units").label == "Units per layer"  # and the settings there were before


# ---- the session: a finished job's run becomes active on whatever page the visitor is
@pytest.mark.slow
def test_a_finished_job_becomes_the_active_run_on_any_page(at):
    from pages.common.resources import manager

    goto(at, "corpus")
    upload_corpus(at, "tiny.txt", TINY.encode())
    goto(at, "train")
    set_form(at, **TINY_FORM)
    start_training(at)
    goto(at, "gates")  # the visitor waits on another page
    done = manager().wait(at.session_state["train.job_id"], timeout=120)
    assert done.status == "done", (done, manager().jobs())
    at.run()
    assert at.session_state["active_run_key"] == done.key
    assert any("Inside the active model (tiny.txt, 1 × 8)" in m for m in texts(at.markdown))
    assert "tiny.txt" in " ".join(texts(at.sidebar.markdown))
    goto(at, "train")
    assert at.selectbox(key="train.run").value == done.key

    # continued on the Train page: when it ends, the run selector moves to the new run too
    at.number_input(key="train.more").set_value(1)
    at.button(key="train.resume").click().run()
    more = manager().wait(at.session_state["train.job_id"], timeout=120)
    assert more.status == "done", (more, manager().jobs())
    at.run()
    assert at.session_state["active_run_key"] == more.key != done.key
    assert at.selectbox(key="train.run").value == more.key


# ---- navigation: a deep link on a fresh server runs the page inside app.py, without private Streamlit API
@pytest.mark.parametrize("page", ["gates", "train"])
def test_a_deep_link_on_a_fresh_server_is_handed_over_to_app_py(at, monkeypatch, page):
    from pages.common import navigation

    seen = []  # for each call of through_app(): was app.py's navigation serving the page?
    real = navigation.through_app

    def spy():
        seen.append(getattr(navigation._serving, "active", False))
        real()

    monkeypatch.setattr(navigation, "through_app", spy)
    goto(at, page)  # AppTest re-detects pages/ before every run, as a fresh server does
    assert seen != [True], (
        "Streamlit ran the page through app.py's st.navigation at once: its legacy pages/ mode "
        "(PagesManager.uses_pages_directory) no longer runs a page file by itself first, so through_app() in "
        "pages/common/navigation.py may be obsolete")
    assert seen == [False, True], (
        f"through_app() calls {seen}: Streamlit's legacy pages/ mode (PagesManager.uses_pages_directory) changed; "
        "the hand-over in pages/common/navigation.py no longer works as written")
    assert texts(at.title) == [PAGES[page]]  # drawn once, by app.py's copy
    assert any("Active model" in m for m in texts(at.sidebar.markdown))


def test_the_app_uses_no_private_streamlit_api():
    import ast

    for path in [ROOT / "app.py", *sorted((ROOT / "pages").rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not any(n.startswith("streamlit.") for n in names), f"{path.relative_to(ROOT)} imports {names}"
            if isinstance(node, ast.Name | ast.Attribute):
                name = node.id if isinstance(node, ast.Name) else node.attr
                assert name not in ("PagesManager", "uses_pages_directory"), f"{path.relative_to(ROOT)} uses {name}"
