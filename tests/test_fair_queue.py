"""The fair queue on a public server: one job per workspace, a capped queue, a wall-time cap, jobs kept private.

The load test submits trainings for 20 simulated visitors at once through the JobManager, as the app
does (each with its own workspace id), and measures the memory of the process that holds the manager
(the server) and of the worker processes. Waits are on conditions, never on time.
"""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from charlstm.serve.job import Refused, valid_job_id
from charlstm.serve.jobs import JobManager
from charlstm.serve.settings import ServerSettings
from charlstm.serve.workspace import Workspaces, workspace_id

FINISH_S = 300
ENDLESS = 100_000


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux), in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def test_job_ids_are_unguessable_and_other_workspaces_cannot_see_or_cancel_them(store, tiny_corpus, tiny_config):
    m = JobManager(store, grace=60, max_queue=8, max_train_s=3600)
    try:
        a, b = workspace_id(secrets.token_hex(8)), workspace_id(secrets.token_hex(8))
        v, how = m.submit(tiny_corpus, tiny_config.replace(epochs=ENDLESS), owner=a)
        assert how == "started" and valid_job_id(v.id) and len(v.id) >= 22  # 16 random bytes
        assert not v.id.isdigit() and str(v.number) not in (v.id,)
        # B: not listed, not readable by id (copied from A's URL), not cancellable; a guessed id is nothing
        assert m.jobs(owner=b) == [] and m.get(v.id, owner=b) is None
        m.cancel(v.id, owner=b)
        for guess in ("1", "2", str(v.number), "../x", secrets.token_urlsafe(16)):
            assert m.get(guess, owner=b) is None
            m.cancel(guess, owner=b)
        assert m.get(v.id, owner=a).active and m.get(v.id, owner=a).status in ("queued", "running")
        # one job per workspace: A's second training is refused in words; B's is accepted
        with pytest.raises(Refused, match="You already have a training"):
            m.submit(tiny_corpus, tiny_config.replace(epochs=ENDLESS, seed=11), owner=a)
        assert m.wait_for(v.id, lambda j: j.status == "running", timeout=FINISH_S).status == "running"
        w, how = m.submit(tiny_corpus, tiny_config.replace(epochs=ENDLESS, seed=12), owner=b)
        assert how == "queued" and m.position(w.id) == 1 and m.load() == (1, 1)
        # and the same corpus and config from B while A trains it: B's own job, never A's
        x, how = m.submit(tiny_corpus, tiny_config.replace(epochs=ENDLESS), owner=workspace_id(secrets.token_hex(8)))
        assert how == "queued" and x.id != v.id
        m.cancel(v.id, owner=a)
        assert m.wait(v.id, timeout=FINISH_S).status == "cancelled"
    finally:
        m.close()


@pytest.mark.slow
def test_the_wall_time_cap_stops_a_training_and_keeps_its_finished_epochs(store, tiny_corpus, tiny_config):
    m = JobManager(store, grace=60, max_queue=8, max_train_s=3600)
    try:
        v, _ = m.submit(tiny_corpus, tiny_config.replace(epochs=ENDLESS), owner=workspace_id(secrets.token_hex(8)))
        got = m.wait_for(v.id, lambda j: j.progress is not None and j.progress.epoch >= 2, timeout=FINISH_S)
        assert got.status == "running", got.message
        m.max_train_s = 0.0  # the cap passes now: the next line from the worker stops it (as 20 min would)
        done = m.wait(v.id, timeout=FINISH_S)
        assert done.status == "done", done.message
        assert "stopped at the server's limit of 0 min per training; kept the" in done.message
        run = store.get(done.key)
        assert run is not None and run.epochs_done >= 1 and run.status == "cancelled"
    finally:
        m.close()


class FakeTimer:
    """threading.Timer's shape; the test fires it (the wall-time cap for a worker that has gone silent)."""
    made: ClassVar[list[FakeTimer]] = []

    def __init__(self, interval, function, args=()):
        self.interval, self.function, self.args = interval, function, args
        self.started = self.cancelled = False
        FakeTimer.made.append(self)

    def start(self):
        self.started = True

    def cancel(self):
        self.cancelled = True

    def fire(self):
        self.function(*self.args)


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


@pytest.mark.slow
def test_the_cap_timer_stops_a_silent_worker_and_nothing_is_kept_before_an_epoch_ends(store, tiny_corpus,
                                                                                       tiny_config):
    FakeTimer.made.clear()
    m = JobManager(store, grace=60, max_queue=8, max_train_s=90.0, timer=FakeTimer, clock=FakeClock())
    try:
        v, _ = m.submit(tiny_corpus, tiny_config.replace(epochs=ENDLESS), owner="a")
        got = m.wait_for(v.id, lambda j: bool(FakeTimer.made), timeout=FINISH_S)  # its worker has started
        assert got.status == "running", got.message
        (cap,) = FakeTimer.made
        assert cap.started and cap.interval == 90.0  # started with the cap, in seconds
        cap.fire()  # 90 s passed while the worker loads: it is asked to stop at its first batch
        done = m.wait(v.id, timeout=FINISH_S)
        assert done.status == "cancelled", done.message
        assert done.message == "stopped at the server's limit of 1.5 min per training before an epoch finished; " \
                               "nothing was kept"
        assert store.list() == [] and cap.cancelled
    finally:
        m.close()


