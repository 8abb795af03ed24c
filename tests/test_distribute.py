"""tf.distribute: train --strategy mirrored on two logical CPU devices, and TF_CONFIG refused in words.

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
