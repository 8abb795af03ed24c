"""Where training runs, in words: the trainer reports it, the run keeps it, the command line prints it."""

from __future__ import annotations

from conftest import require

from charlstm.model.devices import cpu_cores, describe


def expected_device() -> str:
    """What describe() must say on this machine: the first GPU by name, else the CPU with its cores and threads."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return "GPU: "
    n = cpu_cores()
    threads = tf.config.threading.get_intra_op_parallelism_threads()
    words = f"{threads} TensorFlow thread{'s' * (threads != 1)}" if threads else "TensorFlow threads: all"
    return f"CPU ({n} core{'s' * (n != 1)}, {words})"


def test_training_reports_its_device_and_the_run_keeps_it(tiny_corpus, tiny_config, store):
    require("tensorflow")
    from charlstm.training.trainer import train

    seen = []
    trained = train(tiny_corpus, tiny_config, on_progress=seen.append)
    want = expected_device()
    assert seen[0].device is not None and seen[0].device.startswith(want)  # known from the first report on
    assert all(p.device == seen[0].device for p in seen)
    assert trained.device == seen[0].device == describe()
    run = store.save(trained, tiny_corpus)
    assert store.get(run.key).meta["device"] == trained.device


def test_the_command_line_says_where_it_trains(tmp_path, tiny_text):
    require("tensorflow")
    from test_cli import cli

    corpus = tmp_path / "tiny.txt"
    corpus.write_text(tiny_text)
    r = cli("train", str(corpus), "--layers", "1", "--units", "8", "--embedding", "4", "--seq-len", "16",
            "--batch-size", "16", "--epochs", "1", home=tmp_path)
    assert r.returncode == 0, r.stderr
    said = [line for line in r.stderr.splitlines() if line.startswith("training on ")]
    device = said[0].removeprefix("training on ")
    assert device.startswith(("CPU (", "GPU: "))
    assert r.stdout.rstrip().endswith(f"on {device}")


def test_the_gpu_requirements_are_the_app_requirements_with_tensorflow_for_cuda():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]

    def lines(name: str) -> list[str]:
        return [s for s in (root / name).read_text().splitlines() if s.strip() and not s.startswith("#")]

    app, gpu = lines("requirements.txt"), lines("requirements-gpu.txt")
    assert [s for s in gpu if not s.startswith("tensorflow")] == [s for s in app if not s.startswith("tensorflow")]
    linux = next(s for s in app if s.startswith("tensorflow-cpu"))  # the same versions, the CUDA build
    assert [s for s in gpu if s.startswith("tensorflow")] == [linux.replace("tensorflow-cpu", "tensorflow[and-cuda]")]
