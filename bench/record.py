"""Where every benchmark writes: one JSON file per benchmark under bench/results/, each entry with one machine record.

    from record import append, machine      # a script run as `python bench/x.py` has bench/ on its path
    append("generate", {"label": ..., "chars_per_sec": ...})

Entries are appended, never replaced: the file is the history of that benchmark on every machine it ran on.
Tests never assert these figures; docs/benchmarks.md quotes them with their dates.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    """The machine a figure was measured on, in one shape for every benchmark."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (None, None, None)
    return {"cpus": os.cpu_count(), "processor": platform.machine(), "system": platform.system(),
            "python": platform.python_version(), "load_avg_1min": round(load[0], 2) if load[0] is not None else None}


def path(name: str) -> Path:
    return RESULTS / f"{name}.json"


def load(name: str) -> list[dict]:
    p = path(name)
    return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else []


def append(name: str, entry: dict) -> dict:
    """Add one entry, stamped with the time and the machine, to bench/results/<name>.json. A script's own machine
    facts (a dict: a GPU's name, the load at the end) are merged into the one record; a line of words is dropped
    for it."""
    entry = dict(entry)
    own = entry.pop("machine", None)
    entry = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "machine": machine() | (own if isinstance(own, dict) else {}), **entry}
    RESULTS.mkdir(exist_ok=True)
    path(name).write_text(json.dumps([*load(name), entry], indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return entry
