"""Background training jobs: a queue, and each training in its own worker process.

A process-wide JobManager (the app holds one in st.cache_resource) starts one `python -m
charlstm.serve.worker` process per training (charlstm/serve/worker.py says why, and its protocol), at most
`max_workers` at a time; later submissions wait in order. A reader thread per worker turns the
worker's progress lines into immutable JobView snapshots, which pages read without blocking.
The server process itself never imports TensorFlow: a crash, an out-of-memory kill or the
memory TensorFlow keeps all end with the worker.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from charlstm.config import Config
from charlstm.runs import bounded
from charlstm.runs.store import RunStore, StoreError, run_key
from charlstm.serve.limits import Limits
from charlstm.serve.worker import plan
from charlstm.text.corpus import Corpus
from charlstm.training.curves import LIVE_POINTS, thin
from charlstm.training.trainer import Progress

ANY = object()  # owner=ANY: every job (personal mode and operators); pages in public mode pass a workspace id
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{22,64}")

ACTIVE = ("queued", "running")
EXIT_GRACE_S = 20.0  # within the 30 s a container platform gives a stopped process before it kills it
_live: weakref.WeakSet[JobManager] = weakref.WeakSet()  # every manager not yet garbage, for live_managers()
log = logging.getLogger(__name__)


def default_max_workers() -> int:
    """Trainings at once: CHARLSTM_MAX_WORKERS, else 1 (each one wants both cores of a small server)."""
    raw = os.environ.get("CHARLSTM_MAX_WORKERS", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else 1


def default_grace() -> float:
    """Seconds a cancelled worker gets to stop at a batch boundary before it is killed."""
    try:
        return float(os.environ.get("CHARLSTM_CANCEL_GRACE_S", "30"))
    except ValueError:
        return 30.0


@dataclass(frozen=True)
class JobView:
    """A consistent copy of a job's state at one moment."""

    id: str  # unguessable (secrets.token_urlsafe): it appears in URLs, and knowing it is no permission anyway
    number: int  # what people read ("job #3"): counts this server's jobs, grants nothing
    owner: str | None  # the workspace that submitted it (None: personal mode, the command line)
    key: str  # the run key this job produces
    corpus_name: str
    config: Config
    status: str  # queued, running, done, cancelled, failed, cached
    progress: Progress | None
    curve: tuple[tuple[int, float], ...]  # (global step, running train loss)
    val_curve: tuple[tuple[int, float], ...]  # (global step at epoch end, validation loss)
    message: str  # what happened, in words
    resume_from: str | None
    created: float
    finished: float | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def death_message(returncode: int, log_tail: str = "") -> str:
    """What a worker's exit status means, in words."""
    if returncode < 0:
        sig = -returncode
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        if sig == signal.SIGKILL:
            return (f"the training process was killed ({name}, signal {sig}): most likely it ran out of memory and "
                    "the system stopped it")
        return f"the training process crashed ({name}, signal {sig})"
    last = next((line for line in reversed(log_tail.strip().splitlines()) if line.strip()), "")
    return (f"the training process exited with code {returncode} without finishing"
            + (f" (last words: {last.strip()[:300]})" if last else ""))


class Refused(Exception):
    """A training the server will not take now; the message says why and what to do, for the visitor."""


def valid_job_id(job_id: object) -> bool:
    return isinstance(job_id, str) and _JOB_ID.fullmatch(job_id) is not None


