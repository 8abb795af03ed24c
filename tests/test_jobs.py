"""The job manager: each training in its own worker process; queue, cache, join, cancel, a worker's death.

No test races a training against the clock: a training the test must catch while it runs has far
more epochs than it could finish before the test acts (so it cannot end first), and every wait's
result is asserted.
"""

import json
import os
import re
import signal
import threading
from pathlib import Path

import numpy as np
import pytest

from charlstm.runs.store import run_key
from charlstm.serve.job import death_message
from charlstm.serve.jobs import JobManager

FINISH_S = 240  # generous deadlines for a busy 2-core machine; the tests wait on conditions, not on time
ENDLESS = 100_000  # epochs: a training that cannot finish before the test cancels or kills it


@pytest.fixture
def manager(store):
    m = JobManager(store, grace=60)
    yield m
    m.close()


def finished(manager, job_id, timeout=FINISH_S):
    v = manager.wait(job_id, timeout=timeout)
    assert v is not None and not v.active, f"job {job_id} still {v.status if v else '?'} after {timeout} s"
    return v


def training(manager, job_id, epoch=1, timeout=FINISH_S):
    """Wait until the job reports a training step in `epoch` (or later); returns its view."""
    v = manager.wait_for(job_id, lambda v: v.progress is not None and v.progress.phase == "training"
                         and v.progress.epoch >= epoch and v.progress.step >= 1, timeout=timeout)
    assert v.status == "running", v.message
    return v


def arrays(w):
    return [w.embedding, w.dense_w, w.dense_b] + [a for lw in w.layers for a in (lw.kernel, lw.recurrent, lw.bias)]


def test_train_then_cache_hit(manager, tiny_corpus, tiny_config, store):
    job, how = manager.submit(tiny_corpus, tiny_config)
    assert how == "started"
    done = finished(manager, job.id)
    assert done.status == "done", done.message
    assert done.progress.phase == "done" and len(done.curve) > 0 and len(done.val_curve) == 1
    run = store.get(done.key)
    assert run is not None and run.status == "complete"
    # the worker says where it trained, in its progress lines, and the run keeps it
    assert done.progress.device and run.meta["device"] == done.progress.device
    assert store.load_corpus(tiny_corpus.sha256) is not None  # kept so the run can be resumed
    again, how = manager.submit(tiny_corpus, tiny_config)
    assert how == "cached" and again.status == "cached" and again.key == done.key


def test_queue_join_and_cancel(manager, tiny_corpus, tiny_config):
    a, how_a = manager.submit(tiny_corpus, tiny_config.replace(epochs=ENDLESS))
    assert how_a == "started"
    training(manager, a.id)
    assert manager.current().id == a.id
    b, how_b = manager.submit(tiny_corpus, tiny_config.replace(seed=11))
    c, how_c = manager.submit(tiny_corpus, tiny_config.replace(seed=12))
    assert how_b == how_c == "queued"
    assert manager.position(b.id) == 1 and manager.position(c.id) == 2 and manager.position(a.id) is None
    joined, how = manager.submit(tiny_corpus, tiny_config.replace(seed=11))
    assert how == "joined" and joined.id == b.id
    manager.cancel(b.id)
    assert manager.get(b.id).status == "cancelled" and manager.position(c.id) == 1
    manager.cancel(c.id)
    manager.cancel(a.id)  # stops within a batch
    end = finished(manager, a.id)
    assert end.status == "cancelled"
    assert end.progress.epoch < ENDLESS


def test_resume_needs_more_epochs(manager, tiny_corpus, tiny_config, store):
    job, _ = manager.submit(tiny_corpus, tiny_config)
    assert finished(manager, job.id).status == "done"
    more, how = manager.resume(job.key, 1)
    assert how in ("started", "queued")
    end = finished(manager, more.id)
    assert end.status == "done", end.message
    run = store.get(end.key)
    assert run.epochs_done == 2 and run.meta["resumed_from"] == job.key
    with pytest.raises(ValueError, match="at least one more epoch"):
        manager.resume(job.key, 0)


