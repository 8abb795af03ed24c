"""Edges of store.py that `make mutate` found untested (docs/mutation.md): where the home is, a malformed or
oddly named run, a store made on first use, key prefixes, replacing a run where no atomic exchange exists, and a
bundle exactly at its size cap."""

from __future__ import annotations

import json
import shutil

import pytest

from charlstm.runs import store as store_mod
from charlstm.runs.bundles import bundle_key
from charlstm.runs.store import RunStore, StoreError, default_home, read_run
from charlstm.serve.limits import Limits


def copy_run(run, store: RunStore, key: str | None = None):
    dst = store.ready() / (key or run.key)
    shutil.copytree(run.path, dst)
    return dst


def edit_json(path, change) -> None:
    path.write_text(json.dumps(change(json.loads(path.read_text(encoding="utf-8")))), encoding="utf-8")


def test_the_home_is_under_the_xdg_cache_or_else_the_users_own(monkeypatch, tmp_path):
    monkeypatch.delenv("CHARLSTM_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_home() == tmp_path / "xdg" / "charlstm"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    assert default_home() == tmp_path / "me" / ".cache" / "charlstm"


@pytest.mark.parametrize("damage", [
    ("meta.json", lambda meta: [meta]),  # not an object
    ("history.json", lambda history: [history]),
    ("meta.json", lambda meta: {k: v for k, v in meta.items() if k != "key"}),
])
def test_a_run_whose_meta_or_history_is_malformed_is_refused_in_words(tmp_path, trained_run, damage):
    folder = copy_run(trained_run, RunStore(tmp_path))
    edit_json(folder / damage[0], damage[1])
    with pytest.raises(StoreError, match="malformed"):
        read_run(folder)


def test_a_corpus_name_is_read_as_the_characters_it_is_and_a_run_may_have_none(tmp_path, trained_run):
    store = RunStore(tmp_path)
    folder = copy_run(trained_run, store)
    edit_json(folder / "meta.json", lambda meta: {**meta, "corpus_name": "evil\u202etxt.exe"})
    name = read_run(folder).meta["corpus_name"]
    assert "\u202e" not in name and name.startswith("evil") and name.endswith("txt.exe")
    edit_json(folder / "meta.json", lambda meta: {k: v for k, v in meta.items() if k != "corpus_name"})
    assert "corpus_name" not in read_run(folder).meta


def test_a_saved_run_keeps_the_probe_it_was_trained_with(trained_run):
    assert (trained_run.path / "probes.npz").is_file() and trained_run.probes() is not None


def test_a_store_made_on_first_use_is_made_once(tmp_path):
    made = []
    store = RunStore(tmp_path / "ws", create=False, on_create=lambda: made.append(1))
    assert not store.runs.exists()
    assert store.ready() == store.runs and store.runs.is_dir() and made == [1]
    store.ready()
    assert made == [1]  # the workspace's first use is recorded once


def test_a_key_prefix_finds_one_run_and_refuses_an_ambiguous_one(tmp_path, trained_run):
    store = RunStore(tmp_path)
    for key in ("abc0000000000001", "abc0000000000002"):
        copy_run(trained_run, store, key)
    assert store.find("abc0000000000001").path == store.path("abc0000000000001")
    with pytest.raises(StoreError, match="matches 2 runs"):
        store.find("abc")


def test_a_linux_libc_without_renameat2_says_no_exchange_happened_and_moves_nothing(tmp_path, monkeypatch):
    import ctypes

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "from-a").write_text("a")

    def no_libc(*_args, **_kwargs):
        raise OSError("no C library here")

    monkeypatch.setattr(store_mod.sys, "platform", "linux")
    monkeypatch.setattr(ctypes, "CDLL", no_libc)  # a musl or a sandbox: the caller must fall back to two renames
    assert store_mod._exchange(a, b) is False
    assert (a / "from-a").is_file() and not any(b.iterdir())


