"""Every server cap that starting a run obeys, continuing one obeys too: in the job manager (where every job is
accepted, so no page or URL can skip it), on the Train page, for an imported bundle, and on the command line when
it is told it runs for the public server."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from test_app import goto, table, texts

from charlstm.runs.store import RunStore, run_key
from charlstm.serve.job import Refused
from charlstm.serve.jobs import JobManager
from charlstm.serve.limits import Limits

ROOT = str(Path(__file__).resolve().parents[1])

# the shared trained run is 2 x 24, embedding 8, sequence 32, batch 16, 2 epochs, on an 8 kB corpus:
# each cap set just below what continuing it for one epoch asks, and what the refusal says
CAPS = {
    "max_layers": (1, "layers is 2; this server allows at most 1"),
    "max_units": (16, "units per layer is 24; this server allows at most 16"),
    "max_embedding": (4, "embedding size is 8; this server allows at most 4"),
    "max_seq_len": (16, "sequence length is 32; this server allows at most 16"),
    "max_batch_size": (8, "batch size is 16; this server allows at most 8"),
    "max_epochs": (2, "epochs is 3; this server allows at most 2"),
    "max_training_mb": (700, "this server allows at most 700 MB"),
    "max_corpus_mb": (0.001, "the corpus is 0.0 MB; this server allows at most 0.001 MB"),
}


@pytest.fixture
def manager_for(trained_run):
    made = []

    def make(**kw) -> JobManager:
        m = JobManager(RunStore(trained_run.path.parents[1]), max_workers=1, **kw)
        made.append(m)
        return m

    yield make
    for m in made:
        m.close()


@pytest.mark.parametrize("cap", list(CAPS))
def test_continuing_a_run_past_any_cap_is_refused_where_jobs_are_accepted(manager_for, trained_run, cap):
    value, says = CAPS[cap]
    m = manager_for(limits=Limits(**{cap: value}))
    with pytest.raises(Refused, match=says.replace("(", r"\(").replace(".", r"\.")):
        m.resume(trained_run.key, 1)
    assert m.jobs() == []  # nothing queued, nothing started


def test_within_the_caps_continuing_is_accepted(manager_for, trained_run):
    m = manager_for(limits=Limits())
    assert m.problems(RunStore(trained_run.path.parents[1]).load_corpus(trained_run.meta["corpus_sha256"]),
                      trained_run.config.replace(epochs=3)) == []


def test_a_time_budget_past_the_servers_wall_time_cap_is_refused(manager_for, trained_run):
    store = RunStore(trained_run.path.parents[1])
    corpus = store.load_corpus(trained_run.meta["corpus_sha256"])
    m = manager_for(limits=Limits(), max_train_s=600)
    with pytest.raises(Refused, match="the time budget is 30 minutes; this server allows at most 10"):
        m.submit(corpus, trained_run.config.replace(minutes=30.0))
    assert m.problems(corpus, trained_run.config.replace(minutes=10.0)) == []


def forged(bundle: bytes, **changes) -> bytes:
    """A bundle whose config says other settings, with the key made to match (what a hostile visitor can do)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bundle)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        config = json.loads(src.read("config.json")) | changes
        meta = json.loads(src.read("meta.json"))
        from charlstm.config import Config

        meta["key"] = run_key(meta["corpus_sha256"], Config.from_dict(config))
        for info in src.infolist():
            data = {"config.json": json.dumps(config).encode(), "meta.json": json.dumps(meta).encode()}.get(
                info.filename, src.read(info.filename))
            dst.writestr(info.filename, data)
    return out.getvalue()


def test_the_command_line_continues_within_the_public_caps_only_when_told_it_is_public(tmp_path, trained_run):
    home = tmp_path / "home"
    store = RunStore(home)
    store.save_corpus(RunStore(trained_run.path.parents[1]).load_corpus(trained_run.meta["corpus_sha256"]))
    store.import_bundle(forged(RunStore(trained_run.path.parents[1]).export_bundle(trained_run.key),
                               batch_size=4096))
    (run,) = store.list()
    env = dict(os.environ, CHARLSTM_HOME=str(home), PYTHONPATH=ROOT, CHARLSTM_MODE="public")
    r = subprocess.run([sys.executable, "-m", "charlstm", "resume", run.key[:8], "--epochs", "1"],
                       capture_output=True, text=True, env=env, timeout=180, cwd=ROOT)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    said = "error: not continued: batch size is 4096; this server allows at most 256 (CHARLSTM_MODE=public)"
    assert lines == [said], r.stderr
    assert [r.key for r in store.list()] == [run.key]