def test_a_failing_job_does_not_kill_the_worker(manager, tiny_config, tiny_corpus):
    from charlstm.text.corpus import from_text

    bad, _ = manager.submit(from_text("far too short", "short.txt"), tiny_config)
    end = finished(manager, bad.id)
    assert end.status == "failed" and "needs at least" in end.message
    good, _ = manager.submit(tiny_corpus, tiny_config)
    assert finished(manager, good.id).status == "done"


def assert_kept_what_it_says(store, end) -> None:
    """A worker killed mid-training leaves exactly the epochs it had finished (each stored as it finished), never a
    half-written one, and its job's message says which: none, or the run to continue."""
    assert not list(store.runs.glob(".tmp-*"))  # no half run
    runs = store.list()
    if not runs:  # killed in its first epoch
        assert end.message.endswith("nothing from it was kept"), end.message
        return
    (run,) = runs
    assert run.key == end.key and run.status == "cancelled" and run.history["stopped"] == "interrupted"
    assert run.epochs_done == len(run.history["val_loss"]) >= 1
    assert f"its {run.epochs_done} finished epoch(s) are kept as run {run.key[:8]}" in end.message, end.message
    run.weights  # noqa: B018  (the stored weights load)


def test_a_killed_worker_keeps_every_finished_epoch_and_its_run_continues_to_the_end(store, tiny_corpus,
                                                                                      tiny_config):
    from charlstm.training.execute import plan

    config = tiny_config.replace(epochs=6)
    m = JobManager(store, grace=60)
    try:
        job, _ = m.submit(tiny_corpus, config)
        got = m.wait_for(job.id, lambda v: v.progress is not None and v.progress.epoch >= 3, timeout=FINISH_S)
        assert got.active, got.message
        os.kill(m.worker_pid(job.id), signal.SIGKILL)  # no chance to save: only what it stored as it went
        end = finished(m, job.id)
        assert end.status == "failed"
        assert_kept_what_it_says(store, end)
        run = store.get(end.key)
        assert run is not None and 2 <= run.epochs_done < 6  # epochs 1 and 2 finished before epoch 3 began
        assert plan(store, tiny_corpus, config) == ("train", run.key)  # the same settings continue it
        again, how = m.submit(tiny_corpus, config)
        assert how == "started"
        done = finished(m, again.id)
        assert done.status == "done", done.message
        final = store.get(done.key)
        assert final.status == "complete" and final.epochs_done == 6 and final.history["stopped"] == "epochs"
        assert final.history["val_loss"][:run.epochs_done] == run.history["val_loss"]  # it went on from them
    finally:
        m.close()


def test_a_killed_worker_fails_its_job_in_words_and_the_next_training_runs(manager, tiny_corpus, tiny_config, store):
    job, _ = manager.submit(tiny_corpus, tiny_config.replace(epochs=ENDLESS))
    training(manager, job.id)  # mid-epoch: a step of epoch 1 is done, the epoch is not
    pid = manager.worker_pid(job.id)
    assert pid is not None and pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    end = finished(manager, job.id)
    assert end.status == "failed"
    assert "killed (SIGKILL, signal 9)" in end.message and "ran out of memory" in end.message, end.message
    assert_kept_what_it_says(store, end)
    kept = {r.key for r in store.list()}  # none, or its finished epochs (a busy machine may finish epoch 1 first)
    nxt, how = manager.submit(tiny_corpus, tiny_config)
    assert how == "started"
    done = finished(manager, nxt.id)
    assert done.status == "done", done.message
    assert sorted(r.key for r in store.list()) == sorted(kept | {done.key}) and done.key not in kept


