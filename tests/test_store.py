"""The run store: round trip, atomic writes, listing, bundles and their validation."""

import io
import json
import zipfile

import numpy as np
import pytest

from charlstm.model.lstm_np import Stepper
from charlstm.runs import store as store_mod
from charlstm.runs.store import FILES, RunStore, StoreError, demo_run, read_run


def test_round_trip_same_predictions(trained_run):
    run = read_run(trained_run.path)  # fresh from disk
    assert run.key == trained_run.key and run.config == trained_run.config and run.vocab == trained_run.vocab
    ids = run.vocab.encode("The cat sat on the mat.")
    keras_logits = np.asarray(run.keras_model()(ids[None, :], training=False))[0, -1]
    np.testing.assert_allclose(Stepper(run.weights).feed(ids), keras_logits, atol=1e-5)
    meta = run.meta
    assert meta["corpus_name"] == "shared.txt" and meta["epochs_done"] == 2 and meta["status"] == "complete"
    assert len(meta["corpus_sha256"]) == 64 and meta["params"] > 0 and meta["train_seconds"] > 0


def test_cache_key_finds_the_same_run(trained_run):
    from charlstm.runs.store import run_key

    home = trained_run.path.parent.parent
    assert run_key(trained_run.meta["corpus_sha256"], trained_run.config) == trained_run.key
    assert RunStore(home).get(trained_run.key).key == trained_run.key


def test_crash_mid_save_leaves_nothing_that_loads(tiny_corpus, tiny_config, store, monkeypatch, trained_run):
    from charlstm.training.trainer import train

    t = train(tiny_corpus, tiny_config)

    def half_write(folder, *a, **k):
        (folder / "config.json").write_text("{}")
        raise OSError("disk full")

    monkeypatch.setattr(store_mod, "_write_run_files", half_write)
    with pytest.raises(OSError):
        store.save(t, tiny_corpus)
    assert store.list() == [] and list(store.runs.iterdir()) == []
    monkeypatch.undo()
    run = store.save(t, tiny_corpus)
    assert [r.key for r in store.list()] == [run.key]


def test_list_skips_broken_folders_without_deleting_them(store, trained_run):
    broken = store.runs / "0123456789abcdef"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    assert store.list() == []
    assert broken.exists()
    with pytest.raises(StoreError, match="missing"):
        read_run(broken)


def test_keys_are_checked(store):
    with pytest.raises(StoreError, match="not a run key"):
        store.get("../../etc")
    with pytest.raises(StoreError, match="no stored run"):
        store.find("ffff")


def test_export_import_round_trip(trained_run, tmp_path):
    src = RunStore(trained_run.path.parent.parent)
    data = src.export_bundle(trained_run.key)
    dst = RunStore(tmp_path / "other")
    run = dst.import_bundle(data)
    assert run.key == trained_run.key
    np.testing.assert_array_equal(run.weights.dense_w, trained_run.weights.dense_w)
    assert [r.key for r in dst.list()] == [trained_run.key]
    dst.delete(run.key)
    assert dst.list() == []


