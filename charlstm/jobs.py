"""Background training jobs: one worker thread, a queue, and thread-safe job state.

A process-wide JobManager (the app holds one in st.cache_resource) owns the worker. The
worker never touches any UI; pages read immutable JobView snapshots and draw them.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass, replace

from .config import Config
from .corpus import Corpus, CorpusError
from .store import RunStore, StoreError
from .train import Cancelled, Progress, run_key, train

ACTIVE = ("queued", "running")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobView:
    """A consistent copy of a job's state at one moment."""

    id: int
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


class Job:
    def __init__(self, id: int, key: str, corpus: Corpus, config: Config, resume_from: str | None):
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self.corpus = corpus
        self._view = JobView(id=id, key=key, corpus_name=corpus.name, config=config, status="queued", progress=None,
                             curve=(), val_curve=(), message="waiting for the worker", resume_from=resume_from,
                             created=time.time(), finished=None)

    def view(self) -> JobView:
        with self._lock:
            return self._view

    def _update(self, **changes) -> None:
        with self._lock:
            self._view = replace(self._view, **changes)

    def _progress(self, p: Progress) -> None:
        with self._lock:
            v = self._view
            step = (p.epoch - 1) * p.steps_per_epoch + p.step
            curve, val_curve = v.curve, v.val_curve
            if p.phase == "training" and p.train_loss is not None:
                curve = (*curve, (step, p.train_loss))
                if len(curve) > 2000:  # keep the curve bounded: every other point once it grows long
                    curve = curve[::2]
            if p.val_loss is not None and (not val_curve or val_curve[-1][1] != p.val_loss):
                val_curve = (*val_curve, (step, p.val_loss))
            self._view = replace(v, progress=p, curve=curve, val_curve=val_curve,
                                 status="running", message=f"{p.phase}: epoch {p.epoch}/{p.epochs}")

    def cancel(self) -> None:
        self._cancel.set()
        with self._lock:
            if self._view.status == "queued":
                self._view = replace(self._view, status="cancelled", message="cancelled before it started",
                                     finished=time.time())


class JobManager:
    """Runs one training at a time; later submissions wait in order."""

    def __init__(self, store: RunStore, max_kept: int = 50):
        self.store = store
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._jobs: dict[int, Job] = {}
        self._queue: list[Job] = []
        self._ids = itertools.count(1)
        self._max_kept = max_kept
        self._closed = False
        self._worker = threading.Thread(target=self._loop, name="charlstm-trainer", daemon=True)
        self._worker.start()

    # ---- submitting
    def submit(self, corpus: Corpus, config: Config, resume_from: str | None = None) -> tuple[JobView, str]:
        """Queue a training; returns (job, how) with how one of started, queued, joined, cached.

        The same corpus and config never train twice: a stored complete run comes back as a
        finished 'cached' job, and a queued or running one is joined. A stored run that was
        cancelled is continued rather than started again.
        """
        key = run_key(corpus.sha256, config)
        with self._lock:
            for job in self._jobs.values():
                v = job.view()
                if v.key == key and v.active:
                    return v, "joined"
            stored = self.store.get(key)
            if stored is not None and stored.status == "complete":
                job = self._new_job(key, corpus, config, None)
                job._update(status="cached", message="loaded from cache: this corpus and config were trained before",
                            finished=time.time())
                return job.view(), "cached"
            if stored is not None and resume_from is None and stored.epochs_done < config.epochs:
                resume_from = key  # a cancelled run of these very settings: finish it
            job = self._new_job(key, corpus, config, resume_from)
            self._queue.append(job)
            self._wake.notify()
            how = "started" if len(self._queue) == 1 and not self._running() else "queued"
            return job.view(), how

    def resume(self, key: str, more_epochs: int) -> tuple[JobView, str]:
        """Continue a stored run for more epochs, from its saved optimizer state."""
        run = self.store.get(key)
        if run is None:
            raise StoreError(f"no stored run {key}")
        corpus = self.store.load_corpus(run.meta["corpus_sha256"])
        if corpus is None:
            raise StoreError("the corpus this run was trained on is not stored here; upload it and train again")
        if more_epochs < 1:
            raise ValueError("ask for at least one more epoch")
        return self.submit(corpus, run.config.replace(epochs=run.epochs_done + more_epochs), resume_from=key)

    def _new_job(self, key, corpus, config, resume_from) -> Job:
        job = Job(next(self._ids), key, corpus, config, resume_from)
        self._jobs[job.view().id] = job
        finished = [j for j in self._jobs.values() if not j.view().active]
        for old in finished[:max(0, len(self._jobs) - self._max_kept)]:
            del self._jobs[old.view().id]
        return job

    def _running(self) -> bool:
        return any(j.view().status == "running" for j in self._jobs.values())

    # ---- reading
    def jobs(self) -> list[JobView]:
        with self._lock:
            return [j.view() for j in self._jobs.values()]

    def get(self, job_id: int) -> JobView | None:
        with self._lock:
            j = self._jobs.get(job_id)
            return j.view() if j else None

    def position(self, job_id: int) -> int | None:
        """1 for the next job to start, 2 for the one after it...; None when not waiting."""
        with self._lock:
            waiting = [j.view().id for j in self._queue if j.view().status == "queued"]
            return waiting.index(job_id) + 1 if job_id in waiting else None

    def current(self) -> JobView | None:
        with self._lock:
            for j in self._jobs.values():
                if j.view().status == "running":
                    return j.view()
        return None

    def cancel(self, job_id: int) -> None:
        with self._lock:
            j = self._jobs.get(job_id)
        if j is not None:
            j.cancel()

    def wait(self, job_id: int, timeout: float | None = None) -> JobView | None:
        """Block until the job leaves the queue and finishes (for the command line and tests)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            v = self.get(job_id)
            if v is None or not v.active:
                return v
            if deadline is not None and time.monotonic() > deadline:
                return v
            time.sleep(0.05)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for j in self._queue:
                j.cancel()
            for j in self._jobs.values():
                if j.view().status == "running":
                    j._cancel.set()
            self._wake.notify_all()

    # ---- the worker
    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if self._closed:
                    return
                job = self._queue.pop(0)
            if job.view().status != "queued":  # cancelled while waiting
                continue
            self._run(job)

    def _run(self, job: Job) -> None:
        v = job.view()
        job._update(status="running", message="starting (loading TensorFlow)")
        try:
            resume = self.store.get(v.resume_from) if v.resume_from else None
            if v.resume_from and resume is None:
                raise StoreError(f"run {v.resume_from} to continue is no longer stored")
            self.store.save_corpus(job.corpus)
            trained = train(job.corpus, v.config, on_progress=job._progress, should_stop=job._cancel.is_set,
                            resume=resume)
            run = self.store.save(trained, job.corpus)
            if trained.status == "cancelled":
                job._update(status="cancelled", finished=time.time(),
                            message=f"cancelled; kept the {run.epochs_done} finished epoch(s) as run {run.key[:8]}")
            else:
                job._update(status="done", finished=time.time(), message=f"finished: run {run.key[:8]}")
        except Cancelled as e:
            job._update(status="cancelled", finished=time.time(), message=str(e))
        except (CorpusError, StoreError, ValueError) as e:
            job._update(status="failed", finished=time.time(), message=str(e))
        except Exception as e:  # the worker must survive anything a training throws
            log.exception("training job %s failed", v.id)
            job._update(status="failed", finished=time.time(), message=f"training failed: {type(e).__name__}: {e}")
