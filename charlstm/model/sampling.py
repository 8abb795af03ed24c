"""Text generation: read the priming text once, then one recurrence step per new character.

Or the classic tutorial's way, for its window runs: re-read the last window from an empty state per character.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from charlstm.model.lstm_np import Stepper, Weights
from charlstm.text.corpus import CorpusError, Vocab, char_label, prepare

MAX_LENGTH = 20_000
GUMBEL_BLOCK = 256  # characters whose sampling noise is drawn in one call


def prepare_prime(text: str, vocab: Vocab, lowercase: bool, drop_unknown: bool = False) -> str:
    """A priming text as a run reads it: lowercased when the run was trained lowercased, then
    its characters the model never saw left out (drop_unknown) or refused, CorpusError naming them."""
    text = prepare(text, lowercase)
    missing = vocab.missing(text)
    if missing and not drop_unknown:
        raise CorpusError("characters not in the model's vocabulary: " + ", ".join(map(char_label, missing)))
    kept = "".join(c for c in text if c not in missing)
    if text and not kept:
        raise CorpusError("the priming text has no characters the model knows")
    return kept


def line_start(text: str, max_chars: int = 40) -> str:
    """A priming text from a corpus: the first line of text (after its first newline, since text may start
    mid-line) that has a letter in it; the whole line and its newline when it is short ('KING RICHARD III:\n'),
    else its first words up to max_chars. Without a newline, the first words after the first space."""
    lines = text.split("\n")
    for line in lines[1:-1]:  # the first and last pieces may be cut off
        if any(c.isalpha() for c in line):
            return line + "\n" if len(line) <= max_chars else _words(line, max_chars)
    rest = text.split(" ", 1)[-1].lstrip()
    return _words(rest, max_chars) if rest else text[:max_chars]


def _words(text: str, max_chars: int) -> str:
    """The longest start of text, up to max_chars, that ends at a word's end (at least one word)."""
    if len(text) <= max_chars:
        return text.rstrip()
    head = text[:max_chars + 1]
    cut = head.rfind(" ")
    return (head[:cut] if cut > 0 else head[:max_chars]).rstrip()


def sample_index(logits: np.ndarray, temperature: float, rng: np.random.Generator, top_k: int = 0) -> int:
    """Pick the next id: temperature 0 is greedy argmax; top_k > 0 keeps only the k likeliest."""
    if temperature <= 0:
        return int(np.argmax(logits))
    z = logits.astype(np.float64) / temperature
    if 0 < top_k < len(z):
        cut = np.partition(z, -top_k)[-top_k]
        z = np.where(z >= cut, z, -np.inf)
    cdf = np.cumsum(np.exp(z - z.max()))
    # inverse-CDF draw: one uniform number, far cheaper than rng.choice with p=
    return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), len(cdf) - 1))


def generate(
    weights: Weights,
    vocab: Vocab,
    prime: str,
    length: int,
    temperature: float = 0.8,
    top_k: int = 0,
    seed: int | None = 0,
    drop_unknown: bool = False,
    window: int = 0,
) -> Iterator[str]:
    """Yield `length` characters, one at a time, continuing `prime`.

    Characters of prime that the vocabulary lacks raise CorpusError naming them, unless
    drop_unknown is set, in which case they are left out. An empty prime starts from a newline
    when the vocabulary has one. window > 0 generates the classic tutorial's way (window_logits).
    """
    if not 0 <= length <= MAX_LENGTH:
        raise ValueError(f"length must be between 0 and {MAX_LENGTH:,}")
    if temperature < 0:
        raise ValueError("temperature must be >= 0 (0 means greedy)")
    if top_k < 0:
        raise ValueError("top_k must be >= 0 (0 means no limit)")
    ids = vocab.encode(prime, drop_unknown=drop_unknown)
    if len(ids) == 0:
        if prime:  # everything was dropped
            raise CorpusError("the priming text has no characters the model knows")
        ids = vocab.encode("\n" if "\n" in vocab.chars else vocab.chars[0])
    rng = np.random.default_rng(seed)
    stepper = Stepper(weights)
    if window > 0:
        yield from _windowed(stepper, vocab, ids, length, window, temperature, top_k, rng)
        return
    chars = vocab.chars
    for idx in continue_ids(stepper, stepper.feed(ids), length, temperature, top_k, rng):
        yield chars[idx]


def continue_ids(stepper: Stepper, logits: np.ndarray, length: int, temperature: float, top_k: int,
                 rng: np.random.Generator) -> Iterator[int]:
    """The ids of `length` characters drawn one after another from `logits` on, the stepper advanced over each.

    Without top-k, by the Gumbel-max draw: argmax(logits / T + g), g = -log(-log(u)), is i with probability
    softmax(logits / T)_i, exactly; the noise for a block of characters is drawn in one call, so a character costs
    three numpy calls besides the stepper's. The same rng gives the same text (Teach's clamp compares on that).
    """
    if temperature <= 0 or 0 < top_k < len(logits):
        for _ in range(length):
            idx = sample_index(logits, temperature, rng, top_k)
            yield idx
            logits = stepper.step(idx)
        return
    inv_t = 1.0 / temperature
    for start in range(0, length, GUMBEL_BLOCK):
        for g in -np.log(-np.log(rng.random((min(GUMBEL_BLOCK, length - start), len(logits))))):
            idx = int((logits * inv_t + g).argmax())
            yield idx
            logits = stepper.step(idx)


def window_logits(stepper: Stepper, ids: np.ndarray) -> np.ndarray:
    """The next character's logits after reading ids from an empty state: the tutorial's model.predict on one window."""
    stepper.reset()
    for i in ids:
        logits = stepper.step(int(i))
    return logits


def _windowed(stepper: Stepper, vocab: Vocab, ids: np.ndarray, length: int, window: int, temperature: float,
              top_k: int, rng: np.random.Generator) -> Iterator[str]:
    """The tutorial's generation: every new character re-reads the last `window` characters from an empty state.

    Nothing is remembered from one character to the next beyond the window itself; a priming
    text shorter than the window gives a shorter window until the text has grown.
    """
    text = [int(i) for i in ids]
    for _ in range(length):
        idx = sample_index(window_logits(stepper, text[-window:]), temperature, rng, top_k)
        yield vocab.chars[idx]
        text.append(idx)


def prime_for(run, text: str | None) -> str:
    """The priming text that fits a run: the one its samples were primed with, else the start of a line of its
    corpus's held-out part, else '' (Generate starts from a newline)."""
    recorded = run.history.get("sample_prime")
    if isinstance(recorded, str) and recorded:
        return recorded
    if not text:
        return ""
    text = prepare(text, run.config.lowercase)
    held_out = text[int(len(text) * (1 - run.config.val_fraction)):][:4000]
    prime = line_start(held_out)
    known = set(run.vocab.chars)
    return "".join(c for c in prime if c in known)
