"""One training job as the server sees it: its immutable view, its state, and what its end means in words.

The job manager (jobs.py) holds these; pages read only JobView snapshots.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from charlstm.config import Config
from charlstm.runs import bounded
from charlstm.runs.store import RunStore
from charlstm.serve.protocol import JobSpec
from charlstm.serve.workspace import touch
from charlstm.text.corpus import Corpus
from charlstm.training.curves import LIVE_POINTS, thin
from charlstm.training.progress import Progress

log = logging.getLogger(__name__)

ANY = object()  # owner=ANY: every job (personal mode and operators); pages in public mode pass a workspace id
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{22,64}")

ACTIVE = ("queued", "running")


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
            name = f"{signal.Signals(sig).name}, "
        except ValueError:  # a number with no name here
            name = ""
        if sig == signal.SIGKILL:
            return (f"the training process was killed ({name}signal {sig}): most likely it ran out of memory and "
                    "the system stopped it")
        return f"the training process crashed ({name}signal {sig})"
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

    def spec(self) -> JobSpec:
        """What its worker is sent (and what the saved queue keeps of it)."""
        v = self.view()
        return JobSpec(str(self.store.root), self.corpus.sha256, v.corpus_name, v.config, v.resume_from, self.probe)

    def view(self) -> JobView:
        with self._lock:
            return self._view

    def update(self, **changes) -> None:
        with self._lock:
            self._view = replace(self._view, **changes)

    def finish(self, status: str, message: str) -> None:
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


def kept_words(store: RunStore, v: JobView, before: int) -> str:
    """What a worker that died left: the epochs it stored as it finished them (charlstm/serve/worker.py), or nothing.
    before: the epochs its run had when the job started (a run finished after an interruption has some)."""
    run = store.get(v.key)
    if run is None or run.epochs_done <= before:
        return "nothing from it was kept"
    return (f"its {run.epochs_done} finished epoch(s) are kept as run {v.key[:8]}, stopped after epoch "
            f"{run.epochs_done} of {v.config.epochs}: continue it to finish")


def time_problems(config: Config, max_train_s: float | None) -> list[str]:
    """Why a time budget is past the server's wall-time cap (CHARLSTM_MAX_TRAIN_MINUTES), in words; [] if it is not."""
    if config.minutes and max_train_s and config.minutes * 60 > max_train_s:
        return [f"the time budget is {config.minutes:g} minutes; this server allows at most {max_train_s / 60:g}"]
    return []


def ending(final: dict | None, code: int, tail: str, job: Job, max_train_s: float, grace: float,
           before: int) -> tuple[str, str]:
    """How a worker's job ended, (status, message), from its last word (None: it said none), its exit code and the
    tail of its log. before: the epochs its run had when the job started."""
    v = job.view()
    limit = f"stopped at the server's limit of {max_train_s / 60:g} min per training"
    if final is not None and final["event"] == "done" and job.time_up:
        return "done", (f"{limit}; kept the {final.get('epochs_done', 0)} finished epoch(s) as run "
                        f"{final['key'][:8]} (continue it for more)")
    if final is not None and final["event"] == "done":
        return "cancelled" if final["status"] == "cancelled" else "done", final["message"]
    if final is not None and final["event"] == "cancelled":
        return "cancelled", f"{limit} before an epoch finished; nothing was kept" if job.time_up else final["message"]
    if final is not None:
        return "failed", final["message"]
    if (job.cancel_requested or job.time_up) and code != 0:
        return "cancelled", (f"cancelled: the training did not stop within {grace:g} s and was stopped by force; "
                             f"{kept_words(job.store, v, before)}")
    return "failed", f"{death_message(code, tail)}; {kept_words(job.store, v, before)}"


def write_queue(path: Path, waiting: list[tuple[JobSpec, str | None]]) -> None:
    """The waiting jobs (spec, owner) as one JSON list, replaced atomically; a failed write keeps the old one."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}-{secrets.token_hex(4)}")
        tmp.write_text(json.dumps([spec.to_dict() | {"owner": owner} for spec, owner in waiting]))
        os.replace(tmp, path)


def read_queue(path: Path | None) -> list[tuple[JobSpec, str | None]]:
    """The saved waiting jobs, in order; an unreadable file or entry is logged and skipped."""
    if path is None or not path.is_file():
        return []
    try:
        entries = bounded.loads(path.read_bytes(), path.name)
    except (OSError, bounded.BoundedError):
        log.warning("the saved queue %s is unreadable; starting with an empty queue", path)
        return []
    out = []
    for e in entries if isinstance(entries, list) else []:
        try:
            out.append((JobSpec.from_dict(e), e.get("owner")))
        except (AttributeError, KeyError, TypeError, ValueError) as err:
            log.warning("a saved job was not queued again: %s", err)
    return out


def one_at_a_time(mine: JobView) -> str:
    return (f"You already have a training {mine.status} (job #{mine.number}); each visitor has one at a time. "
            "Cancel it or wait for it to finish.")


def busy_words(running: int, waiting: int) -> str:
    return (f"The server is busy: {running} training(s) running and {waiting} waiting, the most it lets wait. "
            f"You would be number {waiting + 1} in the queue. Try again in a few minutes.")


def kill(proc: subprocess.Popen) -> None:
    """Kill a worker that is still running (a cancel's grace is over, or the server is closing)."""
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            proc.kill()