def test_cancel_mid_epoch_keeps_the_last_finished_epoch_across_the_process_boundary(
        manager, tiny_corpus, tiny_config, store, tmp_path, monkeypatch):
    from charlstm.runs.store import RunStore
    from charlstm.training.execute import execute

    # a tiny model's whole epoch would be one group of Keras steps (train.group_size): one step each, so that
    # the cancel lands inside epoch 2; the worker inherits this environment
    monkeypatch.setenv("CHARLSTM_STEPS_PER_EXECUTION", "1")

    config = tiny_config.replace(epochs=ENDLESS)
    job, _ = manager.submit(tiny_corpus, config)
    training(manager, job.id, epoch=2)  # epoch 1 finished and validated; epoch 2 under way
    manager.cancel(job.id)
    end = finished(manager, job.id)
    # epoch 2 of a tiny model can still finish before the cancel reaches the worker on a busy machine:
    # then it keeps 2. Either way it keeps exactly the finished epochs it names, and no unfinished one.
    said = re.search(r"kept the (\d+) finished epoch\(s\)", end.message)
    assert end.status == "cancelled" and said, end.message
    n = int(said.group(1))
    assert 1 <= n < ENDLESS
    kept = store.get(run_key(tiny_corpus.sha256, config))
    assert kept is not None and kept.status == "cancelled" and kept.epochs_done == n
    # the very same training for n epochs, in this process: the kept run must be that epoch's model
    reference = execute(RunStore(tmp_path / "reference"), tiny_corpus, tiny_config.replace(epochs=n)).run
    assert kept.history["val_loss"] == pytest.approx(reference.history["val_loss"], abs=1e-6)
    for w_kept, w_ref in zip(arrays(kept.weights), arrays(reference.weights), strict=True):
        np.testing.assert_allclose(w_kept, w_ref, atol=1e-6)


def test_cancel_right_after_submit_stops_the_worker_before_anything_is_kept(manager, tiny_corpus, tiny_config, store):
    job, _ = manager.submit(tiny_corpus, tiny_config.replace(epochs=ENDLESS))
    manager.cancel(job.id)
    end = finished(manager, job.id)
    assert end.status == "cancelled"
    assert store.list() == []


def test_a_worker_that_does_not_stop_is_killed_after_the_grace(store, tiny_corpus, tiny_config):
    m = JobManager(store, grace=1)
    try:
        job, _ = m.submit(tiny_corpus, tiny_config.replace(epochs=ENDLESS))
        training(m, job.id)
        os.kill(m.worker_pid(job.id), signal.SIGSTOP)  # frozen: it cannot hear the polite request
        m.cancel(job.id)
        end = finished(m, job.id)
        assert end.status == "cancelled"
        assert "did not stop within 1 s and was stopped by force" in end.message, end.message
        assert_kept_what_it_says(store, end)
    finally:
        m.close()


def test_close_stops_every_worker_and_a_restarted_server_queues_the_waiting_jobs_again(store, tiny_corpus, tiny_config):
    queue_file = store.root / "queue.json"
    m = JobManager(store, grace=60, queue_file=queue_file)
    job, _ = m.submit(tiny_corpus, tiny_config.replace(epochs=ENDLESS), owner="a")
    waiting, how = m.submit(tiny_corpus, tiny_config.replace(seed=11), owner="b", probe="Divya eats.")
    assert how == "queued", how
    training(m, job.id)
    pid = m.worker_pid(job.id)
    m.close()
    end = m.get(job.id)
    assert not end.active, end
    with pytest.raises(ProcessLookupError):  # the worker has exited and been reaped
        os.kill(pid, 0)
    # the server starts again on the same home: the job that was waiting is queued again, as it was, and runs
    again = JobManager(store, grace=60, queue_file=queue_file)
    try:
        (back,) = again.restored
        assert (back.key, back.owner, back.config) == (waiting.key, "b", waiting.config), back
        v = finished(again, back.id)
        assert v.status == "done", v.message
        assert store.get(waiting.key).probes().texts == ("Divya eats.",)
        assert json.loads(queue_file.read_text()) == []  # it left the queue when it started
    finally:
        again.close()


