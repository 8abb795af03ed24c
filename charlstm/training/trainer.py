"""Training: char-rnn style batches, plain-callable hooks, cancellation, resume.

A config with formulation "window" trains the classic tutorial's way instead (charlstm/text/window.py):
every window predicts one character, so its rates count targets, not characters read.

The trainer knows nothing of any UI. It reports through on_progress(Progress) and asks should_stop()
after every group of batches that Keras runs in one call (steps_per_execution: see group_size); a small
Keras Callback adapts the two.

What a run keeps: the weights (and optimizer state) of the epoch with the lowest validation loss,
not of the last one; history["best_epoch"] says which (1-based). A run stops after config.epochs,
at the epoch boundary nearest its time budget (config.minutes), after config.patience epochs
without a lower validation loss, or when cancelled; history["stopped"] says which. After every
epoch the numpy stepper writes a 200-character sample (history["samples"]). Continuing a run
starts from the state it kept, its best epoch, and numbers the new epochs after the last one trained.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence

import numpy as np

from charlstm.config import Config
from charlstm.insight.probes import PROBE, probe_epoch
from charlstm.model import sampling
from charlstm.model.devices import check_batch, describe, make_strategy
from charlstm.model.lstm_np import Weights
from charlstm.runs.store import Run
from charlstm.text import baselines
from charlstm.text import window as window_mod
from charlstm.text.corpus import Corpus
from charlstm.text.split import epoch_batches, split, steps_per_epoch, targets_per_step, validation_data
from charlstm.training.curves import EPOCH_POINTS, thin
from charlstm.training.progress import SAMPLE_CHARS, SAMPLE_SEED, SAMPLE_TEMPERATURE, Cancelled, Progress, Trained

# Keras runs this many multiply-adds of LSTM work (group_size) in one call into TensorFlow before Python hears
# from it again: 16 steps of the default config, measured best (docs/benchmarks.md)
GROUP_WORK = 16 * 128 * 32 * 4 * 128 * (32 + 128 + 128 + 128)
MAX_GROUP = 32


def step_work(config: Config) -> int:
    """Multiply-adds of one optimizer step's LSTM forward pass: batch x time x 4 gates x units x (input + units)."""
    inputs = [config.embedding] + [config.units] * (config.layers - 1)
    return config.batch_size * config.seq_len * sum(4 * config.units * (i + config.units) for i in inputs)


