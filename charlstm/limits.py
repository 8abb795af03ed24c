"""Caps for a shared server: the largest model, the longest training and the largest corpus anyone may ask for.

Each cap comes from an environment variable (CHARLSTM_MAX_UNITS ...) or, taking precedence,
from an overrides mapping (the app passes its st.secrets). The library never reads
st.secrets itself: callers hand it plain values.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass

from .corpus import DEFAULT_MAX_BYTES


@dataclass(frozen=True)
class Limits:
    max_layers: int = 3
    max_units: int = 512
    max_embedding: int = 256
    max_seq_len: int = 256
    max_batch_size: int = 256
    # batch x sequence length: what the backward pass keeps in memory grows with it, so this
    # (not each factor alone) is what keeps the largest training below 1.5 GB (bench/README.md)
    max_chars_per_step: int = 16_384
    max_epochs: int = 20
    max_corpus_mb: float = DEFAULT_MAX_BYTES / 1e6  # uploads above this are refused

    @property
    def max_corpus_bytes(self) -> int:
        return int(self.max_corpus_mb * 1_000_000)

    def problems(self, config, corpus_bytes: int | None = None) -> list[str]:
        """Plain-language reasons why this server refuses a training, empty when it accepts it."""
        out = []
        for field, cap, what in (("layers", self.max_layers, "layers"), ("units", self.max_units, "units per layer"),
                                 ("embedding", self.max_embedding, "embedding size"),
                                 ("seq_len", self.max_seq_len, "sequence length"),
                                 ("batch_size", self.max_batch_size, "batch size"),
                                 ("epochs", self.max_epochs, "epochs")):
            value = getattr(config, field)
            if value > cap:
                out.append(f"{what} is {value}; this server allows at most {cap}")
        if config.batch_size * config.seq_len > self.max_chars_per_step:
            out.append(f"batch size × sequence length is {config.batch_size * config.seq_len:,}; "
                       f"this server allows at most {self.max_chars_per_step:,} characters per step")
        if corpus_bytes is not None and corpus_bytes > self.max_corpus_bytes:
            out.append(f"the corpus is {corpus_bytes / 1e6:.1f} MB; "
                       f"this server allows at most {self.max_corpus_mb:g} MB")
        return out

    def describe(self) -> str:
        return (f"at most {self.max_layers} layers of {self.max_units} units, {self.max_epochs} epochs, "
                f"sequence length {self.max_seq_len}, batch size {self.max_batch_size} "
                f"({self.max_chars_per_step:,} characters per step), "
                f"embedding {self.max_embedding}, corpus {self.max_corpus_mb:g} MB")


FIELDS = tuple(f.name for f in dataclasses.fields(Limits))


def env_name(field: str) -> str:
    return "CHARLSTM_" + field.upper()  # max_units -> CHARLSTM_MAX_UNITS


def _parse(name: str, raw, kind: type) -> int | float:
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {raw!r}") from None
    if isinstance(raw, bool) or value <= 0 or (kind is int and isinstance(raw, float) and not raw.is_integer()):
        raise ValueError(f"{name} must be a positive {'integer' if kind is int else 'number'}, got {raw!r}")
    return value


def from_env(environ: Mapping[str, str] | None = None, overrides: Mapping | None = None) -> Limits:
    """Limits from environment variables, with overrides (keys CHARLSTM_MAX_UNITS or max_units) on top.

    A malformed value raises ValueError naming the setting, so a misconfigured server says so
    instead of silently applying a default.
    """
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    kinds = {f.name: (float if f.type in ("float", float) else int) for f in dataclasses.fields(Limits)}
    values = {}
    for field in FIELDS:
        name = env_name(field)
        for source in (overrides.get(field), overrides.get(name), environ.get(name)):
            if source is not None and source != "":
                values[field] = _parse(name, source, kinds[field])
                break
    return Limits(**values)