def test_death_messages_say_what_happened():
    assert death_message(-9) == ("the training process was killed (SIGKILL, signal 9): most likely it ran out of "
                                 "memory and the system stopped it")
    assert death_message(-11).startswith("the training process crashed (SIGSEGV, signal 11)")
    assert death_message(3, "Traceback...\nRuntimeError: boom\n").endswith("(last words: RuntimeError: boom)")
    assert death_message(0) == "the training process exited with code 0 without finishing"  # no signal at 0
    assert death_message(-200) == "the training process crashed (signal 200)"  # a number with no name


def test_how_a_job_ended_is_read_from_its_last_word_its_exit_code_and_the_cap(tmp_path):
    """serve/job.py's ending(), branch by branch, without a worker: what the visitor is told in each case."""
    from charlstm.config import Config
    from charlstm.runs.store import RunStore
    from charlstm.serve.job import Job, ending
    from charlstm.text.corpus import from_text

    def job(time_up=False, cancel=False):
        j = Job(1, "0" * 16, from_text("abc " * 50, "t.txt"), Config(layers=1, units=8), None,
                RunStore(tmp_path / "home", create=False), None)
        j.time_up, j.cancel_requested = time_up, cancel
        return j

    done = {"event": "done", "status": "complete", "key": "0123456789abcdef", "epochs_done": 3, "message": "finished"}
    cap = "stopped at the server's limit of 20 min per training"
    assert ending(done, 0, "", job(), 1200, 30, 0) == ("done", "finished")
    assert ending(done, 0, "", job(time_up=True), 1200, 30, 0) == (
        "done", f"{cap}; kept the 3 finished epoch(s) as run 01234567 (continue it for more)")
    assert ending(done | {"status": "cancelled", "message": "kept 2"}, 0, "", job(), 1200, 30, 0) == (
        "cancelled", "kept 2")
    nothing = {"event": "cancelled", "message": "cancelled before the first epoch finished"}
    assert ending(nothing, 0, "", job(), 1200, 30, 0) == ("cancelled", nothing["message"])
    assert ending(nothing, 0, "", job(time_up=True), 1200, 30, 0) == (
        "cancelled", f"{cap} before an epoch finished; nothing was kept")
    assert ending({"event": "failed", "message": "no corpus"}, 1, "", job(), 1200, 30, 0) == ("failed", "no corpus")
    assert ending(None, -9, "", job(cancel=True), 1200, 30, 0) == (
        "cancelled", "cancelled: the training did not stop within 30 s and was stopped by force; "
                     "nothing from it was kept")
    assert ending(None, 0, "", job(cancel=True), 1200, 30, 0)[0] == "failed"  # it exited 0 without a word
    assert ending(None, -9, "", job(), 1200, 30, 0) == ("failed", f"{death_message(-9)}; nothing from it was kept")


def test_the_queue_file_is_written_again_and_again_and_reads_back_in_order(tmp_path):
    from charlstm.config import Config
    from charlstm.serve.job import read_queue, write_queue
    from charlstm.serve.protocol import JobSpec

    a = JobSpec(str(tmp_path), "a" * 64, "a.txt", Config(layers=1, units=8))
    b = JobSpec(str(tmp_path), "b" * 64, "b.txt", Config(layers=1, units=16), probe="Divya eats.")
    path = tmp_path / "deep" / "home" / "queue.json"  # its folder made on the first write
    write_queue(path, [(a, "w1")])
    assert read_queue(path) == [(a, "w1")]
    write_queue(path, [(a, "w1"), (b, None)])  # the folder exists now: written again all the same
    assert read_queue(path) == [(a, "w1"), (b, None)]
    write_queue(path, [])
    assert read_queue(path) == [] and not list(path.parent.glob(".queue.json-*"))  # no temporary file left