def group_size(config: Config) -> int:
    """Optimizer steps per Keras execution (compile's steps_per_execution): a few hundred milliseconds of work.

    One call into TensorFlow per step costs a Python round trip and reads the loss back after every batch,
    which keeps TensorFlow from running ahead; a group runs as one TensorFlow loop. The hooks (progress, stop)
    run once per group, so a stop request waits at most one group. CHARLSTM_STEPS_PER_EXECUTION overrides it.
    """
    if os.environ.get("CHARLSTM_STEPS_PER_EXECUTION"):
        return max(1, int(os.environ["CHARLSTM_STEPS_PER_EXECUTION"]))
    return max(1, min(MAX_GROUP, GROUP_WORK // step_work(config)))


def fit_one_epoch(model, ids: np.ndarray, config: Config, epoch: int, callbacks: list) -> None:
    """One epoch of model.fit on this epoch's batches (windows are gathered batch by batch)."""
    if config.formulation == "window":
        model.fit(window_mod.dataset(ids, config, epoch), epochs=1, verbose=0, callbacks=callbacks)
        return
    x, y = epoch_batches(ids, config, epoch)
    model.fit(x, y, batch_size=config.batch_size, epochs=1, shuffle=False, verbose=0, callbacks=callbacks)


class Trainer:
    """One training session: its data, model and progress as plain attributes, one method per step.

    run() goes: build the model, then for each epoch fit_epoch(), validate(), keep_epoch() and probe();
    a stop request during either step ends the loop and roll_back() restores the last kept epoch.
    """

    def __init__(self, corpus: Corpus, config: Config, on_progress: Callable[[Progress], None] | None = None,
                 should_stop: Callable[[], bool] | None = None, resume: Run | None = None,
                 probe: str | Sequence[str] | None = PROBE, strategy: str = "none",
                 clock: Callable[[], float] = time.perf_counter, on_epoch: Callable[[Trained], None] | None = None):
        self.config = config
        self.on_epoch = on_epoch  # called with the run so far after every finished epoch but the last (checkpoints)
        self.strategy_name = strategy  # "none", "mirrored" or "multiworker" (charlstm/model/devices.py)
        self.device: str | None = None
        self.clock = clock  # seconds; injectable, so tests of the time budget need no real waiting
        self.probe_text = probe  # the text, or texts, traced after every kept epoch (None: not at all)
        self.probes = resume.probes() if resume is not None else None
        self.on_progress = on_progress or (lambda p: None)
        self.should_stop = should_stop or (lambda: False)
        self.resume = resume
        self.start_epoch, self.resumed_from = 0, None
        self.history = {"train_loss": [], "val_loss": [], "epoch_seconds": [], "curve": []}
        if resume is not None:
            check_resume(resume, corpus, config)
            self.start_epoch, self.resumed_from = resume.epochs_done, resume.key
            self.history = {k: list(v) if isinstance(v, list) else v for k, v in resume.history.items()}
        self.data = split(corpus.text, config, vocab=resume.vocab if resume is not None else None)
        self.vx, self.vy = validation_data(self.data.val, config)
        self.val_batch = max(config.batch_size, 64)
        self.spe = steps_per_epoch(len(self.data.train), config)
        self.chars_per_step = targets_per_step(config)
        self.group = group_size(config)  # optimizer steps per Keras execution: progress and stops come this often
        self.model = None  # keras.Model, made by build()
        self.hooks = None  # the Keras callback that calls after_batch and after_val_batch
        # progress
        self.phase = "starting"  # see Progress.phase
        self.epoch, self.step, self.steps_done = self.start_epoch + 1, 0, 0
        self.train_loss: float | None = None
        self.batch_loss: float | None = None
        self.val_loss: float | None = self.history["val_loss"][-1] if self.history["val_loss"] else None
        self.epoch_curve: list[list] = []  # (global step, running loss) after every group of batches of this epoch
        self.epochs_done = self.start_epoch
        self.saved = None  # (weights, optimizer variables) at the end of the last kept epoch
        self.t0 = 0.0
        # the best epoch so far: its number, val loss and (weights, optimizer variables); see keep_best
        self.best_epoch: int | None = None
        self.best_val: float | None = None
        self.best_state = None
        self.stopped: str | None = None  # STOP_REASONS
        self.history["baselines"] = baselines.to_dict(baselines.of_split(self.data.train, self.data.val,
                                                                         len(self.data.vocab)))
        samples = self.history.setdefault("samples", [])
        samples.extend([""] * (self.start_epoch - len(samples)))  # "": an epoch trained before samples were kept
        self.sample_prime = sampling.line_start(self.data.vocab.decode(self.data.val[:4000]))
        self.history["sample_prime"] = self.sample_prime  # also Generate's default priming text for the run
        self.last_sample: str | None = self.history["samples"][-1] if self.history["samples"] else None
        self.sample_epoch: int | None = self.start_epoch if self.last_sample else None

    def build(self) -> None:
        """The model, fresh or resumed; its layers carry their own seeds (model.seeded), nothing global is reseeded.

        Under a tf.distribute strategy the model is built (or loaded) in its scope, so its variables
        are mirrored and fit splits each global batch of config.batch_size across the replicas.
        """
        import contextlib

        import keras

        from charlstm.model.network import build_model  # sets TensorFlow's threads before any op runs

        strategy = make_strategy(self.strategy_name)  # before any TensorFlow op, as tf.distribute needs
        check_batch(self.config.batch_size, strategy)
        if strategy is not None:  # every batch, the last too, must split evenly over the replicas
            n = strategy.num_replicas_in_sync
            self.vx, self.vy = self.vx[:len(self.vx) // n * n], self.vy[:len(self.vy) // n * n]
            self.val_batch = -(-self.val_batch // n) * n
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            if self.resume is not None:
                self.model = self.resume.keras_model()
            else:
                self.model = build_model(self.config, len(self.data.vocab))
            if strategy is not None:  # Keras 3.15's grouped steps fail under tf.distribute ("You must feed a value
                self.group = 1  # for placeholder tensor ... while/cond"): one step per call there
            # the same optimizer (a resumed one keeps its state) and loss, with the steps grouped per execution
            self.model.compile(optimizer=self.model.optimizer, loss=self.model.loss, steps_per_execution=self.group)
        self.device = describe(strategy)
        self.hooks = keras.callbacks.LambdaCallback(on_train_batch_end=self.after_batch,
                                                    on_test_batch_end=self.after_val_batch)

    def snapshot(self, phase: str | None = None) -> Progress:
        el = self.clock() - self.t0
        rate = self.steps_done / el if el > 0 and self.steps_done else 0.0
        left = (self.config.epochs - self.epoch) * self.spe + (self.spe - self.step)
        return Progress(phase=phase or self.phase, epoch=self.epoch, epochs=self.config.epochs, step=self.step,
                        steps_per_epoch=self.spe, train_loss=self.train_loss, batch_loss=self.batch_loss,
                        val_loss=self.val_loss, chars_per_sec=rate * self.chars_per_step, elapsed=el,
                        eta=self.eta(left / rate if rate else None, el), sample=self.last_sample,
                        sample_epoch=self.sample_epoch,
                        budget_s=self.config.minutes * 60 or None, device=self.device)

    def after_batch(self, batch: int, logs: dict | None = None) -> None:
        """Keras hook, after a group of batches (batch: the last one's 0-based index): record, report, stop if asked."""
        mean = float(logs["loss"])
        # Keras numbers a last, shorter group as if it were whole; it reports the epoch's running mean
        n, done = min(batch + 1, self.spe), self.step
        if n > done:
            self.batch_loss = (mean * n - self.train_loss * done) / (n - done) if done else mean
            self.step, self.train_loss, self.phase = n, mean, "training"
            self.steps_done += n - done
            self.epoch_curve.append([(self.epoch - 1) * self.spe + n, round(mean, 4)])
            self.on_progress(self.snapshot())
        if self.should_stop():
            self.model.stop_training = True

    def after_val_batch(self, batch: int, logs: dict | None = None) -> None:
        if self.should_stop():
            self.model.stop_evaluating = True

    def fit_epoch(self, epoch: int) -> bool:
        """Train one epoch (0-based); False when a stop request cut it short."""
        self.epoch, self.step, self.train_loss, self.epoch_curve = epoch + 1, 0, None, []
        fit_one_epoch(self.model, self.data.train, self.config, epoch, [self.hooks])
        return not self.should_stop()

    def validate(self) -> float | None:
        """The validation loss after this epoch; None when a stop request cut it short."""
        self.phase = "validating"
        self.on_progress(self.snapshot())
        val = self.model.evaluate(self.vx, self.vy, batch_size=self.val_batch, verbose=0,
                                  callbacks=[self.hooks])
        if self.should_stop() or val is None or isinstance(val, list | dict):  # an epoch counts once its val is known
            return None
        return float(val)

    def keep_epoch(self, val_loss: float, seconds: float) -> None:
        """Add a finished epoch to the history and remember its state to roll back to."""
        h = self.history
        h["train_loss"].append(self.train_loss)
        h["val_loss"].append(val_loss)
        h["epoch_seconds"].append(seconds)
        h["curve"].extend(thin(self.epoch_curve, EPOCH_POINTS))  # a bounded curve, whatever the epoch length
        self.val_loss, self.epochs_done = val_loss, self.epoch
        self.saved = None
        if self.epoch < self.config.epochs:
            self.saved = ([w.copy() for w in self.model.get_weights()],
                          [np.array(v) for v in self.model.optimizer.variables])
        self.on_progress(self.snapshot())

    def probe(self) -> None:
        """Trace the probe text through the weights of the epoch just kept, or the untrained ones as epoch 0 (numpy,
        a few milliseconds)."""
        if self.probe_text:
            self.probes = probe_epoch(self.probes, Weights.from_keras(self.model), self.data.vocab, self.probe_text,
                                      self.epochs_done, self.config.lowercase)

    # ---- what a run keeps and when it stops: the best epoch, the time budget, early stopping, a sample
    def eta(self, by_steps: float | None, elapsed: float) -> float | None:
        """Seconds left: by the step rate, or by the time budget when that ends the run sooner."""
        if not self.config.minutes:
            return by_steps
        left = max(0.0, self.config.minutes * 60 - elapsed)
        return left if by_steps is None else min(by_steps, left)

    def model_state(self) -> tuple[list, list]:
        return ([w.copy() for w in self.model.get_weights()], [np.array(v) for v in self.model.optimizer.variables])

    def set_model_state(self, state: tuple[list, list]) -> None:
        weights, variables = state
        self.model.set_weights(weights)
        for v, a in zip(self.model.optimizer.variables, variables, strict=True):
            v.assign(a)

    def start_best(self) -> None:
        """A continued run starts from the state it kept: that is its best epoch so far (runs stored before
        best-epoch keeping kept their last epoch, and count that one)."""
        if self.resume is None or not self.history["val_loss"]:
            return
        kept = self.history.get("best_epoch") or len(self.history["val_loss"])
        self.best_epoch, self.best_val = kept, self.history["val_loss"][kept - 1]
        self.best_state = self.model_state()

    def keep_best(self, val_loss: float) -> None:
        """Remember the weights and optimizer state of an epoch with a lower val loss than any before."""
        if self.best_val is None or val_loss < self.best_val:
            self.best_epoch, self.best_val = self.epochs_done, val_loss
            self.best_state = self.model_state() if self.epochs_done < self.config.epochs else None  # None: the model
        self.history["best_epoch"] = self.best_epoch

    def restore_best(self) -> None:
        """Put the best epoch's weights and optimizer state back, when a later epoch was worse."""
        if self.best_epoch is not None and self.best_epoch != self.epochs_done and self.best_state is not None:
            self.set_model_state(self.best_state)

    def over_budget(self) -> bool:
        """Whether the epoch boundary just reached is the one nearest the time budget: another epoch of the
        mean length so far would end farther past the budget than this boundary is short of it."""
        if not self.config.minutes:
            return False
        secs = self.history["epoch_seconds"][self.start_epoch:]
        mean = sum(secs) / len(secs) if secs else 0.0
        return self.clock() - self.t0 + mean / 2 >= self.config.minutes * 60

    def stop_reason(self) -> str | None:
        """Why to stop at this epoch boundary (a STOP_REASONS key), or None to train on."""
        if self.epochs_done >= self.config.epochs:
            return "epochs"
        if self.config.patience and self.best_epoch is not None and \
                self.epochs_done - self.best_epoch >= self.config.patience:
            return "patience"
        return "minutes" if self.over_budget() else None

    def set_epoch_rate(self, epoch: int) -> None:
        """char-rnn's decay: epoch (0-based) trains at learning_rate x lr_decay^epoch, resumed runs included."""
        if self.config.lr_decay != 1.0:
            self.model.optimizer.learning_rate = self.config.learning_rate * self.config.lr_decay ** epoch

    def sample(self) -> None:
        """SAMPLE_CHARS characters from the epoch just kept, with the numpy stepper (a fixed seed and prime)."""
        weights = Weights.from_keras(self.model)
        text = "".join(sampling.generate(weights, self.data.vocab, self.sample_prime, SAMPLE_CHARS,
                                         SAMPLE_TEMPERATURE, seed=SAMPLE_SEED, drop_unknown=True,
                                         window=self.config.seq_len if self.config.formulation == "window" else 0))
        self.last_sample = self.sample_prime + text
        self.history["samples"].append(self.last_sample)
        self.sample_epoch = self.epochs_done
        self.on_progress(self.snapshot())

    def roll_back(self) -> None:
        """Restore the weights and optimizer state of the last kept epoch (the unfinished one is dropped)."""
        if self.saved is None:
            return
        weights, variables = self.saved
        self.model.set_weights(weights)
        for v, a in zip(self.model.optimizer.variables, variables, strict=True):
            v.assign(a)

    def trained(self, status: str, seconds: float) -> Trained:
        return Trained(config=self.config, vocab=self.data.vocab, model=self.model, history=self.history,
                       epochs_done=self.epochs_done, status=status, train_seconds=seconds,
                       chars_per_sec=self.steps_done * self.chars_per_step / seconds if seconds else 0.0,
                       resumed_from=self.resumed_from, probes=self.probes, best_epoch=self.best_epoch,
                       stopped=self.stopped, device=self.device)

    def checkpoint(self) -> None:
        """Hand on_epoch the run as Cancel would keep it now (the best epoch's state, every finished epoch's
        history), marked as interrupted: if the process dies before the next epoch, that is what it was."""
        if self.on_epoch is None:
            return
        current = None
        if self.best_state is not None and self.best_epoch != self.epochs_done:
            current = self.model_state()
            self.set_model_state(self.best_state)
        history = {**self.history, "stopped": "interrupted"}
        try:
            self.on_epoch(dataclasses.replace(self.trained("cancelled", self.clock() - self.t0), history=history,
                                              stopped="interrupted"))
        finally:
            if current is not None:
                self.set_model_state(current)

    def run(self) -> Trained:
        self.build()
        self.start_best()
        if self.start_epoch == 0:
            self.probe()  # epoch 0: the untrained model, so How a unit learns starts from no pattern at all
        self.t0 = self.clock()
        self.on_progress(self.snapshot())
        status = "complete"
        for epoch in range(self.start_epoch, self.config.epochs):
            te = self.clock()
            self.set_epoch_rate(epoch)
            val = self.validate() if self.fit_epoch(epoch) else None
            if val is None:
                status, self.stopped = "cancelled", "cancelled"
                break
            self.keep_epoch(val, self.clock() - te)
            self.keep_best(val)
            self.probe()
            self.sample()
            self.stopped = self.stop_reason()
            if self.stopped:
                break
            self.checkpoint()
        seconds = self.clock() - self.t0
        if status == "cancelled":
            if self.epochs_done == self.start_epoch:
                self.on_progress(self.snapshot("cancelled"))
                raise Cancelled("cancelled before the first epoch finished; nothing was kept")
            self.roll_back()
        self.restore_best()
        self.history["stopped"] = self.stopped
        self.on_progress(self.snapshot("done" if status == "complete" else "cancelled"))
        return self.trained(status, seconds)


def check_resume(run: Run, corpus: Corpus, config: Config) -> None:
    """A stored run can be continued only on its own corpus, with only more epochs."""
    if run.meta["corpus_sha256"] != corpus.sha256:
        raise ValueError("this run was trained on a different corpus")
    if run.config.replace(epochs=config.epochs) != config:
        raise ValueError("to continue a run, only the number of epochs may change")
    if config.epochs <= run.epochs_done:
        raise ValueError(f"the run already has {run.epochs_done} epochs; ask for more to continue it")


def train(
    corpus: Corpus,
    config: Config,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: Run | None = None,
    probe: str | Sequence[str] | None = PROBE,
    strategy: str = "none",
    clock: Callable[[], float] = time.perf_counter,
    on_epoch: Callable[[Trained], None] | None = None,
) -> Trained:
    """Train a model on corpus, or continue `resume` (a stored Run) up to config.epochs.

    Cancelling keeps the last finished epoch (weights and optimizer state); with no finished
    epoch it raises Cancelled. Never calls on_progress from any thread but its own. The probe text is
    traced after every finished epoch and kept with the run (probes.py). `strategy` trains under
    tf.distribute (charlstm/model/devices.py); the stored run is the same either way.
    """
    return Trainer(corpus, config, on_progress, should_stop, resume, probe, strategy, clock, on_epoch).run()
