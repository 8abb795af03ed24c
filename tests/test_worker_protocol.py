"""The worker protocol without a training (fast; `make mutate` runs these per mutant of worker.py and jobs.py):
which lines the server takes as messages, when a stored run is continued rather than trained again, what the
worker says when its spec cannot be trained, how often it reports progress, and which stdin lines cancel."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import threading

import pytest

from charlstm.runs.store import RunStore
from charlstm.serve.protocol import parse, worker_command, worker_env
from charlstm.training.execute import plan

TIMEOUT_S = 120  # a Python start and an import of the package, on a busy machine


@pytest.mark.parametrize("line, message", [
    ('{"event": "progress", "progress": {}}\n', {"event": "progress", "progress": {}}),
    ('{"event": "done"}', {"event": "done"}),
    ("2026-12-04 04:00:00 some library's log line\n", None),  # not JSON
    ('["event"]\n', None),  # JSON, but not an object
    ('{"progress": {}}\n', None),  # an object that is not a message
    ("", None),
])
def test_the_server_takes_only_json_objects_with_an_event_as_messages(line, message):
    assert parse(line) == message


def edit_meta(run_path, **changes) -> None:
    meta = json.loads((run_path / "meta.json").read_text(encoding="utf-8"))
    (run_path / "meta.json").write_text(json.dumps({**meta, **changes}), encoding="utf-8")


def test_a_complete_run_is_loaded_a_stopped_one_continued_and_anything_else_trained(tmp_path, trained_run):
    store = RunStore(tmp_path)
    corpus = RunStore(trained_run.path.parent.parent).load_corpus(trained_run.meta["corpus_sha256"])
    config = trained_run.config
    assert plan(store, corpus, config) == ("train", None)  # nothing stored
    assert plan(store, corpus, config, resume_from="0" * 16) == ("train", "0" * 16)
    folder = store.ready() / trained_run.key
    shutil.copytree(trained_run.path, folder)
    assert plan(store, corpus, config, resume_from="0" * 16) == ("cached", None)
    edit_meta(folder, status="cancelled", epochs_done=config.epochs - 1)
    assert plan(store, corpus, config) == ("train", trained_run.key)  # continued, not started again
    assert plan(store, corpus, config, resume_from="0" * 16) == ("train", "0" * 16)
    edit_meta(folder, status="cancelled", epochs_done=config.epochs)  # every epoch done, yet not complete
    assert plan(store, corpus, config) == ("train", None)


def run_worker(spec_line: str) -> subprocess.CompletedProcess:
    return subprocess.run(worker_command(), input=spec_line, capture_output=True, text=True, env=worker_env(),
                          timeout=TIMEOUT_S)


def test_a_worker_whose_corpus_is_not_stored_says_so_in_one_message_and_exits_1(tmp_path, tiny_config):
    spec = {"home": str(tmp_path), "corpus_sha256": "0" * 64, "corpus_name": "gone.txt",
            "config": tiny_config.to_dict(), "resume_from": None, "probe": None}
    done = run_worker(json.dumps(spec) + "\n")
    assert done.returncode == 1, done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == [
        {"event": "failed", "message": "the corpus for this training is not stored; upload it and train again"}]


def test_a_worker_that_has_said_its_last_word_exits_though_its_server_keeps_its_stdin_open(tmp_path, tiny_config):
    """The server reads the worker's stdout to its end, then waits for it: a worker that lingered for its stdin
    to close (a listener thread that is not a daemon) would hang its job for ever."""
    spec = {"home": str(tmp_path), "corpus_sha256": "0" * 64, "config": tiny_config.to_dict()}
    proc = subprocess.Popen(worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=worker_env())
    try:
        proc.stdin.write(json.dumps(spec) + "\n")
        proc.stdin.flush()  # and left open, as the server leaves it
        try:
            code = proc.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the worker was still running {TIMEOUT_S} s after it failed") from None
        assert code == 1 and json.loads(proc.stdout.read())["event"] == "failed"
    finally:
        proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()


def test_a_worker_given_a_spec_that_is_not_json_fails_in_words(tmp_path):
    done = run_worker("not json\n")
    assert done.returncode == 1, done.stderr
    [message] = [json.loads(line) for line in done.stdout.splitlines()]
    assert message["event"] == "failed" and "Traceback" not in message["message"]


# Run in a process of its own: the channel takes over the real stdout (its protocol's end) as the worker does.
CHANNEL = textwrap.dedent("""
    import json, sys
    from charlstm.serve import worker
    from charlstm.training.progress import Progress

    now = [0.0]
    worker.time.monotonic = lambda: now[0]  # a fake clock
    channel = worker._Channel()

    def progress(phase, step, steps=10):
        channel.progress(Progress(phase=phase, epoch=1, epochs=2, step=step, steps_per_epoch=steps,
                                  train_loss=None, batch_loss=None, val_loss=None, chars_per_sec=0.0,
                                  elapsed=0.0, eta=None))

    progress("starting", 0)
    progress("training", 1)       # a new phase: sent
    progress("training", 2)       # the same phase within 1/PROGRESS_PER_S: held back
    now[0] = 0.5 / worker.PROGRESS_PER_S
    progress("training", 3)       # still within: held back
    now[0] = 1 / worker.PROGRESS_PER_S
    progress("training", 4)       # the interval has passed, exactly: sent
    progress("training", 5)       # within the next one: held back
    progress("training", 10)      # the epoch's last step: always sent
    progress("validating", 10)    # another phase: sent
    progress("validating", 10)    # not training: sent

    seen = []
    def lines():
        yield "hello\\n"
        seen.append(channel.cancel.is_set())
        yield " cancel \\n"
        seen.append(channel.cancel.is_set())
        seen.append(channel.interrupted.is_set())
    channel.listen(lines())
    seen.append(channel.interrupted.is_set())  # the end of stdin: the server went away
    print(json.dumps(seen), file=sys.stderr)
