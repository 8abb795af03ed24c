"""Training: char-rnn style batches, plain-callable hooks, cancellation, resume.

A config with formulation "window" trains the classic tutorial's way instead (charlstm/window.py):
every window predicts one character, so its rates count targets, not characters read.

The trainer knows nothing of any UI. It reports through on_progress(Progress) after every
batch and asks should_stop() after every batch; a small Keras Callback adapts the two.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import corpus as corpus_mod
from . import window as window_mod
from .config import Config
from .corpus import Corpus, Vocab


@dataclass(frozen=True)
class Progress:
    phase: str  # "starting", "training", "validating", "done", "cancelled"
    epoch: int  # 1-based epoch in progress
    epochs: int
    step: int  # 1-based step within the epoch
    steps_per_epoch: int
    train_loss: float | None  # Keras's running mean over the epoch so far, nats/char
    batch_loss: float | None  # this batch alone
    val_loss: float | None  # after the last finished epoch
    chars_per_sec: float  # training targets a second: every character for "sequence", one per window for "window"
    elapsed: float  # seconds of this training session
    eta: float | None  # seconds left, estimated from the step rate so far

    @property
    def fraction(self) -> float:
        total = self.epochs * self.steps_per_epoch
        return min(1.0, ((self.epoch - 1) * self.steps_per_epoch + self.step) / total) if total else 0.0


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


class Cancelled(Exception):
    """Training was cancelled before its first epoch finished: there is nothing to keep."""


@dataclass(frozen=True)
class Split:
    vocab: Vocab
    train: np.ndarray  # (n_train,) int32 ids
    val: np.ndarray  # (n_val,) int32 ids


def split(text: str, config: Config, vocab: Vocab | None = None) -> Split:
    """Encode the prepared text and hold out its end for validation."""
    text = corpus_mod.prepare(text, config.lowercase)
    corpus_mod.check_length(text, config.seq_len, config.val_fraction)
    vocab = vocab or Vocab.build(text)
    ids = vocab.encode(text, drop_unknown=True)
    n = int(len(ids) * (1 - config.val_fraction))
    return Split(vocab, ids[:n], ids[n:])


def windows(ids: np.ndarray, seq_len: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping (input, target) sequences; the target is the input shifted by one."""
    m = (len(ids) - 1 - offset) // seq_len
    x = ids[offset:offset + m * seq_len].reshape(m, seq_len)  # (m, seq_len)
    y = ids[offset + 1:offset + 1 + m * seq_len].reshape(m, seq_len)
    return x, y


