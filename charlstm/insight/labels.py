"""Character labels for the cell finder: which characters of a text are inside a quote, start a word, ...

Each label gives one value per character, meaning "after reading this character": the
opening quote is inside the quote (a unit can only know it has opened once it has read it),
the closing quote is outside again. Binary labels are boolean arrays; position in the line
is a count. Pure Python and numpy, as in Karpathy, Johnson and Fei-Fei (2015), section 4.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import re2  # google-re2: a visitor's pattern runs in time linear in the text, whatever the pattern

MAX_REGEX = 200  # characters of a pattern (a server lowers it: CHARLSTM_MAX_PATTERN): long ones are likelier mistakes
RE2_MAX_MEM = 8 << 20  # bytes RE2 may spend on one pattern's automata; past it, it falls back to a slower linear scan


@dataclass(frozen=True)
class Label:
    name: str  # the command line's --label value
    title: str  # what the page calls it
    help: str  # one sentence: which characters are labelled
    binary: bool  # True: scored by AUC; False: by correlation
    fn: Callable[[str], np.ndarray]


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)  # (T,) code points, for vectorised tests


def _is(text: str, chars: str) -> np.ndarray:
    return np.isin(_codes(text), [ord(c) for c in chars])


def _mask(text: str, spans) -> np.ndarray:
    m = np.zeros(len(text), dtype=bool)
    for a, b in spans:
        m[a:b] = True
    return m


def inside_quotes(text: str) -> np.ndarray:
    """True from an opening double quote up to the character before its closing one."""
    return np.cumsum(_is(text, '"\u201c\u201d')) % 2 == 1  # an odd number of quotes read so far: inside


def inside_brackets(text: str) -> np.ndarray:
    """True from an opening ( or [ up to the character before its closing one; nesting counts."""
    step = _is(text, "([").astype(np.int64) - _is(text, ")]")
    marks = np.flatnonzero(step)
    if not len(marks):
        return np.zeros(len(text), dtype=bool)
    depth, d = np.empty(len(marks), dtype=np.int64), 0
    for j, t in enumerate(marks):  # a loop over the brackets only: a stray ")" must not take the depth below 0
        depth[j] = d = max(0, d + int(step[t]))
    last = np.searchsorted(marks, np.arange(len(text)), side="right") - 1  # the last bracket read at each character
    return (last >= 0) & (depth[np.maximum(last, 0)] > 0)


def line_position(text: str) -> np.ndarray:
    """How many characters of the current line have been read: 0 at a newline, 1 at the line's first character."""
    t = np.arange(len(text))
    last = np.maximum.accumulate(np.where(_is(text, "\n"), t, -1)) if len(text) else t  # last newline read
    return (t - last).astype(np.float64)


def compile_pattern(pattern: str, max_chars: int = MAX_REGEX):
    """A visitor's pattern, compiled by RE2; ValueError, in one sentence, for one it cannot run.

    Python's re backtracks: `(.|.)*X` takes exponential time and would freeze the one server process that
    every visitor shares. RE2 guarantees linear time and bounded memory; the price is no backreferences
    and no lookaround, which it refuses at compile time (we say so instead of falling back to re).
    """
    if not pattern:
        raise ValueError("the regular expression is empty")
    if len(pattern) > max_chars:
        raise ValueError(f"the regular expression is {len(pattern):,} characters; this server allows at most "
                         f"{max_chars:,}")
    options = re2.Options()
    options.log_errors = False  # RE2 would print each refused pattern on the server's stderr
    options.max_mem = RE2_MAX_MEM
    try:
        return re2.compile(pattern, options)
    except re2.error as e:
        why = e.args[0].decode("utf-8", "replace") if e.args and isinstance(e.args[0], bytes) else str(e)
        hint = ""
        if any(s in pattern for s in ("(?=", "(?!", "(?<", "\\1", "\\2")):
            hint = "; lookaround and backreferences are not supported, since they can take exponential time"
        elif "repetition size" in why:  # RE2 caps counted repeats, nested ones multiplied: (x{10}){100} is 1,000
            hint = "; counted repetitions, nested ones multiplied together, may ask for at most 1,000"
        elif "too large" in why:
            hint = "; it would take more memory than this server gives one pattern"
        raise ValueError(f"not a regular expression this server can run: {why}{hint}") from None


def regex_mask(text: str, pattern: str, max_chars: int = MAX_REGEX) -> np.ndarray:
    """True on every character inside a match of a visitor's pattern (run by RE2); ValueError for a bad pattern."""
    rx = compile_pattern(pattern, max_chars)
    return _mask(text, (m.span() for m in rx.finditer(text)))


def word_start(text: str) -> np.ndarray:
    # our own fixed pattern, so Python's re (with its lookbehind) is safe here
    return _mask(text, (m.span() for m in re.finditer(r"(?<![\w'])\w", text)))


def after_sentence_end(text: str) -> np.ndarray:
    """The character after sentence-ending punctuation that is followed by more text (gates.sentence_boundaries)."""
    return _mask(text, ((m.end(), m.end() + 1) for m in re.finditer(r"[.!?](?=\s+\S)", text)))


def next_upper(text: str) -> np.ndarray:
    upper = np.array([c.isupper() for c in text], dtype=bool)
    return np.append(upper[1:], False) if len(text) else upper


def vowel(text: str) -> np.ndarray:
    return _is(text, "aeiouAEIOU")


LABELS: dict[str, Label] = {label.name: label for label in (
    Label("quotes", "Inside double quotes", "From an opening double quote up to its closing one.", True,
          inside_quotes),
    Label("brackets", "Inside brackets", "From an opening ( or [ up to its closing one.", True, inside_brackets),
    Label("line-position", "Position in the line", "How far into its line a character is (0 at a newline).",
          False, line_position),
    Label("word-start", "Start of a word", "The first letter or digit of every word.", True, word_start),
    Label("sentence-boundary", "After a sentence end", "The character right after a . ! or ? that ends a sentence.",
          True, after_sentence_end),
    Label("next-upper", "Next is upper case", "Characters followed by an upper-case letter.", True, next_upper),
    Label("vowel", "Vowel", "The letters a, e, i, o and u, either case.", True, vowel),
)}


def label_values(text: str, name: str | None = None, regex: str | None = None,
                 max_pattern: int = MAX_REGEX) -> tuple[Label, np.ndarray]:
    """A built-in label by name, or a user's regular expression (characters inside a match), over text."""
    if regex is not None:
        label = Label("regex", f"Matches /{regex}/", f"Characters inside a match of /{regex}/.", True,
                      lambda s: regex_mask(s, regex, max_pattern))
    elif name in LABELS:
        label = LABELS[name]
    else:
        raise ValueError(f"unknown label {name!r}; choose one of {', '.join(LABELS)} or give a regular expression")
    return label, label.fn(text)
