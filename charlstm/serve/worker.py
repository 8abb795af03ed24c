"""The worker process that runs one training for the app (`python -m charlstm.serve.worker`), and the bundle check
run out of process.

The worker reads a JobSpec, runs training/execute.py's `execute()` (the same path the command line takes) and
reports on its stdout.

Why a fresh `python -m charlstm.serve.worker` subprocess rather than multiprocessing's spawn context:
the server must never import TensorFlow, and spawn re-imports the parent's `__main__` in the
child (under Streamlit that is Streamlit's own command line script); a plain subprocess starts
from a clean interpreter, speaks a protocol of text lines anyone can read, log and test, needs
nothing picklable, and when it dies the parent sees an exit code or a signal, never a hung queue.

The protocol, the job spec and the worker's environment: charlstm/serve/protocol.py.
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

from charlstm.runs.store import Run, RunStore, StoreError
from charlstm.serve.limits import Limits
from charlstm.serve.protocol import JobSpec, worker_env
from charlstm.serve.settings import to_env
from charlstm.text.corpus import Corpus, CorpusError
from charlstm.training.execute import execute
from charlstm.training.progress import Progress

PROGRESS_PER_S = 5  # progress lines a second: the live panel redraws once a second, the chart every 5 s


def import_bundle(store: RunStore, data: bytes, timeout: float = 300, limits: Limits | None = None) -> Run:
    """store.import_bundle, run in a fresh `python -m charlstm import` process.

    Checking a bundle loads its model with Keras; the app does it out of process so that its
    server never imports TensorFlow and a hostile bundle cannot take the server down. limits (the server's own,
    st.secrets included) travel to that process as CHARLSTM_* variables.
    """
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


def _spec_corpus(store: RunStore, spec: JobSpec) -> Corpus:
    corpus = store.load_corpus(spec.corpus_sha256)
    if corpus is None:
        raise StoreError("the corpus for this training is not stored; upload it and train again")
    return dataclasses.replace(corpus, name=spec.corpus_name or corpus.name)


def main() -> int:
    channel = _Channel()
    for sig in (signal.SIGINT, signal.SIGTERM):  # asked to stop: keep the finished epochs, as Cancel does
        signal.signal(sig, lambda *_: channel.interrupt())
    with contextlib.suppress(AttributeError, ValueError):  # a broken pipe is an OSError we handle, not a signal
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        spec = JobSpec.from_dict(json.loads(sys.stdin.readline()))
        threading.Thread(target=channel.listen, args=(sys.stdin,), daemon=True).start()
        store = RunStore(spec.home)
        outcome = execute(store, _spec_corpus(store, spec), spec.config, spec.resume_from,
                          on_progress=channel.progress, should_stop=channel.cancel.is_set, probe=spec.probe,
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