def _bundle(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def _files(run) -> dict[str, bytes]:
    return {f: (run.path / f).read_bytes() for f in FILES}


def test_import_rejects_bad_bundles(trained_run, store):
    with pytest.raises(StoreError, match="not a zip"):
        store.import_bundle(b"just some text")
    files = _files(trained_run)
    with pytest.raises(StoreError, match="exactly"):
        store.import_bundle(_bundle({k: v for k, v in files.items() if k != "vocab.json"}))
    with pytest.raises(StoreError, match="exactly"):
        store.import_bundle(_bundle(files | {"../evil.py": b"print(1)"}))
    # a config that does not match the weights: the architecture check refuses it. The key is made to match
    # the new config, so that the key check (which runs later) cannot be what refuses the bundle.
    from charlstm.config import Config
    from charlstm.runs.store import run_key

    cfg = json.loads(files["config.json"])
    cfg["units"] = 99
    meta = json.loads(files["meta.json"])
    meta["key"] = run_key(meta["corpus_sha256"], Config.from_dict(cfg))
    with pytest.raises(StoreError, match="layer lstm_0 does not match the run's config"):
        store.import_bundle(_bundle(files | {"config.json": json.dumps(cfg).encode(),
                                             "meta.json": json.dumps(meta).encode()}))
    # a damaged model file
    with pytest.raises(StoreError, match="cannot be loaded"):
        store.import_bundle(_bundle(files | {"model.keras": b"garbage"}))
    # a key that does not belong to its corpus and config
    meta = json.loads(files["meta.json"])
    meta["key"] = "0" * 16
    with pytest.raises(StoreError, match="key does not match"):
        store.import_bundle(_bundle(files | {"meta.json": json.dumps(meta).encode()}))
    assert store.list() == []  # nothing half-imported


def test_import_refuses_oversized_bundle(store, monkeypatch):
    monkeypatch.setenv("CHARLSTM_MAX_BUNDLE_MB", "0.00001")  # 10 bytes, from the environment like every cap
    with pytest.raises(StoreError, match="the bundle is 11 bytes; the limit is 10 bytes"):
        store.import_bundle(b"x" * 11)


def test_safe_mode_refuses_a_lambda_layer(trained_run, store, tmp_path):
    """A bundle whose model.keras carries arbitrary code (a Lambda) must not load."""
    import keras

    inp = keras.Input((None,), dtype="int32", name="ids")
    out = keras.layers.Lambda(lambda x: x * 2, name="embedding")(inp)
    evil = keras.Model(inp, out)
    path = tmp_path / "evil.keras"
    evil.save(path)
    files = _files(trained_run) | {"model.keras": path.read_bytes()}
    # refused by safe_mode while loading, not later by the architecture check (which would also refuse it)
    with pytest.raises(StoreError, match=r"cannot be loaded safely \(ValueError: .*`Lambda` layer.*arbitrary code"):
        store.import_bundle(_bundle(files))
    assert store.list() == []


def test_the_shipped_demo_run_loads_without_tensorflow_work():
    run = demo_run()
    assert run.status == "complete" and run.val_loss is not None
    assert run.weights.vocab_size == len(run.vocab) == 65
    assert len(run.weights.layers) == run.config.layers


def test_home_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CHARLSTM_HOME", str(tmp_path / "h"))
    assert RunStore().runs == tmp_path / "h" / "runs"


def test_corpus_kept_by_hash(store, tiny_corpus):
    store.save_corpus(tiny_corpus)
    back = store.load_corpus(tiny_corpus.sha256)
    assert back.text == tiny_corpus.text and back.sha256 == tiny_corpus.sha256
    assert store.load_corpus("0" * 64) is None


def test_replacing_a_run_is_one_step_a_reader_sees_the_old_or_the_new_never_a_torn_one(tmp_path, trained_run):
    """A new epoch's checkpoint replaces the run folder (store._install); readers meanwhile (a page loading its
    weights) must find weights.npz whole, old or new, never missing or half-written."""
    import shutil
    import threading

    from charlstm.model.lstm_np import Weights

    store = RunStore(tmp_path / "home")
    key = trained_run.key
    shutil.copytree(trained_run.path, store.path(key))
    old = (store.path(key) / "weights.npz").read_bytes()
    w = Weights.from_bytes(old)
    new = Weights(w.embedding * 0.5, w.layers, w.dense_w, w.dense_b).to_bytes()  # another epoch's weights
    seen, problems, done = set(), [], threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                data = (store.path(key) / "weights.npz").read_bytes()
            except OSError as e:
                problems.append(f"missing: {e}")
                continue
            if data not in (old, new):
                problems.append(f"torn: {len(data)} bytes")
            seen.add(data == new)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(200):
            tmp = tmp_path / f"next-{i}"
            shutil.copytree(store.path(key), tmp)
            (tmp / "weights.npz").write_bytes(new if i % 2 == 0 else old)
            store._install(tmp, key)
    finally:
        done.set()
        reader.join(timeout=60)
    assert not problems, problems[:5]
    assert seen == {True, False}  # the reader really saw both versions
    assert not [p for p in store.runs.iterdir() if p.name.startswith(".")]  # nothing left behind