""")


def test_the_worker_reports_progress_at_most_five_times_a_second_and_stops_on_a_cancel_line():
    done = subprocess.run([sys.executable, "-c", CHANNEL], capture_output=True, text=True, env=worker_env(),
                          timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    sent = [json.loads(line) for line in done.stdout.splitlines()]
    assert {m["event"] for m in sent} == {"progress"}
    assert [(m["progress"]["phase"], m["progress"]["step"]) for m in sent] == [
        ("starting", 0), ("training", 1), ("training", 4), ("training", 10), ("validating", 10), ("validating", 10)]
    # a line other than "cancel" changes nothing; "cancel" (spaces aside) stops the training as the visitor asked,
    # not as an interruption; the end of the lines is the server gone
    assert json.loads(done.stderr.strip().splitlines()[-1]) == [False, True, False, True]


def test_a_worker_that_exited_cleanly_without_a_last_word_is_not_said_to_have_crashed():
    from charlstm.serve.job import death_message

    assert death_message(0) == "the training process exited with code 0 without finishing"


# ---- with a real (tiny) training: `make mutate` runs these only for worker.py's lines they reach (docs/mutation.md)
@pytest.mark.slow
def test_execute_keeps_a_stopped_run_as_interrupted_and_continues_it_with_its_own_probe(tmp_path, tiny_corpus,
                                                                                          tiny_config):
    from conftest import require

    require("keras")
    from charlstm.insight.probes import PROBE
    from charlstm.runs.store import StoreError
    from charlstm.training.execute import execute

    store = RunStore(tmp_path)
    config = tiny_config.replace(epochs=2)
    with pytest.raises(StoreError, match="no longer stored"):
        execute(store, tiny_corpus, config, resume_from="0" * 16)
    seen = []
    stopped = execute(store, tiny_corpus, config, probe="The cat sat.", on_progress=seen.append,
                      should_stop=lambda: any(p.epoch >= 2 for p in seen), interrupted=lambda: True)
    assert stopped.status == "cancelled" and stopped.run.epochs_done == 1, stopped.message
    assert stopped.message == f"cancelled; kept the 1 finished epoch(s) as run {stopped.run.key[:8]}"
    assert stopped.run.history["stopped"] == "interrupted"  # the server went away: not the visitor's Cancel
    done = execute(store, tiny_corpus, config, resume_from=stopped.run.key, interrupted=lambda: True)
    assert done.status == "complete" and done.message == f"finished: run {done.run.key[:8]}"
    assert done.run.epochs_done == 2 and done.run.history["stopped"] != "interrupted"
    probe = done.run.probes().texts
    assert probe == stopped.run.probes().texts == ("The cat sat.",) != (PROBE,)  # the one it started with


@pytest.mark.slow
def test_import_bundle_out_of_process_returns_the_run_or_the_checkers_one_sentence(tmp_path, trained_run):
    from charlstm.runs.store import StoreError
    from charlstm.serve.worker import import_bundle

    store = RunStore(tmp_path)
    with pytest.raises(StoreError) as refused:
        import_bundle(store, b"not a zip")
    assert str(refused.value).startswith("not a charlstm bundle") and "Traceback" not in str(refused.value)
    data = RunStore(trained_run.path.parent.parent).export_bundle(trained_run.key)
    assert import_bundle(store, data).key == trained_run.key


@pytest.mark.slow
def test_a_worker_trains_and_says_done_with_the_name_its_corpus_was_given(tmp_path, tiny_corpus, tiny_config):
    store = RunStore(tmp_path)
    store.save_corpus(tiny_corpus)
    spec = {"home": str(tmp_path), "corpus_sha256": tiny_corpus.sha256, "corpus_name": "named by the visitor.txt",
            "config": tiny_config.to_dict(), "resume_from": None}
    proc = subprocess.Popen(worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=worker_env())
    try:
        proc.stdin.write(json.dumps(spec) + "\n")
        proc.stdin.flush()  # left open: its end would tell the worker that the server went away
        deadline = threading.Timer(4 * TIMEOUT_S, proc.kill)  # the read below ends when the worker does
        deadline.start()
        out = proc.stdout.read()
        deadline.cancel()
        assert proc.wait(timeout=TIMEOUT_S) == 0, f"the worker ended with {proc.returncode} (killed after " \
                                                  f"{4 * TIMEOUT_S} s without finishing if -9); said: {out[-500:]}"
    finally:
        proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()
    last = json.loads(out.splitlines()[-1])
    assert last["event"] == "done" and last["status"] == "complete", last
    assert store.get(last["key"]).meta["corpus_name"] == "named by the visitor.txt"


def test_a_job_spec_goes_through_its_json_line_unchanged_and_cannot_be_changed_on_the_way():
    import dataclasses

    from charlstm.config import Config
    from charlstm.serve.protocol import JobSpec

    spec = JobSpec("/home/x", "ab" * 32, "my text.txt", Config(layers=1, units=8), "3f2a" * 4, "Divya eats.")
    assert JobSpec.from_dict(json.loads(spec.line())) == spec
    bare = {k: v for k, v in spec.to_dict().items() if k not in ("corpus_name", "resume_from", "probe")}
    assert JobSpec.from_dict(bare) == dataclasses.replace(spec, corpus_name="", resume_from=None, probe=None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.home = "/elsewhere"  # a spec is what was sent: the queue file keeps the same


def test_a_worker_is_started_in_a_session_of_its_own():
    """A Ctrl-C in the server's terminal reaches the server only; the worker hears of it by the end of its stdin."""
    import os

    from charlstm.serve.protocol import new_session

    assert os.name != "posix" or new_session() == {"start_new_session": True}
