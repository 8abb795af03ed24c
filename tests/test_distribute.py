"""tf.distribute: train --strategy mirrored on two logical CPU devices, --strategy multiworker with two worker
processes on this machine, TF_CONFIG refused in words and TensorFlow's failures told in one line.

Logical devices must be configured before TensorFlow starts, so the mirrored training runs in a
fresh Python process that splits its CPU in two and then calls the command line's main().
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import make_text, require

from charlstm.cli.main import main
from charlstm.model.devices import check_tf_config, is_chief

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TWO_CPUS = """
import sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from charlstm.cli.main import main
sys.exit(main(sys.argv[1:]))
"""
TINY = ["--layers", "2", "--units", "16", "--embedding", "8", "--seq-len", "16", "--learning-rate", "0.01",
        "--seed", "3"]


def two_cpus(*args, home, timeout=600):
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("TF_CONFIG", None)
    return subprocess.run([sys.executable, "-c", TWO_CPUS, "--home", str(home), *args], capture_output=True,
                          text=True, env=env, timeout=timeout, cwd=ROOT)


@pytest.mark.slow
def test_mirrored_over_two_devices_learns_and_stores_a_run_like_any_other(tmp_path):
    require("tensorflow")
    import keras
    from test_gates import keras_layer_outputs

    from charlstm.insight.gates import trace_weights
    from charlstm.runs.store import FILES, RunStore, run_key

    corpus = tmp_path / "tiny.txt"
    corpus.write_text(make_text(6000, seed=2))
    r = two_cpus("train", str(corpus), *TINY, "--batch-size", "16", "--epochs", "3", "--strategy", "mirrored",
                 home=tmp_path / "home")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "training on MirroredStrategy, 2 replicas: 2 logical CPU devices" in r.stderr
    assert "on MirroredStrategy, 2 replicas" in r.stdout

    (run,) = RunStore(tmp_path / "home").list()
    assert run.meta["device"].startswith("MirroredStrategy, 2 replicas")
    # the same run as one device would store: the same files, config and key
    assert set(FILES) <= {p.name for p in run.path.iterdir()}
    assert run.config.batch_size == 16 and run.key == run_key(run.meta["corpus_sha256"], run.config)
    # it learned: well below guessing uniformly among the characters
    assert run.val_loss < np.log(len(run.vocab)) - 0.5, (run.val_loss, np.log(len(run.vocab)))
    # it loads here, on one device, and the numpy tracer reproduces Keras's own layers
    model = run.keras_model()
    ids = run.vocab.encode("The cat sat on the mat. It is late.")
    expected = keras_layer_outputs(model, ids)
    tr = trace_weights(run.weights, run.vocab, run.vocab.decode(ids))
    for k in range(run.config.layers):
        np.testing.assert_allclose(tr.layers[k]["hidden"], expected[k], atol=1e-5, rtol=0)
    np.testing.assert_allclose(tr.logits, expected[-1], atol=1e-5, rtol=0)
    assert keras.backend.backend() == "tensorflow"


@pytest.mark.slow
def test_a_batch_that_does_not_split_over_the_replicas_is_refused(tmp_path):
    require("tensorflow")
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(make_text(6000, seed=2))
    r = two_cpus("train", str(corpus), *TINY, "--batch-size", "15", "--epochs", "1", "--strategy", "mirrored",
                 home=tmp_path / "home")
    assert r.returncode == 2
    assert "error: batch size 15 does not split evenly over 2 replicas; use a multiple of 2" in r.stderr
    assert "Traceback" not in r.stderr


BAD_TF_CONFIG = {  # TF_CONFIG (None: unset): what the message must say
    "unset": (None, "--strategy multiworker needs the TF_CONFIG environment variable"),
    "empty": ("  ", "--strategy multiworker needs the TF_CONFIG environment variable"),
    "not JSON": ("{cluster: 1}", "TF_CONFIG is not valid JSON"),
    "a list": ("[1, 2]", "TF_CONFIG must be a JSON object with 'cluster' and 'task'"),
    "no cluster": ('{"task": {"type": "worker", "index": 0}}', "TF_CONFIG has no 'cluster'"),
    "an address without a port": ('{"cluster": {"worker": ["host1"]}, "task": {"type": "worker", "index": 0}}',
                                  "cluster['worker'] must be a list of 'host:port' addresses"),
    "no task": ('{"cluster": {"worker": ["h:1"]}}', "TF_CONFIG has no 'task'"),
    "a task type not in the cluster": ('{"cluster": {"worker": ["h:1"]}, "task": {"type": "chief", "index": 0}}',
                                       "task type 'chief' is not in its cluster"),
    "an index too large": ('{"cluster": {"worker": ["h:1", "h:2"]}, "task": {"type": "worker", "index": 2}}',
                           "task index must be 0 to 1 for its 2 worker(s), got 2"),
}


@pytest.mark.parametrize("case", list(BAD_TF_CONFIG))
def test_multiworker_with_a_bad_tf_config_says_what_is_wrong(case, tmp_path, monkeypatch, capsys):
    raw, said = BAD_TF_CONFIG[case]
    if raw is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", raw)
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(make_text(3000))
    assert main(["--home", str(tmp_path / "home"), "train", str(corpus), "--strategy", "multiworker"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and said in err and "Traceback" not in err


def test_the_chief_keeps_the_run():
    workers = {"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}
    assert is_chief(check_tf_config(json.dumps(workers)))
    assert not is_chief({**workers, "task": {"type": "worker", "index": 1}})
    with_chief = {"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}
    assert not is_chief(check_tf_config(json.dumps(with_chief)))
    assert is_chief({**with_chief, "task": {"type": "chief", "index": 0}})


@pytest.mark.slow
def test_multiworker_with_one_worker_trains_and_stores(tmp_path):
    require("tensorflow")
    import socket

    from charlstm.runs.store import RunStore

    with socket.socket() as s:  # a port the OS says is free now; the worker binds it a moment later
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(make_text(4000, seed=2))
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CONFIG=json.dumps(
        {"cluster": {"worker": [f"localhost:{port}"]}, "task": {"type": "worker", "index": 0}}))
    r = subprocess.run([sys.executable, "-m", "charlstm", "--home", str(tmp_path / "home"), "train", str(corpus),
                        *TINY, "--batch-size", "16", "--epochs", "1", "--strategy", "multiworker"],
                       capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "training on MultiWorkerMirroredStrategy, 1 worker, 1 replica; this worker: 1 logical CPU device" in r.stderr
    (run,) = RunStore(tmp_path / "home").list()
    assert run.meta["device"].startswith("MultiWorkerMirroredStrategy")


def free_ports(n: int) -> list[int]:
    """Ports the OS says are free now (held together, so they differ); the workers bind them a moment later."""
    import socket

    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def two_workers(tmp_path, corpora, args, timeout=180):
    """Run `train` as worker 0 and worker 1 of one cluster, each its own process and --home; (returncode, stderr,
    stdout) of each. Output goes to files, so neither blocks on a full pipe while the other is waited on."""
    ports = free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    procs = []
    for i, corpus in enumerate(corpora):
        (tmp_path / f"tmp{i}").mkdir()
        env = dict(os.environ, PYTHONPATH=ROOT, TMPDIR=str(tmp_path / f"tmp{i}"),
                   TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}))
        out, err = open(tmp_path / f"out{i}", "w"), open(tmp_path / f"err{i}", "w")
        procs.append((subprocess.Popen([sys.executable, "-m", "charlstm", "--home", str(tmp_path / f"home{i}"),
                                        "train", str(corpus), *args, "--strategy", "multiworker"],
                                       stdout=out, stderr=err, env=env, cwd=ROOT), out, err))
    try:
        for p, _, _ in procs:
            p.wait(timeout=timeout)  # a worker whose peer never comes waits for ever, deaf to SIGTERM
    finally:
        for p, out, err in procs:
            p.kill()
            p.wait()
            out.close()
            err.close()
    return [(p.returncode, (tmp_path / f"err{i}").read_text(), (tmp_path / f"out{i}").read_text())
            for i, (p, _, _) in enumerate(procs)]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_workers_train_one_model_the_chief_keeps_it(tmp_path, capsys):
    require("tensorflow")
    from test_gates import keras_layer_outputs

    from charlstm.insight.gates import trace_weights
    from charlstm.runs.store import RunStore

    corpus = tmp_path / "tiny.txt"
    corpus.write_text(make_text(6000, seed=2))
    args = [*TINY, "--batch-size", "16", "--epochs", "2"]
    (rc0, err0, out0), (rc1, err1, out1) = two_workers(tmp_path, [corpus, corpus], args)
    assert rc0 == 0, err0[-3000:]
    assert rc1 == 0, err1[-3000:]
    for err in (err0, err1):
        assert "training on MultiWorkerMirroredStrategy, 2 workers, 2 replicas" in err
    assert "not the chief" in err1 and "not the chief" not in err0

    (run,) = RunStore(tmp_path / "home0").list()
    assert run.meta["device"].startswith("MultiWorkerMirroredStrategy, 2 workers, 2 replicas")
    assert f"finished: run {run.key[:8]}" in out0 and f"finished: run {run.key[:8]}" in out1
    assert run.epochs_done == 2 and run.val_loss < np.log(len(run.vocab)) - 0.5
    # the other worker kept nothing: not in its --home, and its temporary store is gone
    assert not [p for p in (tmp_path / "home1").rglob("*") if p.is_file()]
    assert not list((tmp_path / "tmp1").glob("charlstm-worker-*"))

    # one model: the same weights as the same global batches split over two devices of one process
    r = two_cpus("train", str(corpus), *args, "--strategy", "mirrored", home=tmp_path / "mirrored")
    assert r.returncode == 0, r.stderr[-3000:]
    (mirrored,) = RunStore(tmp_path / "mirrored").list()
    assert mirrored.key == run.key
    model = run.keras_model()
    for a, b in zip(model.get_weights(), mirrored.keras_model().get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)

    # and it loads, traces and generates like any other run
    ids = run.vocab.encode("The cat sat on the mat. It is late.")
    expected = keras_layer_outputs(model, ids)
    tr = trace_weights(run.weights, run.vocab, run.vocab.decode(ids))
    np.testing.assert_allclose(tr.logits, expected[-1], atol=1e-5, rtol=0)
    capsys.readouterr()
    home = ["--home", str(tmp_path / "home0")]
    assert main([*home, "trace", run.key[:8], "--text", "The cat sat. It is late."]) == 0
    assert f"{len('The cat sat. It is late.')} characters, 2 layers of 16 units" in capsys.readouterr().out
    assert main([*home, "generate", run.key[:8], "--prime", "The ", "--length", "40"]) == 0
    assert capsys.readouterr().out.startswith("The ")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_workers_on_different_corpora_fail_in_one_line_each(tmp_path):
    require("tensorflow")
    from charlstm.runs.store import RunStore

    corpora = [tmp_path / "a.txt", tmp_path / "b.txt"]
    corpora[0].write_text(make_text(6000, seed=2))
    corpora[1].write_text(make_text(6000, seed=2) + "@")  # one more character: variables of other shapes
    for rc, err, _ in two_workers(tmp_path, corpora, [*TINY, "--batch-size", "16", "--epochs", "1"]):
        (line,) = [x for x in err.splitlines() if x.startswith("error: ")]
        assert rc == 2, err[-3000:]
        assert line.startswith("error: training under --strategy multiworker failed in TensorFlow (")
        assert "each with its own task index in TF_CONFIG" in line and len(line) < 800
        assert "Traceback" not in err and "tf.Tensor" not in err
    assert RunStore(tmp_path / "home0").list() == []


def test_a_tensorflow_message_is_shortened_to_words():
    from charlstm.model.devices import MAX_ERROR_CHARS, short_error

    ids = np.arange(16 * 32, dtype=np.int32).reshape(16, 32) % 59
    tensor = f"<tf.Tensor: shape=(16, 32), dtype=int32, numpy=\n{ids!r}>"
    per_replica = ("Attempt to convert a value (PerReplica:{\n  0: " + tensor + ",\n  1: " + tensor + "\n}) with an "
                   "unsupported type (<class 'tensorflow.python.distribute.values.PerReplica'>) to a Tensor.")
    assert short_error(per_replica) == ("Attempt to convert a value (PerReplica{...}) with an unsupported type "
                                        "(<class 'tensorflow.python.distribute.values.PerReplica'>) to a Tensor.")
    assert short_error(f"bad value {tensor} here") == "bad value <tf.Tensor> here"
    grpc = ("{{function_node __wrapped__CollectiveBcastRecv_device_/job:worker/replica:0/task:1/device:CPU:0}} "
            "Collective ops is aborted by: Shape mismatch.\nAdditional GRPC error information from remote target "
            "/job:worker/replica:0/task:0:\n:UNKNOWN:Error received from peer\nThe error could be from a previous "
            "operation. Restart your program to reset. [Op:CollectiveBcastRecv]")
    assert short_error(grpc) == "Collective ops is aborted by: Shape mismatch."
    long = short_error("word " * 500)
    assert len(long) <= MAX_ERROR_CHARS + 4 and long.endswith(" ...") and "\n" not in long