@pytest.mark.slow
def test_the_clock_stops_a_training_on_the_first_line_past_the_cap(store, tiny_corpus, tiny_config):
    FakeTimer.made.clear()
    clock = FakeClock()
    m = JobManager(store, grace=60, max_queue=8, max_train_s=600.0, timer=FakeTimer, clock=clock)
    try:
        v, _ = m.submit(tiny_corpus, tiny_config.replace(epochs=ENDLESS), owner="a")
        got = m.wait_for(v.id, lambda j: j.progress is not None and j.progress.epoch >= 2, timeout=FINISH_S)
        assert got.status == "running" and not FakeTimer.made[0].cancelled
        clock.t += 599.0  # not yet
        m.wait_for(v.id, lambda j: j.progress.step != got.progress.step or j.progress.epoch != got.progress.epoch,
                   timeout=FINISH_S)
        assert m.get(v.id).status == "running"
        clock.t += 2.0  # 601 s after it started: the next line it sends stops it
        done = m.wait(v.id, timeout=FINISH_S)
        assert done.status == "done", done.message
        assert done.message.startswith("stopped at the server's limit of 10 min per training; kept the ")
        assert store.get(done.key).epochs_done >= 1
    finally:
        m.close()


def test_the_servers_minutes_become_the_managers_seconds(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from charlstm.serve.jobs import live_managers

    monkeypatch.setenv("CHARLSTM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CHARLSTM_MAX_TRAIN_MINUTES", "0.75")
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    (m,) = [m for m in live_managers() if m.store.root == tmp_path / "home"]
    try:
        assert m.max_train_s == 45.0
    finally:
        m.close()


@pytest.mark.slow
def test_twenty_visitors_at_once_the_queue_cap_holds(tmp_path, tiny_corpus, tiny_config,
                                                                              record_property):
    spaces = Workspaces(tmp_path / "home", ServerSettings())
    m = JobManager(spaces.shared, grace=60, max_queue=8, max_train_s=3600)
    visitors = [spaces.new_token() for _ in range(20)]
    rss_before = rss_mb(os.getpid())
    answers: dict[str, tuple[str, object]] = {}
    barrier = threading.Barrier(len(visitors))

    def visit(token: str, i: int) -> None:
        store = spaces.store(token)
        config = tiny_config.replace(layers=1, units=8, epochs=1 if i else 2, seed=100 + i)
        barrier.wait()  # all at once
        try:
            view, how = m.submit(tiny_corpus, config, store=store, owner=workspace_id(token))
            answers[token] = (how, view)
        except Refused as e:
            answers[token] = ("refused", str(e))

    threads = [threading.Thread(target=visit, args=(t, i)) for i, t in enumerate(visitors)]
    peak_workers = peak_server = 0.0
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=FINISH_S)
        assert len(answers) == 20
        accepted = {t: a[1] for t, a in answers.items() if a[0] != "refused"}
        refused = [a[1] for a in answers.values() if a[0] == "refused"]
        running, waiting = m.load()
        assert waiting <= 8 and running <= 1
        assert 8 <= len(accepted) <= 9 and len(refused) == 20 - len(accepted)  # 8 waiting, and 1 started or not yet
        for text in refused:  # a clear answer: busy, and where they would be
            assert text.startswith("The server is busy:") and "the most it lets wait. You would be number 9" in text
        positions = sorted(m.position(v.id) or 0 for v in accepted.values())
        assert positions[-1] <= 8
        # each accepted visitor sees only their own job
        for token, v in accepted.items():
            assert [j.id for j in m.jobs(owner=workspace_id(token))] == [v.id]
        # let the first two finish, measuring the workers; cancel the rest while they wait
        order = sorted(accepted.values(), key=lambda v: m.position(v.id) or 0)
        for v in order[:2]:
            while m.get(v.id).active:
                peak_server = max(peak_server, rss_mb(os.getpid()))
                pid = m.worker_pid(v.id)
                if pid:
                    try:
                        peak_workers = max(peak_workers, rss_mb(pid))
                    except OSError:
                        pass
                m.wait(v.id, timeout=0.2)
        for v in order[2:]:
            m.cancel(v.id)
        ends = {v.id: m.wait(v.id, timeout=FINISH_S) for v in accepted.values()}
        assert all(e is not None and not e.active for e in ends.values())
        assert {ends[v.id].status for v in order[:2]} == {"done"}, [ends[v.id].message for v in order[:2]]
        assert all(ends[v.id].status in ("cancelled", "done", "cached") for v in order[2:])
        rss_after = rss_mb(os.getpid())
        peak_server = max(peak_server, rss_after)
        record_property("server_rss_mb", (round(rss_before), round(peak_server), round(rss_after)))
        record_property("worker_peak_rss_mb", round(peak_workers))
        print(f"\nload test: server (test process) RSS {rss_before:.0f} MB before, at most {peak_server:.0f} MB "
              f"during, {rss_after:.0f} MB after; worker peak {peak_workers:.0f} MB")
        # the figures are a benchmark's (bench/queue_bench.py writes them), not a pass mark: a busy machine moves them
        assert len(m.jobs()) <= 50  # the in-memory job list is bounded
    finally:
        m.close()
    assert all(m.worker_pid(v.id) is None for v in accepted.values())


def test_the_job_list_in_memory_is_bounded(store, tiny_corpus, tiny_config):
    m = JobManager(store, max_kept=5, grace=60, max_queue=8, max_train_s=3600)
    try:
        v, _ = m.submit(tiny_corpus, tiny_config.replace(epochs=ENDLESS))
        for i in range(12):  # queued, then cancelled: each ends at once, without a worker
            w, how = m.submit(tiny_corpus, tiny_config.replace(epochs=ENDLESS, seed=20 + i))
            assert how == "queued"
            m.cancel(w.id)
        assert len(m.jobs()) <= 5 + 1 and m.get(v.id) is not None  # the finished beyond 5 are forgotten
        m.cancel(v.id)
        assert not m.wait(v.id, timeout=FINISH_S).active
    finally:
        m.close()
