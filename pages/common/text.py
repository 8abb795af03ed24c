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


def baseline_words(run: Run, b) -> str:
    """'1.786 nats/char · letter frequencies 3.347 · uniform guess 4.174: learned ...', or the val loss alone."""
    from charlstm import baselines

    said = baselines.sentence(run.val_loss, b)
    return said[0].upper() + said[1:] if said else f"Val loss {fmt_loss(run.val_loss)} nats/char"


def kept_words(run: Run) -> str:
    """'epoch 12 of 20 (the lowest val loss); stopped: early stopping' for a run's weights and its end."""
    from charlstm.train import stop_words

    n, best = run.epochs_done, run.best_epoch
    kept = f"the weights of epoch {best} of {n}" + (" (the lowest val loss)" if best and best != n else "")
    why = stop_words(run.history.get("stopped"), run.config)
    return kept + (f"; it stopped because it {why}" if why else "")
