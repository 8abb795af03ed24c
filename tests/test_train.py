"""Real Keras training on tiny corpora: progress, validation, cancellation, resume, reproducibility."""

import shutil

import numpy as np
import pytest

from charlstm.config import PRESETS, Config
from charlstm.runs.store import RunStore, StoreError, read_run, run_key
from charlstm.text.corpus import CorpusError
from charlstm.text.split import epoch_batches, split, steps_per_epoch, windows
from charlstm.training.progress import Cancelled
from charlstm.training.trainer import MAX_GROUP, group_size, train


@pytest.fixture(autouse=True)
def one_step_groups(monkeypatch):
    """Tiny models would get a whole epoch per Keras execution (group_size): here one step, unless `group` says."""
    monkeypatch.setenv("CHARLSTM_STEPS_PER_EXECUTION", "1")


@pytest.fixture(params=[1, 4], ids=["group1", "group4"])
def group(request, monkeypatch):
    """Keras runs `group` steps per call (steps_per_execution): the trainer's hooks run once per group."""
    monkeypatch.setenv("CHARLSTM_STEPS_PER_EXECUTION", str(request.param))
    return request.param


def reported(spe: int, group: int) -> list[int]:
    """The steps of an epoch after which progress is reported: every group's last, and the epoch's last."""
    return sorted(set(range(group, spe, group)) | {spe})


def test_group_size_follows_the_work_per_step(monkeypatch):
    monkeypatch.delenv("CHARLSTM_STEPS_PER_EXECUTION")
    assert group_size(Config()) == 16  # the default config: the measured best (docs/benchmarks.md)
    assert group_size(PRESETS["quick demo"]) == MAX_GROUP  # small steps: capped, so a stop still comes soon
    assert group_size(PRESETS["the tutorial, exactly"]) == 2
    assert group_size(PRESETS["classic tutorial"]) == 1  # a step of 2 x 300 over 100 characters is long alone
    assert group_size(Config(units=8, embedding=4, seq_len=8, batch_size=8)) == MAX_GROUP
    monkeypatch.setenv("CHARLSTM_STEPS_PER_EXECUTION", "3")
    assert group_size(Config()) == 3


def test_windows_shift_by_one():
    ids = np.arange(20, dtype=np.int32)
    x, y = windows(ids, 5, offset=2)
    assert x.shape == (3, 5) and (y == x + 1).all() and x[0, 0] == 2


def test_split_holds_out_the_end(tiny_text, tiny_config):
    s = split(tiny_text, tiny_config)
    n = len(tiny_text)
    assert len(s.train) == int(n * 0.9) and len(s.train) + len(s.val) == n
    assert s.vocab.decode(s.val) == tiny_text[int(n * 0.9):]


def test_split_refuses_short_text(tiny_config):
    with pytest.raises(CorpusError, match="needs at least"):
        split("too short", tiny_config)


def test_epoch_batches_are_whole_and_seeded(tiny_text, tiny_config):
    s = split(tiny_text, tiny_config)
    x1, y1 = epoch_batches(s.train, tiny_config, 0)
    x2, _ = epoch_batches(s.train, tiny_config, 0)
    x3, _ = epoch_batches(s.train, tiny_config, 1)
    assert len(x1) % tiny_config.batch_size == 0 and len(x1) // tiny_config.batch_size == steps_per_epoch(
        len(s.train), tiny_config)
    assert (x1 == x2).all() and not (x1 == x3).all()
    assert (y1[:, :-1] == x1[:, 1:]).all()  # every position's target is the next character


def test_run_key_depends_on_corpus_and_every_setting(tiny_config):
    k = run_key("abc", tiny_config)
    assert k == run_key("abc", tiny_config) and len(k) == 16
    assert k != run_key("abd", tiny_config)
    assert k != run_key("abc", tiny_config.replace(dropout=0.3))