def epoch_batches(ids: np.ndarray, config: Config, epoch: int) -> tuple[np.ndarray, np.ndarray]:
    """One epoch's sequences: a fresh random phase and order, seeded by (seed, epoch) so resume repeats it."""
    rng = np.random.default_rng([config.seed, epoch])
    x, y = windows(ids, config.seq_len, int(rng.integers(config.seq_len)) if len(ids) > 2 * config.seq_len + 1 else 0)
    order = rng.permutation(len(x))
    steps = max(1, len(x) // config.batch_size)
    keep = order[:steps * config.batch_size]  # whole batches only: one traced shape, even steps
    return x[keep], y[keep]


def steps_per_epoch(n_train: int, config: Config) -> int:
    if config.formulation == "window":
        return window_mod.steps_per_epoch(n_train, config)
    return max(1, ((n_train - 1) // config.seq_len) // config.batch_size)


def run_key(corpus_sha: str, config: Config) -> str:
    """The cache key: the same corpus text and settings always give the same key."""
    return hashlib.sha256((corpus_sha + config.to_json()).encode()).hexdigest()[:16]


def validation_data(val: np.ndarray, config: Config) -> tuple[np.ndarray, np.ndarray]:
    """The held-out (input, target) pairs: shifted sequences, or for "window" one target per window."""
    if config.formulation == "window":
        return window_mod.validation(val, config.seq_len)
    return windows(val, config.seq_len)


def targets_per_step(config: Config) -> int:
    return config.batch_size * (1 if config.formulation == "window" else config.seq_len)


def fit_epoch(model, ids: np.ndarray, config: Config, epoch: int, callbacks: list) -> None:
    """One epoch of model.fit on this epoch's batches (windows are gathered batch by batch)."""
    if config.formulation == "window":
        model.fit(window_mod.dataset(ids, config, epoch), epochs=1, verbose=0, callbacks=callbacks)
        return
    x, y = epoch_batches(ids, config, epoch)
    model.fit(x, y, batch_size=config.batch_size, epochs=1, shuffle=False, verbose=0, callbacks=callbacks)


def train(
    corpus: Corpus,
    config: Config,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: object | None = None,
) -> Trained:
    """Train a model on corpus, or continue `resume` (a stored Run) up to config.epochs.

    Cancelling keeps the last finished epoch (weights and optimizer state); with no finished
    epoch it raises Cancelled. Never calls on_progress from any thread but its own.
    """
    import keras

    from .model import build_model  # sets TensorFlow's threads before any op runs

    on_progress = on_progress or (lambda p: None)
    should_stop = should_stop or (lambda: False)
    start_epoch, history, resumed_from = 0, {"train_loss": [], "val_loss": [], "epoch_seconds": [], "curve": []}, None
    if resume is not None:
        if resume.meta["corpus_sha256"] != corpus.sha256:
            raise ValueError("this run was trained on a different corpus")
        if resume.config.replace(epochs=config.epochs) != config:
            raise ValueError("to continue a run, only the number of epochs may change")
        start_epoch = resume.epochs_done
        if config.epochs <= start_epoch:
            raise ValueError(f"the run already has {start_epoch} epochs; ask for more to continue it")
        history = {k: list(v) for k, v in resume.history.items()}
        resumed_from = resume.key
    data = split(corpus.text, config, vocab=resume.vocab if resume is not None else None)
    vx, vy = validation_data(data.val, config)
    spe = steps_per_epoch(len(data.train), config)
    keras.utils.set_random_seed(config.seed + start_epoch)  # dropout masks and initial weights
    model = resume.keras_model() if resume is not None else build_model(config, len(data.vocab))

    t0 = time.perf_counter()
    state = {"epoch": start_epoch + 1, "step": 0, "steps_done": 0, "train_loss": None, "batch_loss": None,
             "val_loss": history["val_loss"][-1] if history["val_loss"] else None, "phase": "starting"}
    chars_per_step = targets_per_step(config)

    def snapshot(phase: str | None = None) -> Progress:
        el = time.perf_counter() - t0
        rate = state["steps_done"] / el if el > 0 and state["steps_done"] else 0.0
        left = (config.epochs - state["epoch"]) * spe + (spe - state["step"])
        return Progress(phase=phase or state["phase"], epoch=state["epoch"], epochs=config.epochs, step=state["step"],
                        steps_per_epoch=spe, train_loss=state["train_loss"], batch_loss=state["batch_loss"],
                        val_loss=state["val_loss"], chars_per_sec=rate * chars_per_step, elapsed=el,
                        eta=left / rate if rate else None)

    class Hooks(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            mean = float(logs["loss"])
            n = batch + 1  # Keras reports the epoch's running mean; recover this batch's own loss
            state["batch_loss"] = mean * n - state["train_loss"] * (n - 1) if n > 1 else mean
            state.update(step=n, train_loss=mean, phase="training")
            state["steps_done"] += 1
            if n % max(1, spe // 200) == 0 or n == spe:  # a bounded curve, whatever the epoch length
                history["curve"].append([(state["epoch"] - 1) * spe + n, round(mean, 4)])
            on_progress(snapshot())
            if should_stop():
                self.model.stop_training = True

        def on_test_batch_end(self, batch, logs=None):
            if should_stop():
                self.model.stop_evaluating = True

    hooks = Hooks()
    on_progress(snapshot())
    epochs_done, status = start_epoch, "complete"
    saved = None  # (weights, optimizer variables) at the end of the last finished epoch
    for epoch in range(start_epoch, config.epochs):
        state.update(epoch=epoch + 1, step=0, train_loss=None)
        te = time.perf_counter()
        fit_epoch(model, data.train, config, epoch, [hooks])
        if should_stop():
            status = "cancelled"
            break
        state["phase"] = "validating"
        on_progress(snapshot())
        val = model.evaluate(vx, vy, batch_size=max(config.batch_size, 64), verbose=0, callbacks=[hooks])
        if should_stop() or val is None or isinstance(val, list | dict):  # an epoch counts once its val loss is known
            status = "cancelled"
            break
        history["train_loss"].append(state["train_loss"])
        history["val_loss"].append(float(val))
        history["epoch_seconds"].append(time.perf_counter() - te)
        state["val_loss"] = float(val)
        epochs_done = epoch + 1
        saved = None
        if epoch + 1 < config.epochs:
            saved = ([w.copy() for w in model.get_weights()], [np.array(v) for v in model.optimizer.variables])
        on_progress(snapshot())
    seconds = time.perf_counter() - t0
    if status == "cancelled":
        if epochs_done == start_epoch:
            on_progress(snapshot("cancelled"))
            raise Cancelled("cancelled before the first epoch finished; nothing was kept")
        if saved is not None:  # roll back the unfinished epoch
            model.set_weights(saved[0])
            for v, a in zip(model.optimizer.variables, saved[1], strict=True):
                v.assign(a)
        history["curve"] = [p for p in history["curve"] if p[0] <= epochs_done * spe]
    on_progress(snapshot("done" if status == "complete" else "cancelled"))
    return Trained(config=config, vocab=data.vocab, model=model, history=history, epochs_done=epochs_done,
                   status=status, train_seconds=seconds,
                   chars_per_sec=state["steps_done"] * chars_per_step / seconds if seconds else 0.0,
                   resumed_from=resumed_from)
