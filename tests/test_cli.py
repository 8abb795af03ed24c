"""The command line, run as a real subprocess."""

import csv
import io
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time

import pytest

from charlstm.runs.store import RunStore

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli(*args, home, timeout=180):
    env = dict(os.environ, CHARLSTM_HOME=str(home), PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "charlstm", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT)


def test_help_documents_every_option(tmp_path):
    r = cli("train", "--help", home=tmp_path)
    assert r.returncode == 0
    for opt in ("--layers", "--units", "--embedding", "--dropout", "--seq-len", "--batch-size", "--learning-rate",
                "--clipnorm", "--val-fraction", "--epochs", "--seed", "--lowercase", "--preset"):
        assert opt in r.stdout
    for sub in ("generate", "trace", "runs", "resume", "export", "import", "delete"):
        assert cli(sub, "--help", home=tmp_path).returncode == 0


def test_train_generate_trace_runs(tmp_path, tiny_text):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(tiny_text)
    args = ["train", str(corpus), "--layers", "1", "--units", "8", "--embedding", "4", "--seq-len", "16",
            "--batch-size", "16", "--epochs", "1"]
    r = cli(*args, home=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "val loss" in r.stdout and "epoch 1/1" in r.stderr
    r2 = cli(*args, home=tmp_path)
    assert r2.returncode == 0 and "loaded from cache" in r2.stdout
    runs = cli("runs", home=tmp_path)
    key = runs.stdout.split()[0]
    assert len(key) == 16 and "tiny.txt" in runs.stdout
    g = cli("generate", key[:6], "--prime", "The ", "--length", "40", "--seed", "3", home=tmp_path)
    assert g.returncode == 0 and g.stdout.startswith("The ") and len(g.stdout.rstrip("\n")) >= 44
    assert "chars/s" in g.stderr
    t = cli("trace", key, "--text", "It is late. He is tall.", home=tmp_path)
    assert t.returncode == 0 and "sentence boundary at 10" in t.stdout
    assert "  layer 1: units " in t.stdout and "layer 0" not in t.stdout  # numbered as clamp, units and the pages
    c = cli("trace", key, "--text", "We like tea.", "--format", "csv", home=tmp_path)
    rows = list(csv.DictReader(io.StringIO(c.stdout)))
    # every row is the library's trace of that layer, position and unit: the numbers, not just their count
    from charlstm.insight.gates import GATES, trace
    from charlstm.runs.store import RunStore

    run = RunStore(tmp_path).find(key)
    tr = trace(run, "We like tea.")
    assert len(rows) == len("We like tea.") * 8
    for row in rows:
        layer, t, u = int(row["layer"]) - 1, int(row["position"]), int(row["unit"])  # layers from 1, as clamp's
        assert row["char"] == "We like tea."[t]
        for g in GATES:
            assert float(row[g]) == pytest.approx(float(tr.layers[layer][g][t, u]), abs=1e-6), (row, g)
    out = tmp_path / "t.json"
    assert cli("trace", key, "--text", "We", "--format", "json", "--output", str(out), home=tmp_path).returncode == 0
    as_json = json.loads(out.read_text())
    assert [(r["layer"], r["position"], r["unit"]) for r in as_json] == [(1, t, u) for t in range(2) for u in range(8)]
    assert [r["cell"] for r in as_json] == [round(float(v), 6) for v in tr.layers[0]["cell"][:2].ravel()]
    bundle = tmp_path / "run.zip"
    assert cli("export", key, str(bundle), home=tmp_path).returncode == 0
    other = tmp_path / "other"
    assert cli("import", str(bundle), home=other).returncode == 0
    assert key in cli("runs", home=other).stdout


def test_demo_model_generates(tmp_path):
    r = cli("generate", "demo", "--prime", "ROMEO:", "--length", "100", home=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("ROMEO:")


def test_trace_numbers_layers_as_clamp_does(tmp_path):
    """The unit trace lists under layer N is the one `clamp --layer N` holds: both count layers from 1."""
    from charlstm.insight.gates import forgetters, sentence_boundaries, trace
    from charlstm.runs.store import demo_run

    r = cli("trace", "demo", home=tmp_path)
    assert r.returncode == 0, r.stderr
    tr = trace(demo_run(), "Divya likes to eat. Reena is not fat.")
    top = forgetters(tr, 0, sentence_boundaries(tr.text)[0], k=5)[0]  # the first layer's top boundary forgetter
    assert f"  layer 1: units {top.unit} " in r.stdout and "layer 0" not in r.stdout
    c = cli("clamp", "demo", "--layer", "1", "--unit", str(top.unit), "--length", "0", home=tmp_path)
    assert c.returncode == 0 and f"layer 1, unit {top.unit}: forget held at 1" in c.stdout, c.stderr


@pytest.mark.parametrize("args,message", [
    (["train", "/no/such/file.txt"], "cannot read"),
    (["train", "BINARY"], "binary"),
    (["train", "SHORT"], "needs at least"),
    (["train", "shakespeare", "--units", "0"], "units must be"),
    (["generate", "nosuchrun"], "no stored run"),
    (["generate", "demo", "--prime", "€€€"], "not in the model's vocabulary"),
    (["generate", "demo", "--length", "999999"], "length must be"),
    (["import", "BINARY"], "not a zip"),
    (["delete", "abc"], "no stored run"),
    (["resume", "abc"], "no stored run"),  # a deleted (or never stored) run
])
def test_bad_input_is_one_line_no_traceback(tmp_path, args, message):
    (tmp_path / "bin.dat").write_bytes(b"\x00\x01\x02binary\x00")
    (tmp_path / "short.txt").write_text("too short")
    args = [{"BINARY": str(tmp_path / "bin.dat"), "SHORT": str(tmp_path / "short.txt")}.get(a, a) for a in args]
    r = cli(*args, home=tmp_path)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and message in last


def test_resume_needs_the_corpus_it_was_trained_on(trained_run, tmp_path):
    """A run imported without its corpus (bundles carry none) cannot be continued, and says why."""
    home = tmp_path / "home"
    shutil.copytree(trained_run.path, RunStore(home).path(trained_run.key))
    r = cli("resume", trained_run.key[:8], home=home)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1] == (
        "error: the corpus this run was trained on is not stored here; train it again from the file")
    assert [run.key for run in RunStore(home).list()] == [trained_run.key]


def read_until(stream, text: str, seconds: float) -> str:
    """Read a child's pipe until `text` appears in it (or it closes, or the deadline passes); all read so far."""
    seen = b""
    deadline = time.monotonic() + seconds
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        while text.encode() not in seen and time.monotonic() < deadline:
            if sel.select(timeout=max(0.0, deadline - time.monotonic())):
                chunk = os.read(stream.fileno(), 65536)
                if not chunk:
                    break
                seen += chunk
    return seen.decode(errors="replace")


def test_ctrl_c_keeps_the_finished_epochs_and_resume_continues_them(tmp_path, tiny_text):
    """Ctrl-C in epoch 2 of a training too long to finish first: exit 130, epoch 1 kept whole; then resume it.

    --home is used throughout; CHARLSTM_HOME points elsewhere and must stay untouched.
    """
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(tiny_text)
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    env = dict(os.environ, CHARLSTM_HOME=str(elsewhere), PYTHONPATH=ROOT)
    epochs = 10_000  # cannot finish before the test interrupts it
    train = subprocess.Popen(
        [sys.executable, "-m", "charlstm", "--home", str(home), "train", str(corpus), "--layers", "1", "--units", "8",
         "--embedding", "4", "--seq-len", "16", "--batch-size", "16", "--epochs", str(epochs)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT, start_new_session=True)
    try:
        # the bar shows epoch 2 only once epoch 1 has been validated
        progress = read_until(train.stderr, f"epoch 2/{epochs}", 180)
        assert f"epoch 2/{epochs}" in progress, f"no progress into epoch 2 within 180 s:\n{progress[-3000:]}"
        os.killpg(train.pid, signal.SIGINT)  # as a terminal's Ctrl-C does: to the whole process group
        out, err = train.communicate(timeout=120)
    finally:
        if train.poll() is None:
            os.killpg(train.pid, signal.SIGKILL)
            train.wait()
    err = progress + err.decode(errors="replace")
    out = out.decode()
    assert train.returncode == 130, (train.returncode, out, err[-3000:])
    assert "Traceback" not in err, err[-3000:]
    assert "cancelled; kept the" in out, out

    store = RunStore(home)
    assert [p.name for p in store.runs.iterdir() if p.name.startswith(".")] == []  # no half-written folder
    (run,) = store.list()
    assert run.status == "cancelled" and 1 <= run.epochs_done < epochs
    assert len(run.history["val_loss"]) == len(run.history["train_loss"]) == run.epochs_done
    assert f"run {run.key}" in out
    run.keras_model()  # loads safely and passes the architecture check
    assert run.weights.vocab_size == len(run.vocab)
    assert not elsewhere.exists()

    r = cli("--home", str(home), "resume", run.key[:8], "--epochs", "1", home=elsewhere)
    assert r.returncode == 0, r.stderr[-3000:]
    more = next(x for x in store.list() if x.key != run.key)
    assert f"run {more.key}" in r.stdout
    assert (more.status, more.epochs_done, more.meta["resumed_from"]) == ("complete", run.epochs_done + 1, run.key)
    assert more.history["val_loss"][:run.epochs_done] == run.history["val_loss"]
    assert more.config == run.config.replace(epochs=run.epochs_done + 1)
    assert not elsewhere.exists()


def test_generate_lowercases_the_prime_for_a_lowercase_run(tmp_path, trained_run):
    import shutil

    folder = tmp_path / "runs" / trained_run.key
    shutil.copytree(trained_run.path, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "lowercase": True}))
    g = cli("generate", trained_run.key, "--prime", "DIVYA LIKES", "--length", "5", home=tmp_path)
    assert g.returncode == 0, g.stderr
    assert g.stdout.startswith("divya likes")
