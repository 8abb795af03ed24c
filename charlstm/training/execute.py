"""One training, start to finish: plan it, train it, store it.

`execute()` is the whole of a training after the decision to train: the command line calls it in its own
process, and the app's worker process (charlstm/serve/worker.py) calls it for each job the server sends.
`plan()` is the decision: the server's job manager and the command line ask it before anything trains.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from charlstm.config import Config
from charlstm.insight.probes import PROBE
from charlstm.runs.store import Run, RunStore, StoreError, run_key
from charlstm.text.corpus import Corpus
from charlstm.training.progress import Cancelled, Progress
from charlstm.training.trainer import train


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How a training ended: 'complete' or 'cancelled' with a stored run, or 'cancelled' with none."""

    status: str
    message: str
    run: Run | None = None


def plan(store: RunStore, corpus: Corpus, config: Config, resume_from: str | None = None) -> tuple[str, str | None]:
    """('cached', None) when a complete run of this corpus and config is stored, else ('train', resume_from).

    A stored run of these very settings that was cancelled is continued rather than started again.
    """
    stored = store.get(run_key(corpus.sha256, config))
    if stored is not None and stored.status == "complete":
        return "cached", None
    if stored is not None and resume_from is None and stored.epochs_done < config.epochs:
        return "train", stored.key
    return "train", resume_from


def execute(store: RunStore, corpus: Corpus, config: Config, resume_from: str | None = None,
            on_progress: Callable[[Progress], None] | None = None,
            should_stop: Callable[[], bool] | None = None, probe: str | Sequence[str] | None = None,
            strategy: str = "none", interrupted: Callable[[], bool] | None = None) -> Outcome:
    """Train (or continue `resume_from`) and store the result atomically; the one path for app and command line.

    `probe` is the text (or texts) traced after every epoch (charlstm/insight/probes.py); None: those the resumed run
    was probed with, else the tutorial's two sentences. `strategy` trains under tf.distribute
    (charlstm/model/devices.py; the command line's --strategy), the run stored the same way.

    Every finished epoch is stored as it finishes (the last replaced by the next in one step, store._install),
    so a process killed at any moment leaves the run resumable from its last finished epoch. A stop for which
    interrupted() is true (the server went away, the process was signalled) is stored as "interrupted", not
    "cancelled": the visitor did not ask for it, and the page offers to finish it.
    """
    resume = store.get(resume_from) if resume_from else None
    if resume_from and resume is None:
        raise StoreError(f"run {resume_from} to continue is no longer stored")
    store.save_corpus(corpus)
    if probe is None:
        stored = resume.probes() if resume is not None else None
        probe = stored.texts if stored is not None else PROBE
    try:
        trained = train(corpus, config, on_progress=on_progress, should_stop=should_stop, resume=resume, probe=probe,
                        strategy=strategy, on_epoch=lambda so_far: store.save(so_far, corpus))
    except Cancelled as e:
        return Outcome("cancelled", str(e))
    if trained.status == "cancelled" and interrupted is not None and interrupted():
        trained.stopped = trained.history["stopped"] = "interrupted"
    run = store.save(trained, corpus)
    if trained.status == "cancelled":
        return Outcome("cancelled", f"cancelled; kept the {run.epochs_done} finished epoch(s) as run {run.key[:8]}",
                       run)
    return Outcome("complete", f"finished: run {run.key[:8]}", run)
