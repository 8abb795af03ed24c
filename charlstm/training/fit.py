"""Settings that fit the corpus: batch size, sequence length, epochs and learning rate from its size and a time budget.

The "fit to my corpus" preset of the Train form and of `python -m charlstm train FILE`. The model is
the default 2 x 128 LSTM; what changes with the corpus is how it is fed:

- sequence length 32 (short sequences in wide batches learn most per CPU-minute here: docs/benchmarks.md,
  Benchmarks), shorter only when the held-out part would hold fewer than MIN_VAL_SEQUENCES of them;
- the batch: small texts get small batches, so that an epoch is more than a step or two and the
  optimizer takes enough steps at all (a 7 kB text at batch 128 x 32 is one step per epoch); the
  built-in corpus and larger texts get the measured default, 128;
- the learning rate with the batch (LEARNING_RATES; measured, see below);
- epochs: as many as fit the time budget at the measured speed (RATES), but no more than a small text
  needs (STEPS_PER_KCHAR), and at least enough for MIN_STEPS optimizer steps in all;
- early stopping after PATIENCE epochs without a lower validation loss, and the best epoch's weights
  kept (train.py), so a budget that is too generous for a small text costs minutes, not quality.

bench/fit_bench.py trains the three texts of docs/fitting.md's table with these settings, untouched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from charlstm.config import Config
from charlstm.text.split import steps_per_epoch

NAME = "fit to my corpus"
DEFAULT_MINUTES = 5.0  # the training-time budget the preset aims at when none is given
MAX_EPOCHS = 100  # the most epochs the preset asks for (the server's cap, CHARLSTM_MAX_EPOCHS, defaults to it)
MIN_STEPS = 300  # fewer optimizer steps than this in all barely move a fresh LSTM: the form warns below it
MIN_VAL_SEQUENCES = 8  # a held-out part of fewer sequences gives a noisy val loss
STEPS_PER_KCHAR = 100  # a text of k thousand characters needs about 100 k steps at most (bench/fit_bench.py)
PATIENCE = 10  # epochs without a lower val loss before the preset's run stops
BATCHES = (16, 32, 64, 128)
# Measured on the built-in corpus's first 8 kB and 100 kB, 90 s of training each, best epoch kept (2026-11-29, a
# loaded machine): 8 kB at batch 16: Adam 1e-2 reached 2.077 (best at epoch 18, then it overfits), 3e-3 2.172,
# batch 32 at 3e-3 2.150, batch 8 at 2e-3 2.156; 100 kB: batch 64 at 5e-3 1.866, batch 128 at 1e-2 2.038,
# batch 32 at 3e-3 2.017. 128 at 1e-2 is the measured default on the whole corpus (docs/benchmarks.md);
# 32 at 5e-3 lies between the measured ones.
LEARNING_RATES = {16: 1e-2, 32: 5e-3, 64: 5e-3, 128: 1e-2}
# Optimizer steps a second of the default 2 x 128 model at sequence length 32, by batch size: measured with
# `python bench/fit_bench.py --rates` on this project's 2-core machines (TensorFlow 2.21 CPU, one thread),
# Keras fit alone. An epoch also validates, samples and traces its probe: OVERHEAD_S plus the held-out
# part read at VAL_CHARS_PER_S.
RATES = {16: 31.3, 32: 25.3, 64: 17.6, 128: 9.5}
OVERHEAD_S = 0.4
VAL_CHARS_PER_S = 100_000
STARTUP_S = 8.0  # loading TensorFlow and building the model, before the first step


@dataclass(frozen=True)
class Fitted:
    config: Config
    reason: str  # one line: '7,385 characters: batch 16, 60 epochs ≈ 720 steps, about 1 minute here'
    steps: int  # optimizer steps in all, if no early stop
    seconds: float  # the estimated training time on this project's machines


def _pow2_floor(x: float) -> int:
    return 1 << max(0, math.floor(math.log2(x))) if x >= 1 else 1


def seq_len_for(n_val: int) -> int:
    """32, or the largest power of two from 8 down whose sequences the held-out part holds MIN_VAL_SEQUENCES of."""
    seq = 32
    while seq > 8 and (n_val - 1) // seq < MIN_VAL_SEQUENCES:
        seq //= 2
    return seq


def batch_for(n_sequences: int) -> int:
    """16 up to 1,000 sequences, then about 32 steps an epoch, up to the measured default, 128 (from 4,096 on)."""
    return min(BATCHES[-1], max(BATCHES[0], _pow2_floor(n_sequences / 32)))


def epoch_seconds(steps_per_epoch: int, batch: int, n_val: int) -> float:
    return steps_per_epoch / RATES[batch] + OVERHEAD_S + n_val / VAL_CHARS_PER_S


def fit(n_chars: int, minutes: float = DEFAULT_MINUTES, base: Config | None = None) -> Fitted:
    """The fitted settings for a text of n_chars characters (as the model reads it) and a budget in minutes."""
    base = base or Config()
    if n_chars < 1:
        raise ValueError("the text is empty")
    n_train = int(n_chars * (1 - base.val_fraction))
    n_val = n_chars - n_train
    seq = seq_len_for(n_val)
    batch = batch_for(max(1, (n_train - 1) // seq))
    probe = base.replace(seq_len=seq, batch_size=batch, learning_rate=LEARNING_RATES[batch])
    spe = steps_per_epoch(n_train, probe)
    per_epoch = epoch_seconds(spe, batch, n_val)
    by_budget = int((minutes * 60 - STARTUP_S) // per_epoch)
    by_need = math.ceil(STEPS_PER_KCHAR * n_chars / 1000 / spe)
    epochs = max(by_budget if by_budget < by_need else by_need, math.ceil(MIN_STEPS / spe), 1)
    epochs = min(epochs, MAX_EPOCHS)
    config = probe.replace(epochs=epochs, patience=PATIENCE, minutes=0.0)
    steps = epochs * spe
    seconds = STARTUP_S + epochs * per_epoch
    reason = (f"{n_chars:,} characters: batch {batch} × {seq}, {epochs} epoch{'s' * (epochs != 1)} ≈ {steps:,} steps, "
              f"Adam {LEARNING_RATES[batch]:g}, {about(seconds)} here")
    return Fitted(config=config, reason=reason, steps=steps, seconds=seconds)


def about(seconds: float) -> str:
    """'about 1 minute', 'about 4 minutes', 'under a minute', 'about 1 h 20 min'."""
    m = round(seconds / 60)
    if seconds < 45:
        return "under a minute"
    if m < 60:
        return f"about {max(1, m)} minute{'s' * (max(1, m) != 1)}"
    return f"about {m // 60} h {m % 60:02d} min"


# ---- the form's warnings: what makes a config learn little on this text
@dataclass(frozen=True)
class Shortfall:
    steps: int  # optimizer steps in all
    val_sequences: int  # held-out sequences
    problems: tuple[str, ...]  # in words, empty when the config is fine for this text


def shortfall(n_chars: int, config: Config) -> Shortfall:
    """Warn when a config takes fewer than MIN_STEPS steps in all, or validates on fewer than MIN_VAL_SEQUENCES
    sequences of this text (the 7 kB article at 128 x 32 for 8 epochs: 8 steps, a val loss worse than letter
    frequencies)."""
    n_train = int(n_chars * (1 - config.val_fraction))
    n_val = n_chars - n_train
    steps = steps_per_epoch(n_train, config) * config.epochs
    val_seqs = max(0, (n_val - 1) // config.seq_len)
    out = []
    if steps < MIN_STEPS and not config.minutes:
        out.append(f"{config.epochs} epoch{'s' * (config.epochs != 1)} of this text at batch {config.batch_size} × "
                   f"{config.seq_len} make only {steps:,} optimizer step{'s' * (steps != 1)} in all (a model needs "
                   f"about {MIN_STEPS} or more to learn much)")
    if val_seqs < MIN_VAL_SEQUENCES and config.formulation == "sequence":
        out.append(f"the held-out part ({n_val:,} characters) holds only {val_seqs} sequence"
                   f"{'s' * (val_seqs != 1)} of {config.seq_len}: its val loss will be noisy")
    return Shortfall(steps=steps, val_sequences=val_seqs, problems=tuple(out))
