"""The command line, run as a real subprocess."""

import csv
import io
import json
import os
import subprocess
import sys

import pytest

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
    c = cli("trace", key, "--text", "We like tea.", "--format", "csv", home=tmp_path)
    rows = list(csv.DictReader(io.StringIO(c.stdout)))
    assert len(rows) == len("We like tea.") * 8 and set(rows[0]) >= {"layer", "char", "unit", "forget", "cell"}
    out = tmp_path / "t.json"
    assert cli("trace", key, "--text", "We", "--format", "json", "--output", str(out), home=tmp_path).returncode == 0
    assert len(json.loads(out.read_text())) == 2 * 8
    bundle = tmp_path / "run.zip"
    assert cli("export", key, str(bundle), home=tmp_path).returncode == 0
    other = tmp_path / "other"
    assert cli("import", str(bundle), home=other).returncode == 0
    assert key in cli("runs", home=other).stdout


def test_demo_model_generates(tmp_path):
    r = cli("generate", "demo", "--prime", "ROMEO:", "--length", "100", home=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("ROMEO:")


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


def test_generate_lowercases_the_prime_for_a_lowercase_run(tmp_path, trained_run):
    import shutil

    folder = tmp_path / "runs" / trained_run.key
    shutil.copytree(trained_run.path, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "lowercase": True}))
    g = cli("generate", trained_run.key, "--prime", "DIVYA LIKES", "--length", "5", home=tmp_path)
    assert g.returncode == 0, g.stderr
    assert g.stdout.startswith("divya likes")
