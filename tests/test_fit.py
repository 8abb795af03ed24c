"""Settings fitted to the corpus, the baselines and their verdict, and what a run keeps: the best epoch, a time
budget, early stopping and a sample after every epoch (real Keras training on tiny corpora)."""

import math
import random

import numpy as np
import pytest

from charlstm.config import Config
from charlstm.model.sampling import line_start
from charlstm.runs.store import RunStore
from charlstm.text import baselines
from charlstm.text.corpus import from_text
from charlstm.text.split import steps_per_epoch
from charlstm.training import fit
from charlstm.training.progress import SAMPLE_CHARS
from charlstm.training.trainer import train
from tests.conftest import make_text, require


# ---- the fitted settings
def test_a_tiny_text_gets_small_batches_short_sequences_and_enough_steps():
    f = fit.fit(1_500)
    c = f.config
    n_val = 1_500 - int(1_500 * 0.9)
    assert c.seq_len < 32 and (n_val - 1) // c.seq_len >= fit.MIN_VAL_SEQUENCES  # the held-out part still holds 8
    assert c.batch_size == 16 and c.learning_rate == fit.LEARNING_RATES[16]
    assert f.steps >= fit.MIN_STEPS and c.epochs * steps_per_epoch(int(1_500 * 0.9), c) == f.steps
    assert c.patience == fit.PATIENCE and c.minutes == 0
    assert not fit.shortfall(1_500, c).problems


def test_a_small_text_like_the_issues_article_gets_batch_16_and_about_a_minute():
    f = fit.fit(7_385)
    c = f.config
    assert (c.batch_size, c.seq_len) == (16, 32) and c.learning_rate == fit.LEARNING_RATES[16]
    assert 40 <= c.epochs <= 80 and 500 <= f.steps <= 1_000
    assert f.reason.startswith("7,385 characters: batch 16 × 32, ") and "steps" in f.reason
    assert f"{c.epochs} epochs ≈ {f.steps:,} steps" in f.reason and "minute" in f.reason
    assert f.seconds < 3 * 60  # the bench's 8 kB text must finish within 3 minutes


def test_a_large_text_gets_the_measured_default_and_the_budget_sets_the_epochs():
    n = 1_115_394  # tiny Shakespeare
    f = fit.fit(n)
    c = f.config
    assert (c.layers, c.units, c.batch_size, c.seq_len, c.learning_rate) == (2, 128, 128, 32, 1e-2)
    assert abs(f.seconds - fit.DEFAULT_MINUTES * 60) <= fit.epoch_seconds(steps_per_epoch(int(n * 0.9), c), 128,
                                                                          n - int(n * 0.9))  # within an epoch
    longer = fit.fit(n, minutes=20)
    assert longer.config.epochs > c.epochs and "minutes here" in longer.reason
    huge = fit.fit(10_000_000, minutes=1)
    assert huge.config.epochs == 1 and huge.config.batch_size == 128  # at least one epoch, whatever the budget


def test_the_fit_grows_monotonically_with_the_text():
    sizes = [500, 2_000, 8_000, 30_000, 100_000, 1_000_000]
    batches = [fit.fit(n).config.batch_size for n in sizes]
    assert batches == sorted(batches) and batches[0] == 16 and batches[-1] == 128
    assert fit.fit(100_000).config.batch_size == 64  # measured best of 32, 64 and 128 on 100 kB


def test_shortfall_warns_about_the_issues_article_at_the_old_default():
    old = Config()  # 128 x 32, 8 epochs: one step an epoch on 7 kB
    s = fit.shortfall(7_385, old)
    assert s.steps == 8 and len(s.problems) == 1 and "only 8 optimizer steps" in s.problems[0]
    tiny = fit.shortfall(600, Config(seq_len=32, batch_size=16, epochs=100))
    assert tiny.val_sequences == 1 and any("holds only 1 sequence of 32" in p for p in tiny.problems)
    assert not fit.shortfall(1_115_394, Config()).problems
    assert not fit.shortfall(7_385, old.replace(minutes=3)).problems  # a time budget decides the steps instead


