"""Numbers and models in words, as the pages write them."""

from __future__ import annotations

import re

from charlstm.runs.store import Run
from charlstm.text import baselines
from charlstm.text.corpus import visible
from charlstm.training.progress import stop_words

WJ = "\u2060"  # the invisible word joiner
_AUTOLINK = re.compile(r"\\:|@|(?i:www)")
# the characters that can start Markdown or Streamlit markup mid-line: emphasis, code, links and images,
# raw HTML, headings, strikethrough, tables, LaTeX, :emoji: and :material/icons:, :colour[text]
_ACTIVE = re.compile(r"([\\`*_\[\]()<>#~|$:!{}])")


def md(text: object) -> str:
    """Text a visitor typed (a file name, a corpus, a run label), made safe to put inside Markdown.

    Every character that can start markup is backslash-escaped (CommonMark allows it for any ASCII
    punctuation; `.` and `-` start a list only at a line's start, which these never are), so
    `[x](https://…)`, `**b**`, `<img …>`, `:red[…]`, `:material/…:` and `$…$` are shown as the
    characters they are; line breaks become spaces, so nothing starts a heading or a list; invisible and
    direction-changing characters (U+202E ...) are shown as <U+202E> (charlstm.text.corpus.visible).
    """
    escaped = _ACTIVE.sub(r"\\\1", " ".join(visible(line) for line in str(text).splitlines()))
    # GFM turns bare URLs and e-mail addresses into links after escapes are gone: an invisible word
    # joiner (U+2060) after each ':' and '@' and inside 'www.' keeps them text, looking the same
    return _AUTOLINK.sub(lambda m: m.group(0) + WJ, escaped)


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
    """'tiny Shakespeare, 2 × 256, the shipped demo': which model a page is showing."""
    return (f"{md(run.meta.get('corpus_name', '?'))}, {run.config.layers} × {run.config.units}"
            f"{', the shipped demo' if demo else ''}")


def baseline_words(run: Run, b) -> str:
    """'1.497 nats/char · letter frequencies 3.347 · uniform guess 4.174: learned ...', or the val loss alone."""
    said = baselines.sentence(run.val_loss, b)
    return said[0].upper() + said[1:] if said else f"Val loss {fmt_loss(run.val_loss)} nats/char"


def kept_words(run: Run) -> str:
    """'epoch 12 of 20 (the lowest val loss); stopped: early stopping' for a run's weights and its end."""
    n, best = run.epochs_done, run.best_epoch
    kept = f"the weights of epoch {best} of {n}" + (" (the lowest val loss)" if best and best != n else "")
    why = stop_words(run.history.get("stopped"), run.config)
    return kept + (f"; it stopped because it {why}" if why else "")
