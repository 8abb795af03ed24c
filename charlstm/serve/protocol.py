"""How the server and a worker process speak: the job spec, one JSON object per line, and the worker's environment.

The protocol, one JSON object per line:
  parent -> worker, stdin:  the job spec first (JobSpec below, as one JSON object), then "cancel" whenever
                            the user cancels. End of file (the server went away) also means cancel, so no
                            orphan trains on.
  worker -> parent, stdout: {"event": "progress", "progress": {Progress fields}}, at most
                            worker.PROGRESS_PER_S a second plus every change of phase (its "device" says
                            where it trains, e.g. "GPU: NVIDIA H200", once the model is built), then exactly one
                            of {"event": "done", "status": "complete" | "cancelled", "key", "epochs_done", "device"},
                            {"event": "cancelled", "message"} (nothing to keep) or {"event": "failed", "message"}.
  stderr:                   TensorFlow's and Python's own messages; the parent keeps its tail for
                            a crash report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from charlstm.config import Config


@dataclass(frozen=True)
class JobSpec:
    """What the server asks a worker to train: the first line on its stdin, and an entry of the saved queue."""

    home: str  # the run store's root (the visitor's workspace or the shared cache)
    corpus_sha256: str  # the corpus, stored in that store before the worker starts
    corpus_name: str  # the name the run is stored under (the store keeps the text by its hash)
    config: Config
    resume_from: str | None = None  # the key of the run to continue, if any
    probe: str | None = None  # the text traced after every epoch (None: the resumed run's, else the default)

    def to_dict(self) -> dict:
        return asdict(self) | {"config": self.config.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> JobSpec:
        """A spec from its JSON object (KeyError, TypeError or ValueError when it is not one)."""
        return cls(home=str(d["home"]), corpus_sha256=str(d["corpus_sha256"]), corpus_name=d.get("corpus_name") or "",
                   config=Config.from_dict(d["config"]), resume_from=d.get("resume_from"), probe=d.get("probe"))

    def line(self) -> str:
        return json.dumps(self.to_dict()) + "\n"


def parse(line: str) -> dict | None:
    """A line from a worker as a message, or None when it is not one (a stray line of a library)."""
    try:
        msg = json.loads(line)
    except ValueError:
        return None
    return msg if isinstance(msg, dict) and "event" in msg else None


def worker_command() -> list[str]:
    return [sys.executable, "-m", "charlstm.serve.worker"]


def worker_env() -> dict[str, str]:
    """The server's environment, with this package importable however the server was started."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def new_session() -> dict:
    """Keep the worker out of the server's process group: a Ctrl-C in the server's terminal reaches the
    server, which then closes the worker's stdin, and the worker stops politely at its next batch."""
    if os.name == "posix":
        return {"start_new_session": True}
    return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