def cli(home: Path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, CHARLSTM_HOME=str(home), PYTHONPATH=ROOT, CHARLSTM_MODE="public", **env)
    return subprocess.run([sys.executable, "-m", "charlstm", *argv], capture_output=True, text=True, env=env,
                          timeout=180, cwd=ROOT)


@pytest.mark.parametrize("cap", [*CAPS, "max_train_minutes"])
def test_the_command_lines_public_resume_applies_each_cap_in_turn(tmp_path, trained_run, cap):
    """An imported run continued from the public server's shell: every cap, the wall-time cap included."""
    from charlstm.serve.settings import env_name

    shared = RunStore(trained_run.path.parents[1])
    store = RunStore(tmp_path / "home")
    store.save_corpus(shared.load_corpus(trained_run.meta["corpus_sha256"]))
    bundle = shared.export_bundle(trained_run.key)
    if cap == "max_train_minutes":  # the bundle asks for a 30-minute time budget; the server allows 10
        bundle = forged(bundle, minutes=30.0)
        value, says = 10, "the time budget is 30 minutes; this server allows at most 10"
    else:
        value, says = CAPS[cap]
    run = store.import_bundle(bundle)
    r = cli(store.root, "resume", run.key[:8], "--epochs", "1", **{env_name(cap): str(value)})
    assert r.returncode == 2, (r.stdout, r.stderr)
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("error: not continued: ") and line.endswith(" (CHARLSTM_MODE=public)"), line
    assert says in line, line
    assert [x.key for x in store.list()] == [run.key] and run.epochs_done == store.get(run.key).epochs_done


def test_the_command_lines_public_import_applies_the_model_caps(tmp_path, trained_run):
    path = tmp_path / "big.zip"
    path.write_bytes(forged(RunStore(trained_run.path.parents[1]).export_bundle(trained_run.key), batch_size=4096))
    r = cli(tmp_path / "home", "import", str(path))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.strip().splitlines() == [
        "error: not imported: batch size is 4096; this server allows at most 256 (CHARLSTM_MODE=public)"], r.stderr
    assert RunStore(tmp_path / "home").list() == []


def test_the_train_page_refuses_a_forged_bundle_past_the_caps_and_continuing_past_a_lowered_cap(
        fresh_app, trained_run, monkeypatch):
    at = fresh_app
    bundle = RunStore(trained_run.path.parents[1]).export_bundle(trained_run.key)
    goto(at, "train")
    at.file_uploader(key="train.bundle").set_value(
        ("big.zip", forged(bundle, batch_size=4096, seq_len=512), "application/zip")).run()
    assert not at.exception
    assert any("big.zip was not imported: sequence length is 512; this server allows at most 256; batch size is "
               "4096; this server allows at most 256" in e for e in texts(at.error)), texts(at.error)

    at.file_uploader(key="train.bundle").set_value(("ok.zip", bundle, "application/zip")).run()
    assert any(f"Imported run {trained_run.key[:8]}" in s for s in texts(at.success))
    assert table(at, "key")["key"].tolist() == [trained_run.key]
    monkeypatch.setenv("CHARLSTM_MAX_UNITS", "16")  # the server's operator lowers a cap; the run is 2 x 24
    at.run()
    at.selectbox(key="train.run").set_value(trained_run.key).run()
    at.number_input(key="train.more").set_value(1)
    at.button(key="train.resume").click().run()
    assert not at.exception
    errors = texts(at.error)
    assert any("Not continued: units per layer is 24; this server allows at most 16." in e for e in errors), errors


