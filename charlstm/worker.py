"""One training, start to finish: plan it, train it, store it; and the worker process that runs one for the app.

`execute()` is the whole of a training after the decision to train: the command line calls it
in its own process, and the app's JobManager runs it here, in `python -m charlstm.worker`.

Why a fresh `python -m charlstm.worker` subprocess rather than multiprocessing's spawn context:
the server must never import TensorFlow, and spawn re-imports the parent's `__main__` in the
child (under Streamlit that is Streamlit's own command line script); a plain subprocess starts
from a clean interpreter, speaks a protocol of text lines anyone can read, log and test, needs
nothing picklable, and when it dies the parent sees an exit code or a signal, never a hung queue.

The protocol, one JSON object per line:
  parent -> worker, stdin:  the job spec first ({"home", "corpus_sha256", "corpus_name", "config",
                            "resume_from"}), then "cancel" whenever the user cancels. End of file
                            (the server went away) also means cancel, so no orphan trains on.
  worker -> parent, stdout: {"event": "progress", "progress": {Progress fields}}, at most
                            PROGRESS_PER_S a second plus every change of phase (its "device" says
                            where it trains, e.g. "GPU: NVIDIA H200", once the model is built), then exactly one
                            of {"event": "done", "status": "complete" | "cancelled", "key", "epochs_done", "device"},
                            {"event": "cancelled", "message"} (nothing to keep) or {"event": "failed", "message"}.
  stderr:                   TensorFlow's and Python's own messages; the parent keeps its tail for
                            a crash report.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence

from .config import Config
from .corpus import Corpus, CorpusError
from .limits import Limits, to_env
from .store import Run, RunStore, StoreError
from .train import Cancelled, Progress, run_key

PROGRESS_PER_S = 5  # progress lines a second: the live panel redraws once a second, the chart every 5 s


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

    `probe` is the text (or texts) traced after every epoch (charlstm/probes.py); None: those the resumed run
    was probed with, else the tutorial's two sentences. `strategy` trains under tf.distribute
    (charlstm/devices.py; the command line's --strategy), the run stored the same way.

    Every finished epoch is stored as it finishes (the last replaced by the next in one step, store._install),
    so a process killed at any moment leaves the run resumable from its last finished epoch. A stop for which
    interrupted() is true (the server went away, the process was signalled) is stored as "interrupted", not
    "cancelled": the visitor did not ask for it, and the page offers to finish it.
    """
    from .probes import PROBE
    from .train import train

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


def import_bundle(store: RunStore, data: bytes, timeout: float = 300, limits: Limits | None = None) -> Run:
    """store.import_bundle, run in a fresh `python -m charlstm import` process.

    Checking a bundle loads its model with Keras; the app does it out of process so that its
    server never imports TensorFlow and a hostile bundle cannot take the server down. limits (the server's own,
    st.secrets included) travel to that process as CHARLSTM_* variables.
    """
    from .jobs import worker_env

    with tempfile.TemporaryDirectory(prefix="charlstm-bundle-") as tmp:
        path = os.path.join(tmp, "bundle.zip")
        with open(path, "wb") as f:
            f.write(data)
        try:
            done = subprocess.run([sys.executable, "-m", "charlstm", "--home", str(store.root), "import", path],
                                  capture_output=True, text=True, encoding="utf-8", errors="replace",
                                  env=worker_env() | (to_env(limits) if limits else {}), timeout=timeout)
        except subprocess.TimeoutExpired:
            raise StoreError(f"checking the bundle took longer than {timeout:g} s; it was not imported") from None
    if done.returncode != 0:
        errors = [line.removeprefix("error: ") for line in done.stderr.splitlines() if line.startswith("error: ")]
        raise StoreError(errors[-1] if errors else
                         f"the process checking the bundle ended with code {done.returncode}; it was not imported")
    key = done.stdout.split()[-1]
    run = store.get(key)
    if run is None:
        raise StoreError("the bundle was checked but its run is not in the store")
    return run


# ---- the worker process
class _Channel:
    """The worker's end of the protocol. Owns the real stdout; anything else printed goes to stderr."""

    def __init__(self) -> None:
        self._out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
        os.dup2(2, 1)  # a stray print from any library must not corrupt the protocol
        sys.stdout = sys.stderr
        self.cancel = threading.Event()
        self.interrupted = threading.Event()  # the server went or is going away (end of stdin, a signal): not Cancel
        self.lost = threading.Event()  # nobody reads stdout any more (a broken pipe)
        self._last_sent = 0.0
        self._last_phase = None

    def send(self, event: str, **fields) -> None:
        if self.lost.is_set():
            return  # nobody is listening; the training stops at its next batch and keeps its finished epochs
        try:
            self._out.write(json.dumps({"event": event, **fields}) + "\n")
            self._out.flush()
        except (BrokenPipeError, OSError):  # the server died: stop as Cancel does, never die mid-save
            self.lost.set()
            self.interrupt()

    def interrupt(self) -> None:
        """Stop at the next batch and keep the finished epochs, stored as interrupted (the visitor did not ask)."""
        self.interrupted.set()
        self.cancel.set()

    def progress(self, p: Progress) -> None:
        now = time.monotonic()
        if (p.phase == self._last_phase and p.phase == "training" and p.step != p.steps_per_epoch
                and now - self._last_sent < 1 / PROGRESS_PER_S):
            return
        self._last_sent, self._last_phase = now, p.phase
        self.send("progress", progress=dataclasses.asdict(p))

    def listen(self, stdin) -> None:
        """Read 'cancel' lines until the parent closes the pipe; either one stops the training politely."""
        for line in stdin:
            if line.strip() == "cancel":
                self.cancel.set()
        self.interrupt()  # end of file: the server is stopping or has gone


def _spec_corpus(store: RunStore, spec: dict) -> Corpus:
    corpus = store.load_corpus(spec["corpus_sha256"])
    if corpus is None:
        raise StoreError("the corpus for this training is not stored; upload it and train again")
    return dataclasses.replace(corpus, name=spec.get("corpus_name") or corpus.name)


def main() -> int:
    channel = _Channel()
    for sig in (signal.SIGINT, signal.SIGTERM):  # asked to stop: keep the finished epochs, as Cancel does
        signal.signal(sig, lambda *_: channel.interrupt())
    with contextlib.suppress(AttributeError, ValueError):  # a broken pipe is an OSError we handle, not a signal
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        spec = json.loads(sys.stdin.readline())
        threading.Thread(target=channel.listen, args=(sys.stdin,), daemon=True).start()
        store = RunStore(spec["home"])
        outcome = execute(store, _spec_corpus(store, spec), Config.from_dict(spec["config"]), spec.get("resume_from"),
                          on_progress=channel.progress, should_stop=channel.cancel.is_set, probe=spec.get("probe"),
                          interrupted=channel.interrupted.is_set)
    except MemoryError:
        channel.send("failed", message="the training process ran out of memory and was stopped; nothing was stored")
        return 1
    except (CorpusError, StoreError, ValueError) as e:
        channel.send("failed", message=str(e))
        return 1
    except Exception as e:  # reported in words to the app; the traceback goes to the log on stderr
        import traceback

        traceback.print_exc()
        channel.send("failed", message=f"training failed: {type(e).__name__}: {e}")
        return 1
    if outcome.run is None:
        channel.send("cancelled", message=outcome.message)
    else:
        channel.send("done", status=outcome.status, key=outcome.run.key, epochs_done=outcome.run.epochs_done,
                     message=outcome.message, device=outcome.run.meta.get("device"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