def test_the_server_side_never_imports_tensorflow(tmp_path, tiny_text):
    """What the app's server does (queue a training, watch it, import a bundle), in a fresh interpreter: no TF."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import sys
        from charlstm.config import Config
        from charlstm.text.corpus import from_text
        from charlstm.serve.jobs import JobManager
        from charlstm.runs.store import RunStore, StoreError
        from charlstm.serve.worker import import_bundle

        store = RunStore({str(tmp_path / "home")!r})
        m = JobManager(store)
        job, _ = m.submit(from_text({tiny_text!r}, "tiny.txt"),
                          Config(layers=1, units=8, embedding=8, seq_len=16, batch_size=16, epochs=1))
        end = m.wait(job.id, timeout={FINISH_S})
        assert end.status == "done", end
        data = store.export_bundle(end.key)
        store.delete(end.key)
        assert import_bundle(store, data).key == end.key
        try:
            import_bundle(store, b"not a zip")
        except StoreError as e:
            assert "not a zip archive" in str(e), e
        else:
            raise AssertionError("a bad bundle was imported")
        m.close()
        heavy = sorted(name for name in sys.modules if name.split(".")[0] in ("tensorflow", "keras"))
        print("HEAVY", len(heavy), heavy[:5])
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=2 * FINISH_S)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "HEAVY 0 []" in done.stdout, done.stdout


def test_the_worker_speaks_only_json_lines_and_stops_when_its_server_goes_away(store, tiny_corpus, tiny_config):
    """The protocol as the server sees it; closing the worker's stdin (the server died) stops it politely."""
    import json
    import subprocess

    from charlstm.serve.protocol import worker_command, worker_env

    store.save_corpus(tiny_corpus)
    spec = {"home": str(store.root), "corpus_sha256": tiny_corpus.sha256, "corpus_name": "tiny.txt",
            "config": tiny_config.replace(epochs=ENDLESS).to_dict(), "resume_from": None}
    proc = subprocess.Popen(worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=worker_env())
    proc.stdin.write(json.dumps(spec) + "\n")
    proc.stdin.flush()
    events = []
    deadline = threading.Timer(FINISH_S, proc.kill)  # a worker that never stops ends the read loop, killed
    deadline.start()
    try:
        for line in proc.stdout:
            events.append(json.loads(line))  # every line is one JSON object: nothing else reaches stdout
            p = events[-1].get("progress")
            if p and p["epoch"] == 2 and p["phase"] == "training" and not proc.stdin.closed:
                proc.stdin.close()  # the server went away mid-epoch 2
    finally:
        deadline.cancel()
    assert proc.wait(timeout=FINISH_S) == 0, (f"the worker did not stop within {FINISH_S} s of its server going "
                                              f"away (killed: {proc.returncode}); last events: {events[-3:]}")
    assert {e["event"] for e in events[:-1]} == {"progress"}
    assert events[-1]["event"] == "done" and events[-1]["status"] == "cancelled", events[-1]
    assert events[-1]["epochs_done"] == 1 and store.get(events[-1]["key"]).epochs_done == 1
    assert store.get(events[-1]["key"]).history["stopped"] == "interrupted"  # not a visitor's Cancel


def _start_worker(store, tiny_corpus, tiny_config, **popen):
    import json
    import subprocess

    from charlstm.serve.protocol import worker_command, worker_env

    store.save_corpus(tiny_corpus)
    spec = {"home": str(store.root), "corpus_sha256": tiny_corpus.sha256, "corpus_name": "tiny.txt",
            "config": tiny_config.replace(epochs=ENDLESS).to_dict(), "resume_from": None}
    proc = subprocess.Popen(worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=worker_env(), **popen)
    proc.stdin.write(json.dumps(spec) + "\n")
    proc.stdin.flush()
    return proc


