"""Background training jobs: a queue, and each training in its own worker process (serve/worker.py says why).

A process-wide JobManager (the app holds one in st.cache_resource) starts at most `max_workers` workers at a time;
later submissions wait in order. A reader thread per worker turns its progress lines into immutable JobView
snapshots, which pages read without blocking. The server never imports TensorFlow: a crash, an out-of-memory kill
or the memory TensorFlow keeps all end with the worker.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from charlstm.config import Config
from charlstm.runs.store import RunStore, StoreError, run_key
from charlstm.serve import job as job_mod
from charlstm.serve.job import ANY, Job, JobView, Refused, time_problems, valid_job_id
from charlstm.serve.limits import Limits
from charlstm.serve.protocol import new_session, parse, worker_command, worker_env
from charlstm.serve.settings import settings_from
from charlstm.text.corpus import Corpus
from charlstm.training.execute import plan
from charlstm.training.progress import Progress

EXIT_GRACE_S = 20.0  # within the 30 s a container platform gives a stopped process before it kills it
_live: weakref.WeakSet[JobManager] = weakref.WeakSet()  # every manager not yet garbage, for live_managers()
log = logging.getLogger(__name__)


class JobManager:
    """Runs up to max_workers trainings at once, each in its own process; later submissions wait in order."""

    def __init__(self, store: RunStore, max_kept: int = 50, max_workers: int | None = None,
                 grace: float | None = None, max_queue: int | None = None, max_train_s: float | None = None,
                 one_per_owner: bool = True, after_job=None, worker_settings: dict[str, str] | None = None,
                 limits: Limits | Callable[[], Limits] | None = None, clock: Callable[[], float] = time.monotonic,
                 timer=threading.Timer, queue_file: Path | None = None):
        defaults = settings_from() if None in (max_workers, grace, max_queue, max_train_s) else None  # the one loader
        self.store = store
        self.max_workers = defaults.max_workers if max_workers is None else max_workers
        self.grace = defaults.cancel_grace_s if grace is None else grace  # a cancelled worker's time to stop
        self.max_queue = defaults.max_queue if max_queue is None else max_queue  # waiting, not running
        self.max_train_s = defaults.max_train_minutes * 60 if max_train_s is None else max_train_s
        self.one_per_owner = one_per_owner  # at most one queued-or-running job per workspace
        self.clock, self.timer = clock, timer  # the wall-time cap's clock and timer (tests pass fakes)
        self.after_job = after_job  # called with the view of every job that ends (the app evicts old runs then)
        self.worker_settings = dict(worker_settings or {})  # environment for the workers (CHARLSTM_TF_THREADS)
        self._limits = limits  # checked where every job is accepted; a callable is asked at each submission
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._jobs: dict[str, Job] = {}  # bounded: finished jobs beyond max_kept are forgotten
        self._queue: list[Job] = []
        self._running: dict[str, Job] = {}
        self._threads: list[threading.Thread] = []
        self._ids = itertools.count(1)
        self._max_kept = max_kept
        self._closed = False
        # the waiting jobs, on disk: a server that stops (a deploy, a restart) finds them and queues them again
        self.queue_file = Path(queue_file) if queue_file is not None else None
        self.restored = self._restore()  # jobs queued again from the queue file, in their old order
        self._dispatcher = threading.Thread(target=self._dispatch, name="charlstm-dispatch", daemon=True)
        self._dispatcher.start()
        _live.add(self)

    # ---- the queue on disk
    def _save_queue(self) -> None:
        """Write the waiting jobs to queue_file (under the lock; atomically, so a crash leaves the old list)."""
        if self.queue_file is not None:
            job_mod.write_queue(self.queue_file, [(j.spec(), j.view().owner) for j in self._queue])

    def _restore(self) -> list[JobView]:
        back = []
        for spec, owner in job_mod.read_queue(self.queue_file):
            try:
                store = RunStore(spec.home)
                corpus = store.load_corpus(spec.corpus_sha256)
                if corpus is None:
                    continue
                corpus = replace(corpus, name=spec.corpus_name or corpus.name)
                view, how = self.submit(corpus, spec.config, spec.resume_from, spec.probe, store, owner)
                if how in ("started", "queued"):
                    back.append(view)
            except (StoreError, Refused, ValueError) as err:
                log.warning("a saved job was not queued again: %s", err)
        return back

    # ---- submitting
    def submit(self, corpus: Corpus, config: Config, resume_from: str | None = None,
               probe: str | None = None, store: RunStore | None = None, owner: str | None = None
               ) -> tuple[JobView, str]:
        """Queue a training; returns (job, how) with how one of started, queued, joined, cached.

        The same corpus and config never train twice: a stored complete run comes back as a
        finished 'cached' job, and the same owner's queued or running one is joined. A stored run
        that was cancelled is continued rather than started again. `store` is where the run goes
        (default: the manager's); `owner` the submitting workspace. Raises Refused when the owner
        already has a job waiting or running, or when the queue is full.
        """
        store = store or self.store
        problems = self.problems(corpus, config)
        if problems:
            raise Refused("; ".join(problems) + ".")
        key = run_key(corpus.sha256, config)
        with self._lock:
            for job in self._jobs.values():
                v = job.view()
                if v.key == key and v.active and v.owner == owner and job.store.root == store.root:
                    return v, "joined"
            what, resume_from = plan(store, corpus, config, resume_from)
            if what == "cached":
                job = self._new_job(key, corpus, config, None, store, owner)
                job.finish("cached", "loaded from cache: this corpus and config were trained before")
                return job.view(), "cached"
            if owner is not None and self.one_per_owner:
                mine = next((j.view() for j in self._jobs.values() if j.view().active and j.view().owner == owner),
                            None)
                if mine is not None:
                    raise Refused(job_mod.one_at_a_time(mine))
            if len(self._queue) >= self.max_queue:
                raise Refused(job_mod.busy_words(len(self._running), len(self._queue)))
            job = self._new_job(key, corpus, config, resume_from, store, owner)
            job.probe = probe  # the text traced after every epoch; None: the worker's default
            self._queue.append(job)
            if self.queue_file is not None:
                store.save_corpus(corpus)  # so that a restarted server can queue it again
                self._save_queue()
            how = "started" if len(self._running) < self.max_workers and len(self._queue) == 1 else "queued"
            self._wake.notify_all()
            return job.view(), how

    def problems(self, corpus: Corpus | None, config: Config) -> list[str]:
        """Why this server will not train config on corpus (its caps and its time limit), in words; [] when it will."""
        size = len(corpus.text.encode("utf-8")) if corpus is not None else None
        lim = self._limits() if callable(self._limits) else self._limits
        out = lim.problems(config, corpus_bytes=size) if lim is not None else []
        return out + time_problems(config, self.max_train_s)

    def resume(self, key: str, more_epochs: int, store: RunStore | None = None,
               owner: str | None = None) -> tuple[JobView, str]:
        """Continue a stored run of `store` for more epochs, from its saved optimizer state."""
        store = store or self.store
        run = store.get(key)
        if run is None:
            raise StoreError(f"no stored run {key}")
        if more_epochs < 1:
            raise ValueError("ask for at least one more epoch")
        problems = self.problems(None, run.config.replace(epochs=run.epochs_done + more_epochs))
        if problems:  # said first: no upload of its corpus would let this run continue here
            raise Refused("; ".join(problems) + ".")
        corpus = store.load_corpus(run.meta["corpus_sha256"])
        if corpus is None:
            raise StoreError("the corpus this run was trained on is not stored here; upload it and train again")
        return self.submit(corpus, run.config.replace(epochs=run.epochs_done + more_epochs), resume_from=key,
                           store=store, owner=owner)

    def _new_job(self, key, corpus, config, resume_from, store, owner) -> Job:
        job = Job(next(self._ids), key, corpus, config, resume_from, store, owner)
        self._jobs[job.view().id] = job
        finished = [j for j in self._jobs.values() if not j.view().active]
        for old in finished[:max(0, len(self._jobs) - self._max_kept)]:
            del self._jobs[old.view().id]
        return job

    # ---- reading (owner=ANY: every job; else only that workspace's)
    def jobs(self, owner=ANY) -> list[JobView]:
        with self._lock:
            return [v for v in (j.view() for j in self._jobs.values()) if owner is ANY or v.owner == owner]

    def get(self, job_id: str, owner=ANY) -> JobView | None:
        """A job by id, None when unknown, malformed or another workspace's."""
        if not valid_job_id(job_id):
            return None
        with self._lock:
            j = self._jobs.get(job_id)
            v = j.view() if j else None
        return v if v is not None and (owner is ANY or v.owner == owner) else None

    def load(self) -> tuple[int, int]:
        """(running, waiting): how busy the server is, for every visitor to read; nothing about whose."""
        with self._lock:
            return len(self._running), len(self._queue)

    def busy(self) -> tuple[set[Path], set[str]]:
        """The run folders active jobs write or resume from, and the corpora they need: eviction leaves them."""
        with self._lock:
            active = [j for j in self._jobs.values() if j.view().active]
        paths, shas = set(), set()
        for j in active:
            v = j.view()
            paths.add((j.store.runs / v.key).resolve())  # inside its workspace: expiry leaves that alone too
            if v.resume_from:
                paths.add((j.store.runs / v.resume_from).resolve())
            shas.add(j.corpus.sha256)
        return paths, shas

    def position(self, job_id: str) -> int | None:
        """1 for the next job to start, 2 for the one after it...; None when not waiting."""
        with self._lock:
            waiting = [j.view().id for j in self._queue]
            return waiting.index(job_id) + 1 if job_id in waiting else None

    def current(self) -> JobView | None:
        with self._lock:
            running = sorted(self._running)
            return self._jobs[running[0]].view() if running else None

    def worker_pid(self, job_id: str) -> int | None:
        """The process id of a running job's worker (for operators and tests), None when it has none."""
        with self._lock:
            j = self._running.get(job_id)
            return j.proc.pid if j is not None and j.proc is not None else None

    def cancel(self, job_id: str, owner=ANY) -> None:
        """Cancel a queued job at once; ask a running one to stop at the next batch, and kill it after the grace.

        Only the owner's: another workspace's job (or an unknown id) is left alone.
        """
        if self.get(job_id, owner) is None:
            return
        with self._lock:
            j = self._jobs.get(job_id)
            if j is None or not j.view().active:
                return
            if j in self._queue:
                self._queue.remove(j)
                self._save_queue()
                j.finish("cancelled", "cancelled before it started")
                return
            j.cancel_requested = True
            proc = j.proc
        if proc is not None:
            self._ask_to_stop(j, proc)

    def _ask_to_stop(self, job: Job, proc: subprocess.Popen) -> None:
        with contextlib.suppress(OSError, ValueError):  # the worker may have just ended
            proc.stdin.write("cancel\n")
            proc.stdin.flush()
        job.update(message="cancelling: stopping after the batches in hand")
        timer = threading.Timer(self.grace, job_mod.kill, args=(proc,))
        timer.daemon = True
        timer.start()

    def wait(self, job_id: str, timeout: float | None = None) -> JobView | None:
        """Block until the job leaves the queue and finishes, or the timeout passes; returns its view then.

        Callers that need it finished check `.active` on the result: a timed-out wait returns an active view.
        """
        return self.wait_for(job_id, lambda v: not v.active, timeout)

    def wait_for(self, job_id: str, condition, timeout: float | None = None) -> JobView | None:
        """Block until condition(view) holds, the job is gone or has ended, or the timeout passes."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            v = self.get(job_id)
            if v is None or condition(v) or not v.active:
                return v
            if deadline is not None and time.monotonic() > deadline:
                return v
            time.sleep(0.05)

    def close(self, timeout: float = 30.0) -> None:
        """Cancel everything, stop every worker (killing any that outlast the timeout) and join the threads."""
        with self._lock:
            self._closed = True
            for j in self._queue:  # still in the queue file, if there is one: a restarted server queues them again
                j.finish("cancelled", "cancelled: the server is shutting down")
            self._queue.clear()
            running = list(self._running.values())
            self._wake.notify_all()
        for j in running:
            if j.proc is not None:
                with contextlib.suppress(OSError, ValueError):
                    j.proc.stdin.close()  # end of file: the worker stops at its next batch
        deadline = time.monotonic() + timeout
        for j in running:
            if j.proc is not None:
                try:
                    j.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    job_mod.kill(j.proc)
        self._dispatcher.join(timeout=5)
        for t in list(self._threads):
            t.join(timeout=10)

    # ---- the workers
    def _dispatch(self) -> None:
        """Start queued jobs while fewer than max_workers run."""
        while True:
            with self._lock:
                while not self._closed and (not self._queue or len(self._running) >= self.max_workers):
                    self._wake.wait()
                if self._closed:
                    return
                job = self._queue.pop(0)
                self._save_queue()
                self._running[job.view().id] = job
                job.update(status="running", message="starting (loading TensorFlow in the training process)")
            t = threading.Thread(target=self._supervise, args=(job,), name=f"charlstm-job-{job.view().id}",
                                 daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()

    def _supervise(self, job: Job) -> None:
        """Run one job's worker to its end and record how it ended; never raises."""
        try:
            self._run_worker(job)
        except Exception as e:  # the manager must survive anything
            log.exception("job %s failed", job.view().id)
            job.finish("failed", f"training failed: {type(e).__name__}: {e}")
        finally:
            with self._lock:
                self._running.pop(job.view().id, None)
                self._wake.notify_all()
            if self.after_job is not None:
                try:
                    self.after_job(job.view())
                except Exception:  # housekeeping must not take the manager down
                    log.exception("after_job failed for job %s", job.view().id)

    def _time_up(self, job: Job, proc: subprocess.Popen) -> None:
        """The server's wall-time cap: stop at the next batch and keep the finished epochs, as Cancel does."""
        if proc.poll() is None and not job.cancel_requested:
            job.time_up = True
            self._ask_to_stop(job, proc)
            job.update(message=f"stopping: the server's limit of {self.max_train_s / 60:g} min per training")

    def _run_worker(self, job: Job) -> None:
        v = job.view()
        store = job.store
        if v.resume_from is None and plan(store, job.corpus, v.config)[0] == "cached":  # trained while it waited
            job.finish("cached", "loaded from cache: this corpus and config were trained while this job waited")
            return
        store.save_corpus(job.corpus)  # the worker reads the text from the store
        before = stored.epochs_done if (stored := store.get(v.key)) is not None else 0
        spec = job.spec()
        with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err:
            proc = subprocess.Popen(worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                    text=True, encoding="utf-8", env=worker_env() | self.worker_settings,
                                    **new_session())
            with self._lock:
                job.proc = proc
                cancelled_early = job.cancel_requested or self._closed
            with contextlib.suppress(OSError):  # a worker that died at once is reported from its exit status
                proc.stdin.write(spec.line())
                proc.stdin.flush()
            if cancelled_early:
                self._ask_to_stop(job, proc)
            # the wall-time cap: a timer for a silent worker, and a look at the clock on every line it sends
            started = self.clock()
            cap = self.timer(self.max_train_s, self._time_up, args=(job, proc))
            cap.daemon = True
            cap.start()
            final = None
            for line in proc.stdout:  # until the worker closes its end
                if not job.time_up and self.clock() - started > self.max_train_s:
                    self._time_up(job, proc)
                msg = parse(line)
                if msg is None:
                    continue
                if msg["event"] == "progress":
                    job.progress(Progress(**msg["progress"]))
                else:
                    final = msg
            code = proc.wait()
            cap.cancel()
            err.seek(0)
            tail = err.read()[-4000:]
        status, message = job_mod.ending(final, code, tail, job, self.max_train_s, self.grace, before)
        if final is None:
            store.discard_partial(v.key)
        if status == "failed" and final is None:
            log.warning("job %s: worker ended with %s; its log ends:\n%s", v.id, code, tail[-1500:])
        job.finish(status, message)


@atexit.register
def _stop_workers_at_exit() -> None:
    """The server is exiting (SIGTERM on a deploy or restart ends Streamlit normally): each worker is told, by the
    end of its stdin, and stops after the batches in hand, storing its finished epochs as interrupted; the exit
    waits for them up to EXIT_GRACE_S."""
    for m in live_managers():
        m.close(timeout=EXIT_GRACE_S)


def live_managers() -> list[JobManager]:
    """Every JobManager of this process that is still open (tests close the ones the app made)."""
    return [m for m in list(_live) if not m._closed]


