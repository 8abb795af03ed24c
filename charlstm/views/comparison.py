"""The classic tutorial's formulation against charlstm's: the measured comparison that bench/tutorial_bench.py writes.

The bench writes RESULTS (committed with the code); the app and docs/tutorial.md read it. Nothing
here trains or imports TensorFlow.
"""

from __future__ import annotations

import json
from pathlib import Path

# in the package, so an installed app (pip install .) shows the comparison too
RESULTS = Path(__file__).resolve().parents[1] / "data" / "tutorial_results.json"
CHART = Path(__file__).resolve().parents[1] / "data" / "tutorial-vs-sequence.png"

# Why the numbers differ, in three sentences: targets per window, the input, the re-reading.
WHY = (
    "Targets per window: the tutorial reads 50 characters to score a single target, the character after the "
    "window, while the sequence formulation scores every character it reads, so from the same reading it "
    "learns from 50 times as many targets (its smaller 2 × 128 model also reads faster: see the table).",
    "The scaled-integer input: i / V puts every character on one line between 0 and 1, so neighbouring ids "
    "such as “m” and “n” arrive as almost the same number and the first layer must pull them apart, where a "
    "learned embedding gives each character a vector of its own from the first step.",
    "Window re-reading: to write each new character the tutorial reads the last 50 again from an empty "
    "state, 50 LSTM steps per character and no memory beyond the window, where the stateful stepper "
    "does one step per character and carries its memory on.",
)


def load(path: Path | str = RESULTS) -> dict | None:
    """The committed comparison, or None when it has not been measured (or the file is unreadable)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("runs") else None


def table_rows(results: dict) -> list[dict]:
    """One row per formulation: what docs/tutorial.md's table and the app's table show."""
    rows = []
    for r in results["runs"]:
        c = r["config"]
        shape = f"window of {c['seq_len']} → 1" if r["formulation"] == "window" else f"sequences of {c['seq_len']}"
        rows.append({
            "formulation": r["name"],
            "model": f"{c['layers']} × {c['units']}, {shape}, batch {c['batch_size']}, Adam {c['learning_rate']:g}",
            "targets/s": r["targets_per_sec"],
            "characters read/s": r["chars_read_per_sec"],
            "training targets seen": r["targets"],
            f"val loss after {results['minutes']:g} min": r["final_val_loss"],
            "greedy generation, chars/s": r["sample_chars_per_sec"],
        })
    return rows


def markdown_table(results: dict) -> str:
    rows = table_rows(results)
    cols = list(rows[0])
    out = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    for row in rows:
        out.append("| " + " | ".join(_fmt(v) for v in row.values()) + " |")
    return "\n".join(out)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:,.3f}" if v < 10 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def curve_points(results: dict) -> list[dict]:
    """Every validation point of every run: {"formulation", "seconds", "val_loss"}, for one chart."""
    return [{"formulation": r["name"], "seconds": p["seconds"], "val_loss": p["val_loss"]}
            for r in results["runs"] for p in r["curve"]]
