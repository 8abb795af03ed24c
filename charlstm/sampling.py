"""Text generation: read the priming text once, then one recurrence step per new character."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .corpus import CorpusError, Vocab, char_label, prepare
from .lstm_np import Stepper, Weights

MAX_LENGTH = 20_000


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
) -> Iterator[str]:
    """Yield `length` characters, one at a time, continuing `prime`.

    Characters of prime that the vocabulary lacks raise CorpusError naming them, unless
    drop_unknown is set, in which case they are left out. An empty prime starts from a newline
    when the vocabulary has one.
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
    logits = stepper.feed(ids)
    for _ in range(length):
        idx = sample_index(logits, temperature, rng, top_k)
        yield vocab.chars[idx]
        logits = stepper.step(idx)