def test_train_reports_progress_and_learns(tiny_corpus, tiny_config, group):
    seen = []
    cfg = tiny_config.replace(epochs=2)
    t = train(tiny_corpus, cfg, on_progress=seen.append)
    spe = steps_per_epoch(int(len(tiny_corpus.text) * 0.9), cfg)
    batches = [p for p in seen if p.phase == "training"]
    steps = reported(spe, group)
    assert [p.step for p in batches] == steps * 2  # one snapshot after every group of batches
    assert [p.epoch for p in batches] == [1] * len(steps) + [2] * len(steps)
    assert batches[-1].chars_per_sec > 0 and batches[-1].eta is not None
    assert seen[-1].phase == "done" and seen[-1].fraction == 1.0
    assert t.status == "complete" and t.epochs_done == 2
    assert len(t.history["val_loss"]) == 2 and len(t.history["train_loss"]) == 2
    assert t.history["val_loss"][1] < np.log(len(t.vocab))  # better than guessing uniformly
    assert t.history["train_loss"][1] < t.history["train_loss"][0]


def test_same_seed_same_first_epoch(tiny_corpus, tiny_config):
    a = train(tiny_corpus, tiny_config)
    b = train(tiny_corpus, tiny_config)
    assert a.history["train_loss"][0] == pytest.approx(b.history["train_loss"][0], abs=1e-6)
    assert a.history["val_loss"][0] == pytest.approx(b.history["val_loss"][0], abs=1e-6)
    c = train(tiny_corpus, tiny_config.replace(seed=99))
    assert c.history["val_loss"][0] != pytest.approx(a.history["val_loss"][0], abs=1e-6)


def test_cancel_before_first_epoch_keeps_nothing(tiny_corpus, tiny_config, group):
    calls = []

    def stop():
        calls.append(1)
        return len(calls) >= 3

    seen = []
    with pytest.raises(Cancelled):
        train(tiny_corpus, tiny_config.replace(epochs=3), on_progress=seen.append, should_stop=stop)
    training = [p for p in seen if p.phase == "training"]
    assert [p.step for p in training] == [group, 2 * group, 3 * group]  # stopped within one group of batches
    assert seen[-1].phase == "cancelled"