def test_a_run_is_replaced_whole_where_no_atomic_exchange_exists(tmp_path, trained_run, monkeypatch):
    monkeypatch.setattr(store_mod.sys, "platform", "darwin")  # no renameat2: the two-rename fallback
    store = RunStore(tmp_path)
    copy_run(trained_run, store)
    tmp = tmp_path / "next"
    shutil.copytree(trained_run.path, tmp)
    (tmp / "history.json").write_text(json.dumps({**trained_run.history, "marker": "the next epoch"}))
    store._install(tmp, trained_run.key)
    assert store.get(trained_run.key).history["marker"] == "the next epoch"
    assert [p.name for p in store.runs.iterdir()] == [trained_run.key]  # neither the old one nor tmp is left


def test_a_bundle_exactly_at_the_size_cap_is_taken_and_one_byte_more_is_not(trained_run, monkeypatch):
    data = RunStore(trained_run.path.parent.parent).export_bundle(trained_run.key)
    assert bundle_key(data, Limits(max_bundle_mb=len(data) / 1e6)) == trained_run.key
    with pytest.raises(StoreError, match="the limit is"):
        bundle_key(data, Limits(max_bundle_mb=(len(data) - 1) / 1e6))


def test_the_best_epoch_is_the_one_recorded_when_it_is_one_of_the_runs_epochs_else_the_last(trained_run):
    import dataclasses

    def best(**history):
        return dataclasses.replace(trained_run, history=history).best_epoch

    losses = [3.0, 2.0, 2.5]
    assert best(val_loss=losses, best_epoch=2) == 2 and best(val_loss=losses, best_epoch=1) == 1
    assert best(val_loss=losses) == 3  # a run stored before the best epoch was kept: its last
    assert best(val_loss=losses, best_epoch=0) == best(val_loss=losses, best_epoch=4) == 3
    assert best(val_loss=losses, best_epoch="2") == 3
    assert best(val_loss=[]) is None and best() is None


def test_a_corpus_goes_when_no_run_needs_it_unless_kept(tmp_path, trained_run, tiny_corpus):
    from charlstm.text.corpus import from_text

    store = RunStore(tmp_path)
    assert store.gc_corpora() == []  # nothing stored yet
    copy_run(trained_run, store)
    needed = trained_run.meta["corpus_sha256"]
    kept, unneeded = tiny_corpus, from_text("a text no run was trained on", "other.txt")
    for c in (kept, unneeded):
        store.save_corpus(c)
    (store.root / "corpora" / f"{needed}.txt").write_text("stands for the run's corpus")
    going = copy_run(trained_run, store, f".del-{trained_run.key}-0a1b2c3d")  # a run half way through its delete
    edit_json(going / "meta.json", lambda meta: {**meta, "corpus_sha256": unneeded.sha256})
    assert store.gc_corpora(keep=[kept.sha256]) == [unneeded.sha256]
    assert sorted(p.stem for p in (store.root / "corpora").glob("*.txt")) == sorted([needed, kept.sha256])


def test_a_runs_label_names_its_loss_or_its_lack_and_the_tutorials_windows(trained_run):
    import dataclasses

    label = trained_run.label
    assert f"val {trained_run.val_loss:.3f}" in label and "windows" not in label
    bare = dataclasses.replace(trained_run, history={},
                                config=trained_run.config.replace(formulation="window", embedding=1))
    assert "no val loss" in bare.label and " · the tutorial's windows" in bare.label


def test_the_listing_skips_a_save_in_progress_and_a_stray_file(tmp_path, trained_run):
    store = RunStore(tmp_path)
    copy_run(trained_run, store)
    shutil.copytree(trained_run.path, store.runs / f".tmp-{trained_run.key}-half")  # a save not yet in place
    (store.runs / "notes.txt").write_text("not a run")
    assert [r.key for r in store.list()] == [trained_run.key]
    later = copy_run(trained_run, store, "f" * 16)
    edit_json(later / "meta.json", lambda meta: {**meta, "key": "f" * 16, "created": "2099-01-01T00:00:00Z"})
    assert [r.key for r in store.list()] == ["f" * 16, trained_run.key]  # newest first


def test_a_runs_keras_model_comes_back_with_its_optimizer_state_to_continue_from(trained_run):
    model = trained_run.keras_model()
    assert model.optimizer is not None and int(model.optimizer.iterations) > 0