class Job:
    def __init__(self, number: int, key: str, corpus: Corpus, config: Config, resume_from: str | None,
                 store: RunStore, owner: str | None):
        self._lock = threading.Lock()
        self.corpus = corpus
        self.store = store  # where it is stored: the shared cache or the submitter's workspace
        self.proc: subprocess.Popen | None = None
        self.cancel_requested = False
        self.time_up = False  # stopped by the server's wall-time cap
        self.probe: str | None = None
        self._view = JobView(id=secrets.token_urlsafe(16), number=number, owner=owner, key=key,
                             corpus_name=corpus.name, config=config, status="queued", progress=None,
                             curve=(), val_curve=(), message="waiting for the worker", resume_from=resume_from,
                             created=time.time(), finished=None)

    def view(self) -> JobView:
        with self._lock:
            return self._view

    def update(self, **changes) -> None:
        with self._lock:
            self._view = replace(self._view, **changes)

    def finish(self, status: str, message: str) -> None:
        from charlstm.serve.workspace import touch

        # the run it finished, kept or found cached counts as used now, before the visitor is told: eviction leaves
        # it for the next hour (workspace.RECENT_S)
        touch(self.store.path(self._view.key), force=True)  # nothing when nothing was kept (no folder)
        self.update(status=status, message=message, finished=time.time())

    def progress(self, p: Progress) -> None:
        with self._lock:
            v = self._view
            step = (p.epoch - 1) * p.steps_per_epoch + p.step
            curve, val_curve = v.curve, v.val_curve
            if p.phase == "training" and p.train_loss is not None and (not curve or curve[-1][0] != step):
                curve = (*curve, (step, p.train_loss))
                if len(curve) > LIVE_POINTS:
                    curve = tuple(thin(list(curve), LIVE_POINTS // 2))
            if p.val_loss is not None and (not val_curve or val_curve[-1][1] != p.val_loss):
                val_curve = (*val_curve, (step, p.val_loss))
            self._view = replace(v, progress=p, curve=curve, val_curve=val_curve,
                                 message=f"{p.phase}: epoch {p.epoch}/{p.epochs}")


class JobManager:
    """Runs up to max_workers trainings at once, each in its own process; later submissions wait in order."""

    def __init__(self, store: RunStore, max_kept: int = 50, max_workers: int | None = None,
                 grace: float | None = None, max_queue: int | None = None, max_train_s: float | None = None,
                 one_per_owner: bool = True, after_job=None, worker_settings: dict[str, str] | None = None,
                 limits: Limits | Callable[[], Limits] | None = None, clock: Callable[[], float] = time.monotonic,
                 timer=threading.Timer, queue_file: Path | None = None):
        from charlstm.serve.workspace import settings_from

        defaults = settings_from() if max_queue is None or max_train_s is None else None
        self.store = store
        self.max_workers = max_workers or default_max_workers()
        self.grace = default_grace() if grace is None else grace
        self.max_queue = defaults.max_queue if max_queue is None else max_queue  # waiting, not running
        self.max_train_s = defaults.max_train_minutes * 60 if max_train_s is None else max_train_s
        self.one_per_owner = one_per_owner  # at most one queued-or-running job per workspace
        self.clock, self.timer = clock, timer  # the wall-time cap's clock and timer (tests pass fakes)
        self.after_job = after_job  # called with the view of every job that ends (the app evicts old runs then)
        self.worker_settings = dict(worker_settings or {})  # environment for the workers (CHARLSTM_TF_THREADS)
        # the server's caps, checked here where every job is accepted (start, continue, URL); a callable is asked
        # at each submission, so caps changed in the server's settings apply without a new manager
        self._limits = limits
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
        if self.queue_file is None:
            return
        waiting = [{"home": str(j.store.root), "corpus_sha256": j.corpus.sha256, "corpus_name": j.corpus.name,
                    "config": j.view().config.to_dict(), "resume_from": j.view().resume_from, "owner": j.view().owner,
                    "probe": j.probe} for j in self._queue]
        with contextlib.suppress(OSError):
            self.queue_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.queue_file.with_name(f".{self.queue_file.name}-{secrets.token_hex(4)}")
            tmp.write_text(json.dumps(waiting))
            os.replace(tmp, self.queue_file)

    def _restore(self) -> list[JobView]:
        if self.queue_file is None or not self.queue_file.is_file():
            return []
        try:
            entries = bounded.loads(self.queue_file.read_bytes(), self.queue_file.name)
        except (OSError, bounded.BoundedError):
            log.warning("the saved queue %s is unreadable; starting with an empty queue", self.queue_file)
            return []
        back = []
        for e in entries if isinstance(entries, list) else []:
            try:
                store = RunStore(e["home"])
                corpus = store.load_corpus(e["corpus_sha256"])
                if corpus is None:
                    continue
                corpus = replace(corpus, name=e.get("corpus_name") or corpus.name)
                view, how = self.submit(corpus, Config.from_dict(e["config"]), e.get("resume_from"), e.get("probe"),
                                        store, e.get("owner"))
                if how in ("started", "queued"):
                    back.append(view)
            except (KeyError, TypeError, ValueError, StoreError, Refused) as err:
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
                    raise Refused(f"You already have a training {mine.status} (job #{mine.number}); each visitor "
                                  "has one at a time. Cancel it or wait for it to finish.")
            if len(self._queue) >= self.max_queue:
                raise Refused(f"The server is busy: {len(self._running)} training(s) running and "
                              f"{len(self._queue)} waiting, the most it lets wait. You would be number "
                              f"{len(self._queue) + 1} in the queue. Try again in a few minutes.")
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
        timer = threading.Timer(self.grace, self._kill, args=(proc,))
        timer.daemon = True
        timer.start()

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.kill()

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
                    self._kill(j.proc)
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
        spec = {"home": str(store.root), "corpus_sha256": job.corpus.sha256, "corpus_name": v.corpus_name,
                "config": v.config.to_dict(), "resume_from": v.resume_from, "probe": job.probe}
        with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as err:
            proc = subprocess.Popen(worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                    text=True, encoding="utf-8", env=worker_env() | self.worker_settings,
                                    **_new_session())
            with self._lock:
                job.proc = proc
                cancelled_early = job.cancel_requested or self._closed
            with contextlib.suppress(OSError):  # a worker that died at once is reported from its exit status
                proc.stdin.write(json.dumps(spec) + "\n")
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
                msg = _parse(line)
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
        limit = f"stopped at the server's limit of {self.max_train_s / 60:g} min per training"
        if final is not None and final["event"] == "done" and job.time_up:
            job.finish("done", f"{limit}; kept the {final.get('epochs_done', 0)} finished epoch(s) as run "
                               f"{final['key'][:8]} (continue it for more)")
        elif final is not None and final["event"] == "done":
            job.finish("cancelled" if final["status"] == "cancelled" else "done", final["message"])
        elif final is not None and final["event"] == "cancelled":
            job.finish("cancelled", f"{limit} before an epoch finished; nothing was kept" if job.time_up
                       else final["message"])
        elif final is not None:
            job.finish("failed", final["message"])
        elif (job.cancel_requested or job.time_up) and code != 0:
            store.discard_partial(v.key)
            job.finish("cancelled", f"cancelled: the training did not stop within {self.grace:g} s and was "
                                    f"stopped by force; {kept_words(store, v, before)}")
        else:
            store.discard_partial(v.key)
            job.finish("failed", f"{death_message(code, tail)}; {kept_words(store, v, before)}")
            log.warning("job %s: worker ended with %s; its log ends:\n%s", v.id, code, tail[-1500:])


@atexit.register
def _stop_workers_at_exit() -> None:
    """The server is exiting (SIGTERM on a deploy or restart ends Streamlit normally): each worker is told, by the
    end of its stdin, and stops after the batches in hand, storing its finished epochs as interrupted; the exit
    waits for them up to EXIT_GRACE_S."""
    for m in live_managers():
        m.close(timeout=EXIT_GRACE_S)


def kept_words(store: RunStore, v: JobView, before: int) -> str:
    """What a worker that died left: the epochs it stored as it finished them (charlstm/serve/worker.py), or nothing.
    before: the epochs its run had when the job started (a run finished after an interruption has some)."""
    run = store.get(v.key)
    if run is None or run.epochs_done <= before:
        return "nothing from it was kept"
    return (f"its {run.epochs_done} finished epoch(s) are kept as run {v.key[:8]}, stopped after epoch "
            f"{run.epochs_done} of {v.config.epochs}: continue it to finish")


def live_managers() -> list[JobManager]:
    """Every JobManager of this process that is still open (tests close the ones the app made)."""
    return [m for m in list(_live) if not m._closed]


def _parse(line: str) -> dict | None:
    try:
        msg = json.loads(line)
    except ValueError:
        return None
    return msg if isinstance(msg, dict) and "event" in msg else None


def worker_command() -> list[str]:
    return [sys.executable, "-m", "charlstm.serve.worker"]


def time_problems(config: Config, max_train_s: float | None) -> list[str]:
    """Why a time budget is past the server's wall-time cap (CHARLSTM_MAX_TRAIN_MINUTES), in words; [] if it is not."""
    if config.minutes and max_train_s and config.minutes * 60 > max_train_s:
        return [f"the time budget is {config.minutes:g} minutes; this server allows at most {max_train_s / 60:g}"]
    return []


def worker_env() -> dict[str, str]:
    """The server's environment, with this package importable however the server was started."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def _new_session() -> dict:
    """Keep the worker out of the server's process group: a Ctrl-C in the server's terminal reaches the
    server, which then closes the worker's stdin, and the worker stops politely at its next batch."""
    if os.name == "posix":
        return {"start_new_session": True}
    return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