def test_cancel_mid_epoch_rolls_back_to_last_finished_epoch(tiny_corpus, tiny_config, group):
    one = train(tiny_corpus, tiny_config.replace(epochs=1))
    spe = steps_per_epoch(int(len(tiny_corpus.text) * 0.9), tiny_config)
    steps = []

    def stop():
        return bool(steps) and steps[-1].epoch == 2  # after the second epoch's first group of batches

    def count(p):
        if p.phase == "training":
            steps.append(p)

    t = train(tiny_corpus, tiny_config.replace(epochs=3), on_progress=count, should_stop=stop)
    assert t.status == "cancelled" and t.epochs_done == 1 and len(t.history["val_loss"]) == 1
    assert [(p.epoch, p.step) for p in steps[-2:]] == [(1, spe), (2, group)]
    # the kept weights are exactly those at the end of epoch 1 (same seed, same data order)
    for a, b in zip(t.model.get_weights(), one.model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert int(t.model.optimizer.iterations) == spe
    assert all(step <= spe for step, _ in t.history["curve"])


def test_resume_continues_with_optimizer_state(tiny_corpus, tiny_config, store):
    first = store.save(train(tiny_corpus, tiny_config.replace(epochs=1)), tiny_corpus)
    spe = steps_per_epoch(int(len(tiny_corpus.text) * 0.9), tiny_config)
    t = train(tiny_corpus, tiny_config.replace(epochs=3), resume=first)
    assert t.epochs_done == 3 and t.resumed_from == first.key
    assert len(t.history["val_loss"]) == 3 and t.history["val_loss"][0] == first.history["val_loss"][0]
    assert int(t.model.optimizer.iterations) == 3 * spe  # Adam's step count carried over
    with pytest.raises(ValueError, match="only the number of epochs"):
        train(tiny_corpus, tiny_config.replace(epochs=3, units=8), resume=first)
    with pytest.raises(ValueError, match="already has"):
        train(tiny_corpus, tiny_config.replace(epochs=1), resume=first)


def test_cancel_during_validation_keeps_the_last_finished_epoch(tiny_corpus, tiny_config, store):
    """Epoch 2 has trained but not been validated when the cancel comes: it does not count."""
    cfg = tiny_config.replace(val_fraction=0.3)  # several validation batches, so the stop lands inside evaluate
    one = train(tiny_corpus, cfg.replace(epochs=1))
    spe = steps_per_epoch(int(len(tiny_corpus.text) * 0.7), cfg)
    seen, stop = [], []

    def watch(p):
        seen.append(p)
        if p.phase == "validating" and p.epoch == 2:
            stop.append(p)

    t = train(tiny_corpus, cfg.replace(epochs=3), on_progress=watch, should_stop=lambda: bool(stop))
    assert len(stop) == 1, f"epoch 2 reported its validation {len(stop)} times, not once: {stop}"
    assert [p.step for p in seen if p.phase == "training" and p.epoch == 2][-1] == spe  # epoch 2 trained in full
    assert not any(p.epoch == 3 for p in seen) and seen[-1].phase == "cancelled"
    assert t.status == "cancelled" and t.epochs_done == 1
    assert len(t.history["val_loss"]) == len(t.history["train_loss"]) == len(t.history["epoch_seconds"]) == 1
    assert t.history["val_loss"] == pytest.approx(one.history["val_loss"], abs=1e-6)
    for a, b in zip(t.model.get_weights(), one.model.get_weights(), strict=True):  # rolled back to epoch 1
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert int(t.model.optimizer.iterations) == spe
    assert all(step <= spe for step, _ in t.history["curve"])
    run = store.save(t, tiny_corpus)
    assert (run.status, run.epochs_done, len(run.history["val_loss"])) == ("cancelled", 1, 1)


def test_a_cancelled_run_resubmitted_continues_from_its_last_epoch(tiny_corpus, tiny_config, store, group):
    """What the job manager does with a resubmitted cancelled run: train() resumes it under its own key."""
    cfg = tiny_config.replace(epochs=2)
    spe = steps_per_epoch(int(len(tiny_corpus.text) * 0.9), cfg)
    steps = []

    def count(p):
        if p.phase == "training":
            steps.append(p)

    cancelled = store.save(train(tiny_corpus, cfg, on_progress=count,
                                 should_stop=lambda: bool(steps) and steps[-1].epoch == 2), tiny_corpus)
    assert (cancelled.status, cancelled.epochs_done) == ("cancelled", 1)
    assert cancelled.key == run_key(tiny_corpus.sha256, cfg)  # the key of the full config: a resubmission finds it

    steps.clear()
    t = train(tiny_corpus, cfg, on_progress=count, resume=store.get(cancelled.key))
    assert [(p.epoch, p.step) for p in steps] == [(2, n) for n in reported(spe, group)]  # only the missing epoch
    run = store.save(t, tiny_corpus)
    assert run.key == cancelled.key and [r.key for r in store.list()] == [run.key]  # finished in place
    assert (run.status, run.epochs_done, run.meta["resumed_from"]) == ("complete", 2, cancelled.key)
    assert len(run.history["val_loss"]) == 2 and run.history["val_loss"][0] == cancelled.history["val_loss"][0]
    assert int(t.model.optimizer.iterations) == 2 * spe


def test_resume_on_a_different_corpus_is_refused(trained_run, tiny_corpus):
    with pytest.raises(ValueError, match="this run was trained on a different corpus"):
        train(tiny_corpus, trained_run.config.replace(epochs=3), resume=trained_run)


def test_resuming_a_deleted_run_says_so(trained_run, tmp_path):
    store = RunStore(tmp_path / "home")
    shutil.copytree(trained_run.path, store.path(trained_run.key))
    run = read_run(store.path(trained_run.key))
    corpus = RunStore(trained_run.path.parent.parent).load_corpus(run.meta["corpus_sha256"])
    assert corpus is not None
    store.delete(run.key)  # after it was read, before it is continued (another tab, the command line)
    with pytest.raises(StoreError, match=f"run {run.key} is no longer stored"):
        train(corpus, run.config.replace(epochs=3), resume=run)


def test_config_validation():
    with pytest.raises(ValueError, match="units"):
        Config(units=0)
    with pytest.raises(ValueError, match="dropout"):
        Config(dropout=1.0)
    with pytest.raises(ValueError, match="unknown config fields"):
        Config.from_dict({"units": 8, "colour": "red"})
    assert Config.from_dict(Config(units=8).to_dict()) == Config(units=8)
