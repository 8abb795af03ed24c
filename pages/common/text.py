"""Numbers and models in words, as the pages write them."""

from __future__ import annotations

from charlstm.store import Run


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "–"
    s = round(s)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def fmt_loss(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


def model_words(run: Run, demo: bool) -> str:
    """'tiny Shakespeare, 2 × 128, the shipped demo': which model a page is showing."""
    return (f"{run.meta.get('corpus_name', '?')}, {run.config.layers} × {run.config.units}"
            f"{', the shipped demo' if demo else ''}")