def test_line_start_primes_with_a_line_of_the_held_out_part():
    assert line_start("ng.\nGREMIO:\nGood morrow\nmore") == "GREMIO:\n"
    assert line_start("x\n\n   \nThe quick brown fox jumps over the lazy dog again\nend", 20) == "The quick brown fox"
    assert line_start("no newline in this text at all") == "newline in this text at all"


# ---- the baselines, checked by hand
def test_baselines_on_a_hand_checked_example():
    # vocabulary a, b, c (ids 0, 1, 2); training part "aaab": counts 3, 1, 0 -> add-one: 4/7, 2/7, 1/7
    train_ids, val_ids = np.array([0, 0, 0, 1]), np.array([0, 1, 2, 2])
    b = baselines.of_split(train_ids, val_ids, 3)
    assert b.uniform == pytest.approx(math.log(3))
    expected = -(math.log(4 / 7) + math.log(2 / 7) + 2 * math.log(1 / 7)) / 4  # (0.5596 + 1.2528 + 3.8918) / 4
    assert b.unigram == pytest.approx(expected) and b.unigram == pytest.approx(1.42605, abs=1e-5)


def test_the_verdict_follows_the_gap_below_letter_frequencies():
    b = baselines.Baselines(uniform=4.17, unigram=3.35, vocab_size=65)
    assert baselines.verdict(3.47, b).startswith("no better than letter frequencies")  # the issue's article
    assert baselines.verdict(3.25, b) == "barely better than letter frequencies"
    assert baselines.verdict(2.34, b) == "learned spelling and common words"
    assert baselines.verdict(1.55, b).startswith("learned words, names")
    assert baselines.verdict(None, b) is None and baselines.verdict(2.0, None) is None
    said = baselines.sentence(2.34, b)
    assert "2.340" in said and "3.350" in said and "ln 65" in said


# ---- what a run keeps and when it stops
def _random_text(n: int, seed: int = 0) -> str:
    """Letters at random: nothing to learn beyond their frequencies, so a model that memorises its training
    part gets worse on the held-out part after an epoch or two; its best epoch comes early."""
    rng = random.Random(seed)
    return "".join(rng.choice("abcdefgh \n") for _ in range(n))


