"""The gates tutorial's three examples, one per gate, and the unit of a trace that shows each best."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charlstm.insight.gates import GateTrace


@dataclass(frozen=True)
class Lesson:
    gate: str  # "forget", "input" or "output"
    title: str
    text: str
    focus: str  # the stretch of text the lesson looks at; its first character is the moment
    rises: bool  # whether the gate opens (True) or closes (False) there
    explain: str  # markdown


LESSONS = {
    "forget": Lesson(
        "forget", "The forget gate: let go of the old subject", "Divya likes to eat. Reena is not fat.", ".", False,
        "The cell state carries what the text was about (here, Divya) from character to character. At the period "
        "the subject is done: a unit's **forget gate** near 0 multiplies its old memory away (f × c_prev ≈ 0), so "
        "that what comes next (Reena) starts afresh. Below: the unit of the active model whose forget gate drops "
        "most at the period, and its cell at that character."),
    "input": Lesson(
        "input", "The input gate: choose what is worth writing", "Diya likes to eat. She told me via a call that "
        "she ate at McDonald's last time.", "She", True,
        "Not everything read is worth keeping. The **input gate** decides how much of the candidate (what this "
        "character suggests) is written into memory: i × candidate. The tutorial's point: *that she ate at "
        "McDonald's* matters more than *via a call*. Below: the unit whose input gate opens most as the new "
        "sentence starts, and how it writes along the text."),
    "output": Lesson(
        "output", "The output gate: say only what the next step needs",
        "Bob fought single handedly with the enemy and died for his country. For his contributions brave", " brave",
        True,
        "The memory holds more than the next character needs. The **output gate** picks what the unit shows: "
        "h = o × tanh(c). After *brave* a word such as *Bob* (a noun) should come, and the output gate exposes "
        "what predicts it. Below: the unit whose output gate opens most at the end, and what the model expects "
        "next."),
}


@dataclass(frozen=True)
class Focus:
    layer: int
    unit: int
    position: int  # the character the lesson looks at
    before: float  # the gate's mean over the characters before it
    at: float  # the gate there


def focus(tr: GateTrace, lesson: Lesson, window: int = 6) -> Focus:
    """The unit, of any layer, whose `lesson.gate` moves most (the way the lesson says) at the focus character.

    The position is where lesson.focus starts in the traced text (the last match for text that ends the
    sentence); when the text no longer holds it, the middle of the text.
    """
    pos, per_layer = moves(tr.text, [rec[lesson.gate] for rec in tr.layers], lesson, window)
    best = None
    for layer, (before, now, move) in enumerate(per_layer):
        u = int(np.argmax(move))
        if best is None or move[u] > best[0]:
            best = (float(move[u]), Focus(layer, u, pos, float(before[u]), float(now[u])))
    return best[1]


def moment(text: str, lesson: Lesson) -> int:
    """The character a lesson looks at in text: where lesson.focus starts (the end, for the output lesson)."""
    at = text.rfind(lesson.focus) if lesson.gate == "output" else text.find(lesson.focus)
    if lesson.gate == "output" and at > 0:
        return len(text) - 1  # the output lesson looks at the end, where the next word is predicted
    return at if at > 0 else len(text) // 2


def moves(text: str, values, lesson: Lesson, window: int = 6) -> tuple[int, list[tuple[np.ndarray, ...]]]:
    """The moment, and per layer of values ((T, units) of lesson.gate each): the gate's mean over the `window`
    characters before it, its value there (the larger of two, or smaller when it closes) and how far it moved."""
    pos = moment(text, lesson)
    out = []
    for g in values:
        before = g[max(0, pos - window):pos].mean(axis=0) if pos else g[0]
        now = g[pos:pos + 2].max(axis=0) if lesson.rises else g[pos:pos + 2].min(axis=0)
        out.append((before, now, (now - before) if lesson.rises else (before - now)))
    return pos, out


# What the shipped model (charlstm/data/demo) shows, as tests/test_shipped.py measures it on the shipped files and
# asserts these very values (so the Home page that quotes them cannot drift from the model): (layer from 1, unit,
# what it does). A retrained demo changes them and those tests say so.
SHIPPED_UNITS = {
    "forget": (2, 56, "its forget gate falls from 1.00 to 0.00 at the period of “eat. R”"),
    "input": (2, 213, "its input gate opens from 0.12 to 1.00 at “She”, the new subject"),
    "output": (2, 112, "its output gate opens from 0.08 to 0.98 at the last letter of “brave”"),
    "line-position": (1, 252, "its cell counts the characters of a line, r = +0.93 over 20,000 held-out characters; "
                              "hold it at −1, where every line starts, and the newline after “by this sun of York;” "
                              "falls from 97.3% to 1.9%"),
    "word-start": (1, 194, "marks the start of a word, AUC 0.92"),
    "speaker-line": (2, 156, "is high on a speaker's name line (“ROMEO:”), AUC 0.83"),
}
# what the shipped model does not show as well as Karpathy's cells did, said on the home page
SHIPPED_NOTE = ("Its sharpest speaker's-name-line unit reaches AUC 0.83, short of the 0.9 of its line and word "
                "cells.")