def _wait_for_epoch(proc, epoch: int) -> None:
    import json

    deadline = threading.Timer(FINISH_S, proc.kill)
    deadline.start()
    try:
        for line in proc.stdout:
            p = json.loads(line).get("progress")
            if p and p["epoch"] >= epoch and p["phase"] == "training":
                return
    finally:
        deadline.cancel()
    raise AssertionError(f"the worker ended (code {proc.poll()}) before epoch {epoch} began")


def test_a_broken_pipe_is_taken_as_the_server_gone_and_the_finished_epochs_are_kept(store, tiny_corpus, tiny_config):
    """The server died without closing the worker's stdin (its stdout's reader is gone): the next progress line
    breaks the pipe, and the worker stops at the next batch, stores its finished epochs and exits cleanly."""
    import subprocess

    proc = _start_worker(store, tiny_corpus, tiny_config, stderr=subprocess.DEVNULL)
    _wait_for_epoch(proc, 2)
    proc.stdout.close()  # nobody reads any more; stdin stays open, so only the broken pipe can tell it
    try:
        assert proc.wait(timeout=FINISH_S) == 0
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"the worker did not stop within {FINISH_S} s of its pipe breaking") from None
    (run,) = store.list()
    assert run.epochs_done >= 1 and run.history["stopped"] == "interrupted" and run.status == "cancelled"


@pytest.mark.timeout(2 * FINISH_S + 60)
def test_a_server_killed_outright_leaves_its_worker_to_store_the_finished_epochs(store, tiny_corpus, tiny_config):
    """SIGKILL of the process that holds the JobManager (the server): no atexit, no goodbye. Its worker sees its
    stdin end, stops at the next batch and stores the finished epochs as interrupted."""
    import subprocess
    import sys
    import textwrap

    store.save_corpus(tiny_corpus)
    script = textwrap.dedent(f"""
        import os, signal
        from charlstm.config import Config
        from charlstm.serve.jobs import JobManager
        from charlstm.runs.store import RunStore
        store = RunStore({str(store.root)!r})
        corpus = store.load_corpus({tiny_corpus.sha256!r})
        m = JobManager(store, grace=60)
        job, _ = m.submit(corpus, Config.from_dict({tiny_config.replace(epochs=ENDLESS).to_dict()!r}))
        m.wait_for(job.id, lambda v: v.progress is not None and v.progress.epoch >= 2, timeout={FINISH_S})
        print(m.worker_pid(job.id), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    server = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=FINISH_S + 60,
                            cwd=str(Path(__file__).resolve().parents[1]))
    assert server.returncode == -signal.SIGKILL, server.stderr[-3000:]
    worker = int(server.stdout.split()[-1])
    gone = threading.Event()

    def worker_gone() -> bool:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            return True
        return Path(f"/proc/{worker}/stat").read_text().split()[2] == "Z"  # a zombie has finished its work

    for _ in range(int(FINISH_S / 0.2)):
        if worker_gone():
            gone.set()
            break
        gone.wait(0.2)
    assert gone.is_set(), f"the orphaned worker {worker} was still running {FINISH_S} s after its server died"
    (run,) = store.list()
    assert run.epochs_done >= 1 and run.history["stopped"] == "interrupted"


def test_the_probe_text_goes_to_the_worker_and_a_resume_keeps_it(manager, tiny_corpus, tiny_config, store):
    probe = "We like tea. It is late."
    job, _ = manager.submit(tiny_corpus, tiny_config, probe=probe)
    done = finished(manager, job.id)
    assert done.status == "done", done.message
    probes = store.get(done.key).probes()
    assert probes is not None and probes.texts == (probe,) and probes.epochs == (0, 1)
    more, _ = manager.resume(done.key, 1)  # no probe given: the run's own is traced again
    end = finished(manager, more.id)
    assert end.status == "done", end.message
    again = store.get(end.key).probes()
    assert again.texts == (probe,) and again.epochs == (0, 1, 2)
