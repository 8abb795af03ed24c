"""What a training reports and returns, in plain data: no Keras, no numpy arrays of weights.

The app's pages and the job manager import this module (Progress, stop_words) without pulling in the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass

from charlstm.config import Config
from charlstm.insight.probes import Probes
from charlstm.text.corpus import Vocab


@dataclass(frozen=True)
class Progress:
    phase: str  # "starting", "training", "validating", "done", "cancelled"
    epoch: int  # 1-based epoch in progress
    epochs: int
    step: int  # 1-based step within the epoch (reported after every group of steps: see group_size)
    steps_per_epoch: int
    train_loss: float | None  # Keras's running mean over the epoch so far, nats/char
    batch_loss: float | None  # the last group of batches alone (their mean; see group_size)
    val_loss: float | None  # after the last finished epoch
    chars_per_sec: float  # training targets a second: every character for "sequence", one per window for "window"
    elapsed: float  # seconds of this training session
    eta: float | None  # seconds left, estimated from the step rate so far
    sample: str | None = None  # the sample written after the last finished epoch (SAMPLE_CHARS characters)
    sample_epoch: int | None = None  # the epoch (1-based) that sample was written after
    budget_s: float | None = None  # the time budget in seconds, when the run has one
    device: str | None = None  # where it trains, in words (charlstm/model/devices.py); None until the model is built

    @property
    def fraction(self) -> float:
        total = self.epochs * self.steps_per_epoch
        done = min(1.0, ((self.epoch - 1) * self.steps_per_epoch + self.step) / total) if total else 0.0
        return max(done, min(1.0, self.elapsed / self.budget_s)) if self.budget_s else done


@dataclass
class Trained:
    """What train() returns: the model in memory, ready for the run store."""

    config: Config
    vocab: Vocab
    model: object  # keras.Model
    history: dict
    epochs_done: int
    status: str  # "complete" or "cancelled"
    train_seconds: float
    chars_per_sec: float
    resumed_from: str | None = None
    probes: Probes | None = None  # the probe text traced after every finished epoch
    best_epoch: int | None = None  # 1-based: the epoch whose weights the model holds (lowest val loss)
    stopped: str | None = None  # why training ended (STOP_REASONS)
    device: str | None = None  # where it trained, in words (charlstm/model/devices.py)


# after every finished epoch: a sample from the numpy stepper, primed with a line start of the held-out part
SAMPLE_CHARS, SAMPLE_TEMPERATURE, SAMPLE_SEED = 200, 0.8, 0
# why a run ended, as history["stopped"] records it
STOP_REASONS = {"epochs": "ran all its epochs", "minutes": "spent its time budget",
                "patience": "had no lower validation loss for {patience} epochs (early stopping)",
                "cancelled": "was cancelled",
                "interrupted": "was interrupted (the server or its training process stopped); continue it to finish"}


def stop_words(reason: str | None, config: Config) -> str | None:
    """Why a run ended, in words that follow 'it': 'spent its time budget'."""
    return STOP_REASONS[reason].format(patience=config.patience) if reason in STOP_REASONS else None


class Cancelled(Exception):
    """Training was cancelled before its first epoch finished: there is nothing to keep."""