def test_the_best_epochs_weights_are_the_ones_stored(tmp_path):
    require("keras")
    corpus = from_text(_random_text(2_400), "random.txt")
    config = Config(layers=1, units=48, embedding=8, seq_len=16, batch_size=8, epochs=6, learning_rate=2e-2,
                    dropout=0.0, seed=1)
    store = RunStore(tmp_path / "home")
    run = store.save(train(corpus, config, probe=None), corpus)
    vals = run.history["val_loss"]
    best = int(np.argmin(vals)) + 1
    assert run.best_epoch == best == run.meta["best_epoch"] and best < config.epochs  # it overfitted after `best`
    assert run.val_loss == pytest.approx(min(vals)) and len(vals) == run.epochs_done == config.epochs
    reference = train(corpus, config.replace(epochs=best), probe=None)  # the same run, stopped at that epoch
    for a, b in zip(_arrays(run.weights), _arrays(reference.model), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def _arrays(w) -> list[np.ndarray]:
    """Every weight array of a Weights, or of a Keras model's."""
    from charlstm.model.lstm_np import Weights

    w = w if isinstance(w, Weights) else Weights.from_keras(w)
    return [w.embedding, w.dense_w, w.dense_b, *(a for lw in w.layers for a in (lw.kernel, lw.recurrent, lw.bias))]


def test_a_time_budget_stops_at_the_nearest_epoch_boundary(tiny_corpus, tiny_config):
    require("keras")
    now, seen_epochs = [0.0], []

    def clock():  # 20 "seconds" pass in each epoch: the validation pass of every epoch moves the clock
        return now[0]

    def on_progress(p):
        if p.phase == "validating" and p.epoch not in seen_epochs:
            seen_epochs.append(p.epoch)
            now[0] += 20.0

    config = tiny_config.replace(epochs=50, minutes=0.9)  # 54 s: the boundaries are at 20, 40, 60 s
    t = train(tiny_corpus, config, on_progress=on_progress, probe=None, clock=clock)
    assert t.epochs_done == 3 and t.stopped == "minutes" and t.status == "complete"
    assert len(t.history["val_loss"]) == len(t.history["samples"]) == 3
    spe = steps_per_epoch(int(len(tiny_corpus.text) * 0.9), config)
    assert t.history["curve"][-1][0] == 3 * spe  # three whole epochs, not a step more
    now[0], seen_epochs[:] = 0.0, []
    t2 = train(tiny_corpus, config.replace(minutes=0.75), on_progress=on_progress, probe=None, clock=clock)
    assert t2.epochs_done == 2  # 45 s: 40 is nearer than 60


def test_early_stopping_after_patience_epochs_without_improvement(tmp_path):
    require("keras")
    corpus = from_text(_random_text(2_400), "random.txt")
    config = Config(layers=1, units=48, embedding=8, seq_len=16, batch_size=8, epochs=12, learning_rate=2e-2,
                    dropout=0.0, seed=1, patience=2)
    t = train(corpus, config, probe=None)
    vals = t.history["val_loss"]
    assert t.stopped == "patience" and t.epochs_done == t.best_epoch + 2 < 12
    assert min(vals[t.best_epoch:]) >= vals[t.best_epoch - 1]


def test_every_epoch_leaves_a_sample_and_the_baselines_are_recorded(tiny_corpus, tiny_config):
    require("keras")
    seen = []
    t = train(tiny_corpus, tiny_config.replace(epochs=2), on_progress=seen.append, probe=None)
    samples = t.history["samples"]
    prime = line_start(tiny_corpus.text[int(len(tiny_corpus.text) * 0.9):][:4000])
    assert len(samples) == 2 and all(s.startswith(prime) and len(s) == len(prime) + SAMPLE_CHARS for s in samples)
    assert seen[-1].sample == samples[-1] and seen[-1].sample_epoch == 2  # the live panel's latest sample
    first = next(p for p in seen if p.sample is not None)
    assert first.sample == samples[0] and first.sample_epoch == 1
    b = t.history["baselines"]
    expected = baselines.of_text(tiny_corpus.text, tiny_config)
    assert b["unigram"] == pytest.approx(expected.unigram, abs=1e-4) and b["vocab_size"] == expected.vocab_size
    assert t.stopped == "epochs"


def test_continuing_a_run_starts_from_its_best_epoch(tmp_path):
    require("keras")
    corpus = from_text(_random_text(2_400), "random.txt")
    config = Config(layers=1, units=48, embedding=8, seq_len=16, batch_size=8, epochs=5, learning_rate=2e-2,
                    dropout=0.0, seed=1)
    store = RunStore(tmp_path / "home")
    store.save_corpus(corpus)
    run = store.save(train(corpus, config, probe=None), corpus)
    more = train(corpus, config.replace(epochs=7), resume=run, probe=None)
    assert more.epochs_done == 7 and len(more.history["val_loss"]) == 7
    vals = more.history["val_loss"]
    assert more.best_epoch == int(np.argmin(vals)) + 1
    if more.best_epoch == run.best_epoch:  # no new epoch beat it: the weights are still the stored best
        for a, b in zip(_arrays(run.weights), _arrays(more.model), strict=True):
            np.testing.assert_allclose(a, b, atol=1e-6)


def test_make_text_is_learnable_enough_for_the_verdict():
    """The shared tiny text's baselines: its unigram lies between the uniform guess and zero."""
    text = make_text(4_000)
    b = baselines.of_text(text, Config(seq_len=16))
    assert 0 < b.unigram < b.uniform