LONG = "the cat sat on the mat and the dog ran off"  # 42 characters the shipped model knows
# every text box a visitor types into: page, tab, widget kind and key, and the Limits field that caps it
TEXT_BOXES = [
    ("gates", None, "text_area", "gates.text", "max_gates_text"),
    ("units", "Span search and match", "text_area", "units.span_text", "max_units_text"),
    ("units", "Surprise", "text_area", "units.surprise_text", "max_units_text"),
    ("teach", "The three gates", "text_area", "teach.lesson_text", "max_teach_text"),
    ("teach", "Clamp a unit", "text_area", "teach.clamp_text", "max_teach_text"),
    ("teach", "Minimal pairs", "text_input", "teach.pair_a", "max_teach_text"),
    ("teach", "Minimal pairs", "text_input", "teach.pair_b", "max_teach_text"),
    ("generate", None, "text_area", "generate.prime", "max_prime"),
    ("insight", "Attribution", "text_area", "insight.attr_text", "max_attribution_text"),
    ("insight", "Components", "text_area", "insight.comp_text", "max_components_text"),
    ("insight", "Two runs", "text_area", "insight.cmp_text", "max_compare_text"),
]


@pytest.mark.parametrize("page,tab,kind,key,field", TEXT_BOXES, ids=[b[3] for b in TEXT_BOXES])
def test_a_text_past_its_cap_is_cut_on_the_server_with_a_note(fresh_app, monkeypatch, page, tab, kind, key, field):
    """Streamlit cuts a widget's value to max_chars, but not one kept in state while the cap changed (nor a preset's
    or a deep link's): the page cuts again, and says so."""
    from charlstm.serve.settings import env_name

    at = goto(fresh_app, page)
    if tab is not None:
        at.session_state[f"{page}.view"] = tab  # what a click on the tab does
        at.run()
    monkeypatch.setenv(env_name(field), "12")  # the operator's cap, read on every run
    getattr(at, kind)(key=key).set_value(LONG)
    if page == "generate":
        at.button(key="generate.go").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    warned = texts(at.warning)
    assert f"Only the first 12 of these {len(LONG)} characters are read: this server's limit." in warned, warned
    assert getattr(at, kind)(key=key).value == LONG[:12]  # the box shows what is read
    if page == "gates":  # what the heatmap traced
        assert "× 12 characters (columns)" in " ".join(texts(at.caption))
    if page == "generate":  # what the model read
        assert at.session_state["generate.last"]["prefix"] == LONG[:12]
    getattr(at, kind)(key=key).set_value(LONG[:12]).run()  # at the cap: read whole, no note
    assert not any("Only the first" in w for w in texts(at.warning)), texts(at.warning)


def test_a_generation_past_its_cap_is_cut_to_it_with_a_note(fresh_app, monkeypatch):
    monkeypatch.setenv("CHARLSTM_MAX_GENERATE_LENGTH", "100")  # below the page's first 500: it starts at the cap
    at = goto(fresh_app, "generate")
    assert at.number_input(key="generate.length").value == 100 and not texts(at.warning), texts(at.warning)
    monkeypatch.setenv("CHARLSTM_MAX_GENERATE_LENGTH", "40")  # lowered below the 100 the page keeps
    at.run()
    assert at.number_input(key="generate.length").value == 40
    assert "At most 40 characters a click: this server's limit." in texts(at.warning), texts(at.warning)
    at.button(key="generate.go").click().run()
    assert not at.exception and len(at.session_state["generate.last"]["text"]) == 40


def test_default_text_caps_hold_against_a_megabyte(fresh_app):
    """The shipped caps, against what no browser widget would send (a modified client)."""
    from charlstm.serve.limits import Limits

    at = goto(fresh_app, "gates")
    at.text_area(key="gates.text").set_value("It is late. " * 100_000).run()  # 1.2 million characters
    assert not at.exception
    assert f"× {Limits().max_gates_text} characters (columns)" in " ".join(texts(at.caption))
    goto(at, "generate")
    at.number_input(key="generate.length").set_value(10**9)  # Streamlit itself puts a number out of range back
    at.text_area(key="generate.prime").set_value("ROMEO:\n" * 100_000)  # 700,000 characters
    at.button(key="generate.go").click().run()
    assert not at.exception
    assert at.number_input(key="generate.length").value <= Limits().max_generate_length
    assert len(at.session_state["generate.last"]["prefix"]) == Limits().max_prime  # what the model read
