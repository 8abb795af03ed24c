"""Private workspaces in the library: tokens, what each visitor sees, imports, the disk quota, the cap and expiry.

Eviction and expiry run on a fake clock with caps of a few hundred kB; the runs are copies of one
really trained tiny run, so every folder is a real run folder.
"""

from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pytest
from conftest import require

from charlstm.runs.store import RunStore, StoreError
from charlstm.serve import settings as settings_mod
from charlstm.serve import workspace as ws_mod
from charlstm.serve.settings import ServerSettings, settings_from
from charlstm.serve.workspace import Workspaces, load_secret, valid_token, workspace_id
from charlstm.text.corpus import from_text


class Clock:
    def __init__(self, t: float = 1_800_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def put(store: RunStore, run, key: str | None = None):
    """Copy a stored run into store (under another key when given: eviction only looks at folders)."""
    dst = store.ready() / (key or run.key)
    shutil.copytree(run.path, dst)
    if key:
        meta = json.loads((dst / "meta.json").read_text())
        meta["key"] = key
        (dst / "meta.json").write_text(json.dumps(meta))
    return dst


def test_tokens_are_long_random_signed_and_never_on_disk(tmp_path):
    spaces = Workspaces(tmp_path, ServerSettings())
    tokens = {spaces.new_token() for _ in range(50)}
    assert len(tokens) == 50 and all(valid_token(t) and spaces.issued(t) and len(t) == 44 for t in tokens)
    for bad in ("", "abc", "../../etc/passwd", "x" * 200, None, 12, "a b" * 20, "<script>" * 5):
        assert not valid_token(bad) and not spaces.issued(bad)
    t = next(iter(tokens))
    spaces.store(t).save_corpus(from_text("Hello there. " * 20, "x.txt"))  # something stored: now the folder exists
    (folder,) = (tmp_path / "workspaces").iterdir()
    assert folder.name == workspace_id(t) and t not in folder.name and t[:8] not in folder.name
    assert t not in (tmp_path / "secret").read_text()
    with pytest.raises(StoreError, match="not a workspace token"):
        spaces.store("../x")


def test_a_token_the_server_never_issued_opens_no_workspace(tmp_path):
    spaces = Workspaces(tmp_path / "home", ServerSettings())
    mine = spaces.new_token()
    forged = ["-" * 64, "-" * 44, mine[:22] + "A" * 22, mine[:-1] + ("A" if mine[-1] != "A" else "B"),
              Workspaces(tmp_path / "elsewhere", ServerSettings()).new_token()]  # another server's: valid-looking
    for token in forged:
        assert not spaces.issued(token), token
        assert not spaces.exists(token)
        with pytest.raises(StoreError, match="not a workspace token this server issued"):
            spaces.store(token)
    assert spaces.issued(mine)
    # the secret outlives a restart (the same home), and CHARLSTM_SECRET, when set, is the key instead
    assert Workspaces(tmp_path / "home", ServerSettings()).issued(mine)
    assert not Workspaces(tmp_path / "home", ServerSettings(secret="s" * 40)).issued(mine)
    assert settings_from({"CHARLSTM_SECRET": "k" * 40}).secret == "k" * 40
    assert "k" * 40 not in repr(settings_from({"CHARLSTM_SECRET": "k" * 40}))  # never in a log or a cache key
    assert oct((tmp_path / "home" / "secret").stat().st_mode & 0o777) == "0o600"


def test_two_processes_starting_at_once_agree_on_one_secret(tmp_path):
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        secrets_seen = set(pool.map(lambda _: load_secret(tmp_path / "home"), range(16)))
    assert len(secrets_seen) == 1 and len(next(iter(secrets_seen))) == 64
    assert [p.name for p in (tmp_path / "home").iterdir()] == ["secret"]  # no temporary file left behind


def test_a_workspace_folder_is_made_only_when_something_is_stored(tmp_path, trained_run):
    spaces = Workspaces(tmp_path, ServerSettings())
    for _ in range(3):  # three visitors who look and store nothing
        t = spaces.new_token()
        shelf = spaces.shelf(t)
        assert shelf.list() == [] and shelf.get(trained_run.key) is None and not spaces.exists(t)
    assert not (tmp_path / "workspaces").exists() or list((tmp_path / "workspaces").iterdir()) == []
    t = spaces.new_token()
    put(spaces.store(t), trained_run)
    assert [p.name for p in (tmp_path / "workspaces").iterdir()] == [workspace_id(t)]
    assert [r.key for r in spaces.shelf(t).list()] == [trained_run.key]


def test_settings_have_one_name_each_and_bad_values_say_which():
    s = settings_from({})
    assert s.mode == "public" and s.public and s.max_queue == 8 and s.max_train_minutes == 20
    assert s.workspace_ttl_hours == 24
    assert settings_from({"CHARLSTM_MODE": "personal"}).mode == "personal"
    assert settings_from({"CHARLSTM_MODE": "personal"}, {"CHARLSTM_MODE": "public"}).mode == "public"  # secrets win
    assert settings_from({}, {"max_queue": 3}).max_queue == 3
    with pytest.raises(ValueError, match="CHARLSTM_MODE"):
        settings_from({"CHARLSTM_MODE": "open"})
    with pytest.raises(ValueError, match="CHARLSTM_MAX_QUEUE"):
        settings_from({"CHARLSTM_MAX_QUEUE": "many"})


def test_a_workspace_sees_its_own_runs_and_the_shared_ones_only(tmp_path, trained_run):
    spaces = Workspaces(tmp_path, ServerSettings(), builtin_sha="f" * 64)
    a, b = spaces.new_token(), spaces.new_token()
    put(spaces.store(a), trained_run)
    key = trained_run.key
    A, B = spaces.shelf(a), spaces.shelf(b)
    assert [r.key for r in A.list()] == [key] and A.owns(key)
    # B cannot list, open, export, delete or continue-from (store_of) it
    assert B.list() == [] and B.get(key) is None and not B.owns(key)
    for act in (B.export_bundle, B.delete, B.store_of):
        with pytest.raises(StoreError, match="no stored run"):
            act(key)
    assert A.get(key) is not None  # still there
    # keys from a browser are junk-proof
    assert B.get("../../etc") is None and B.get("zz") is None
    # personal mode sees everything in home, the workspaces' runs not included (they are private to a token)
    put(spaces.shared, trained_run)
    personal = Workspaces(tmp_path, ServerSettings(mode="personal")).shelf(a)
    assert personal.personal and [r.key for r in personal.list()] == [key] and personal.owns(key)


def test_shared_runs_are_only_those_on_the_builtin_corpus_and_read_only(tmp_path, trained_run):
    corpus_sha = trained_run.meta["corpus_sha256"]
    other = Workspaces(tmp_path / "x", ServerSettings(), builtin_sha="0" * 64)
    put(other.shared, trained_run)  # e.g. a command-line run on someone's own text
    assert other.shelf(other.new_token()).list() == []
    spaces = Workspaces(tmp_path / "y", ServerSettings(), builtin_sha=corpus_sha)
    put(spaces.shared, trained_run)
    for token in (spaces.new_token(), spaces.new_token()):
        shelf = spaces.shelf(token)
        assert [r.key for r in shelf.list()] == [trained_run.key] and not shelf.owns(trained_run.key)
        with pytest.raises(StoreError, match="shared by every visitor"):
            shelf.delete(trained_run.key)
        assert shelf.export_bundle(trained_run.key)[:2] == b"PK"
        assert shelf.store_of(trained_run.key).root == spaces.shared.root
    assert spaces.shared.get(trained_run.key) is not None


def test_an_import_never_replaces_a_run(tmp_path, trained_run):
    """A forged bundle that claims a stored run's key (same corpus hash and config, other weights) is refused."""
    import io
    import zipfile

    from charlstm.runs.bundles import bundle_key
    from charlstm.runs.store import StoreError

    store = RunStore(tmp_path / "w")
    data = RunStore(trained_run.path.parents[1]).export_bundle(trained_run.key)
    assert bundle_key(data) == trained_run.key
    with pytest.raises(StoreError, match="not a zip archive"):
        bundle_key(b"junk")
    run = store.import_bundle(data)
    before = (run.path / "weights.npz").read_bytes()
    # forge: the same files, but the Keras model's weights changed (what a hostile visitor would do)
    import keras

    model = run.keras_model()
    model.get_layer("logits").set_weights([w * 0 + 1 for w in model.get_layer("logits").get_weights()])
    forged_path = tmp_path / "forged.keras"
    model.save(forged_path)
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w") as z:
        for name in src.namelist():
            z.writestr(name, forged_path.read_bytes() if name == "model.keras" else src.read(name))
    with pytest.raises(StoreError, match="already stored here; an import never replaces a run"):
        store.import_bundle(buf.getvalue())
    assert (run.path / "weights.npz").read_bytes() == before
    assert [r.key for r in store.list()] == [run.key]
    assert keras  # used


def test_a_corpus_goes_with_the_last_run_that_needs_it(tmp_path, trained_run, tiny_corpus):
    store = RunStore(tmp_path / "w")
    sha = trained_run.meta["corpus_sha256"]
    (store.root / "corpora").mkdir()
    shutil.copy(trained_run.path.parents[1] / "corpora" / f"{sha}.txt", store.root / "corpora" / f"{sha}.txt")
    store.save_corpus(tiny_corpus)  # a corpus no run needs (a training that kept nothing)
    put(store, trained_run)
    put(store, trained_run, key="a" * 16)
    store.delete("a" * 16)
    assert store.load_corpus(sha) is not None  # the other run still needs it
    assert store.load_corpus(tiny_corpus.sha256) is None  # nobody needs it: gone with the first delete
    store.save_corpus(tiny_corpus)
    store.delete(trained_run.key, keep_corpora={tiny_corpus.sha256})  # a job in flight needs this one
    assert store.load_corpus(sha) is None and store.load_corpus(tiny_corpus.sha256) is not None
    # a sweep removes what no run and no job needs (a training that was cancelled before it kept anything)
    spaces = Workspaces(tmp_path / "home", ServerSettings())
    own = spaces.store(spaces.new_token())
    own.save_corpus(tiny_corpus)
    spaces.enforce(keep_corpora={tiny_corpus.sha256})
    assert own.load_corpus(tiny_corpus.sha256) is not None  # a job in flight needs it
    spaces.enforce()
    assert own.load_corpus(tiny_corpus.sha256) is None


def test_an_idle_workspace_expires_with_its_runs_and_corpora(tmp_path, trained_run):
    clock = Clock()
    spaces = Workspaces(tmp_path, ServerSettings(workspace_ttl_hours=24), clock=clock)
    old, busy, fresh = spaces.new_token(), spaces.new_token(), spaces.new_token()
    for t in (old, busy, fresh):
        put(spaces.store(t), trained_run)
    clock.t += 23 * 3600
    spaces.store(fresh)  # used an hour before the others expire
    assert spaces.expire() == []
    clock.t += 2 * 3600  # 25 h after the first use
    busy_run = (spaces.path(busy) / "runs" / trained_run.key).resolve()
    gone = spaces.expire(busy=[busy_run])
    assert gone == [spaces.path(old)] and not spaces.path(old).exists()
    assert spaces.exists(busy) and spaces.exists(fresh)  # in use by a job; used recently
    assert spaces.shelf(old).list() == []  # coming back with an expired token: a fresh, empty workspace


def test_the_quota_evicts_least_recently_used_runs_but_never_a_busy_a_read_or_a_recent_one(tmp_path, trained_run):
    clock = Clock()
    size = ws_mod.size_of(trained_run.path)
    spaces = Workspaces(tmp_path, ServerSettings(workspace_mb=3.5 * size / 1e6, store_mb=1000), clock=clock)
    t = spaces.new_token()
    store = spaces.store(t)
    keys = [f"{i:016x}" for i in range(1, 7)]
    for k in keys:
        clock.t += 60
        ws_mod.touch(put(store, trained_run, key=k), clock, force=True)
    clock.t += 2 * 3600  # two hours on: all six are fair game but for what protects them now
    ws_mod.touch(store.runs / keys[0], clock, force=True)  # the oldest was used again just now: recent
    busy = (store.runs / keys[1]).resolve()  # being trained or continued
    with ws_mod.reading(store.runs / keys[2]):  # being read (a download, a model load)
        evicted = spaces.enforce(busy=[busy])
    assert [p.name for p in evicted] == keys[3:6]  # least recently used first, until within the quota
    assert {p.name for p in store.runs.iterdir()} == {keys[0], keys[1], keys[2]}
    assert ws_mod.size_of(store.root) <= 3.5 * size
    # within the hour, nothing is evicted, whatever the quota: the visitor was told it is there
    fresh = [f"{i:016x}" for i in range(7, 11)]
    for k in fresh:
        clock.t += 60
        ws_mod.touch(put(store, trained_run, key=k), clock, force=True)
    evicted = spaces.enforce()  # keys 2 and 3 are no longer busy or read, and two hours old
    assert {p.name for p in evicted} == {keys[1], keys[2]}
    assert {p.name for p in store.runs.iterdir()} == {keys[0], *fresh} and ws_mod.size_of(store.root) > 3.5 * size


def test_the_total_cap_evicts_the_least_recently_used_shared_or_private(tmp_path, trained_run):
    clock = Clock()
    size = ws_mod.size_of(trained_run.path)
    # a cap of one and a half runs: the two runs of the last hour are over it, so their protection is what keeps them
    spaces = Workspaces(tmp_path, ServerSettings(workspace_mb=1000, store_mb=1.5 * size / 1e6), clock=clock)
    private = []
    for i in range(2):
        clock.t += 60
        private.append(put(spaces.store(spaces.new_token()), trained_run, key=f"{i + 1:016x}"))
        ws_mod.touch(private[-1], clock, force=True)
    clock.t += 60
    shared = put(spaces.shared, trained_run, key="5" * 16)
    ws_mod.touch(shared, clock, force=True)  # the shared cache's run is the most recently used of all
    clock.t += 60
    newest = put(spaces.store(spaces.new_token()), trained_run, key="6" * 16)
    ws_mod.touch(newest, clock, force=True)
    clock.t += 3600 - 90  # the newest private run was made 30 s under an hour ago; the others are older
    evicted = spaces.enforce()
    assert evicted == [private[0], private[1]]  # the least recently used first: the two older private runs
    assert shared.is_dir() and newest.is_dir() and ws_mod.size_of(tmp_path) > 1.5 * size
    # the shared cache competes on equal terms: once it is the least recently used, it goes first
    clock.t += 2 * 3600
    ws_mod.touch(newest, clock, force=True)
    extra = put(spaces.store(spaces.new_token()), trained_run, key="7" * 16)
    ws_mod.touch(extra, clock, force=True)
    assert spaces.enforce() == [shared]


def test_a_new_training_is_refused_before_it_starts_when_only_protected_runs_fill_the_quota(tmp_path, trained_run):
    clock = Clock()
    size = ws_mod.size_of(trained_run.path)
    spaces = Workspaces(tmp_path, ServerSettings(workspace_mb=1.5 * size / 1e6, store_mb=1000), clock=clock)
    t = spaces.new_token()
    assert spaces.refusal(t, need=size) is None  # an empty workspace has room
    ws_mod.touch(put(spaces.store(t), trained_run), clock, force=True)
    said = spaces.refusal(t, need=size)  # the run just made is protected for an hour: no room for another
    assert said is not None and said.startswith(f"your workspace holds {size / 1e6:,.1f} MB that cannot be freed")
    assert f"this run needs about {size / 1e6:,.1f} MB; the limit is" in said
    clock.t += 3601  # an hour on, it may go to make room
    assert spaces.refusal(t, need=size) is None
    used, quota, victim = spaces.usage(t)
    assert used == ws_mod.size_of(spaces.path(t)) and quota == int(1.5 * size) and victim.name == trained_run.key
    assert spaces.refusal(t, need=2 * size) is not None  # bigger than the whole quota: never
    assert Workspaces(tmp_path, ServerSettings(mode="personal", workspace_mb=0.001)).refusal(None, 10**9) is None


def aged(folder, hours: float = 2.0):
    """Mark a run as last used `hours` ago (real clock): past RECENT_S, so eviction may take it."""
    import time

    ws_mod.touch(folder, lambda: time.time() - hours * 3600, force=True)
    return folder


@pytest.mark.slow
def test_after_each_job_the_sweep_keeps_the_new_run_and_evicts_the_aged_ones(tmp_path, tiny_corpus, tiny_config):
    """The after-job clean-up as the app wires it (pages/common/resources.py), on the real clock: three trainings in
    a row, the earlier runs aged past the hour before each. Each run over half the quota: after each job the new
    run is kept and loads, the aged one went. Then each over the whole quota: the next training is refused before
    it starts, naming the figures; one that trains anyway is kept (the sweep leaves it however far over the quota),
    and so is a run a visitor is told was "loaded from cache"."""
    import queue

    from charlstm.serve.jobs import JobManager

    spaces = Workspaces(tmp_path / "home", ServerSettings(workspace_mb=1000, store_mb=1000))
    t = spaces.new_token()
    store = spaces.store(t)
    swept = queue.Queue()  # the key of each job whose after-job sweep has run

    def after_job(view):
        spaces.sweep(*m.busy(), force=True)
        swept.put(view.key)

    m = JobManager(spaces.shared, grace=60, after_job=after_job)

    def train(seed: int) -> str:
        job, how = m.submit(tiny_corpus, tiny_config.replace(seed=seed), store=store, owner="a")
        assert how == "started", how
        done = m.wait(job.id, timeout=240)
        assert done.status == "done", done.message
        assert swept.get(timeout=60) == done.key, "the after-job sweep did not run"
        run = store.get(done.key)
        assert run is not None and run.weights.layers, f"the run just finished, {done.key[:8]}, is gone"  # usable
        return done.key

    try:
        first = train(1)
        one = ws_mod.size_of(store.runs / first)
        spaces.settings = ServerSettings(workspace_mb=1.6 * one / 1e6, store_mb=1000)  # each run over half of it
        aged(store.runs / first)
        assert spaces.refusal(t, need=one) is None  # the aged run can go to make room
        second = train(2)
        assert [r.key for r in store.list()] == [second]  # the aged one went, the new one stayed
        # each run over the whole quota: refused before it starts, with the figures
        spaces.settings = ServerSettings(workspace_mb=0.8 * one / 1e6, store_mb=1000)
        said = spaces.refusal(t, need=one)
        assert said is not None and f"this run needs about {one / 1e6:,.1f} MB; the limit is " \
            f"{0.8 * one / 1e6:,.0f} MB" in said, said
        aged(store.runs / second)
        third = train(3)  # trained anyway (an estimate under the truth): kept, though the workspace stays over quota
        assert [r.key for r in store.list()] == [third] and ws_mod.size_of(store.root) > 0.8 * one
        said = spaces.refusal(t, need=one)
        assert said.startswith(f"your workspace holds {ws_mod.size_of(store.root) / 1e6:,.1f} MB that cannot be"), said
        # the same settings again, an hour and more later: "loaded from cache" about a run no sweep takes then
        aged(store.runs / third)
        job, how = m.submit(tiny_corpus, tiny_config.replace(seed=3), store=store, owner="a")
        assert how == "cached" and job.key == third, how
        spaces.sweep(*m.busy(), force=True)
        assert store.get(third) is not None, "a run the visitor was just told was loaded from cache was evicted"
    finally:
        m.close()


def test_the_shared_cache_filling_the_store_cap_never_evicts_a_visitors_new_run(tmp_path, trained_run):
    """Visitors trained the built-in corpus until the shared cache fills the store's cap: a visitor's own new run is
    kept, the shared cache's aged runs go first, and once only runs of the last hour are left the cap stays
    exceeded and the next training is refused before it starts, naming the store's figures."""
    size = ws_mod.size_of(trained_run.path)
    spaces = Workspaces(tmp_path, ServerSettings(workspace_mb=1000, store_mb=2.5 * size / 1e6))
    cache = [put(spaces.shared, trained_run, key=f"{i:016x}") for i in range(1, 4)]
    aged(cache[0], hours=3)
    aged(cache[1])
    ws_mod.touch(cache[2], force=True)  # used just now by some visitor
    a, b = spaces.new_token(), spaces.new_token()
    mine = ws_mod.touch(put(spaces.store(a), trained_run), force=True) or spaces.store(a).runs / trained_run.key
    assert spaces.enforce() == [cache[0], cache[1]]  # the aged shared runs, least recently used first
    assert mine.is_dir() and cache[2].is_dir()
    theirs = put(spaces.store(b), trained_run)
    ws_mod.touch(theirs, force=True)
    assert spaces.enforce() == [] and ws_mod.size_of(tmp_path) > 2.5 * size  # over the cap: every run is recent
    said = spaces.refusal(b, need=size)
    assert said is not None and said.startswith("this server's store holds"), said


def test_a_half_written_run_is_never_listed_and_goes_once_it_is_stale(tmp_path, trained_run):
    """What a save, a replacement or a delete killed half-way left (a worker and its server killed at once): never
    a run, and swept once older than any live save could be, so it does not hold the quota for ever."""
    spaces = Workspaces(tmp_path, ServerSettings())
    store = spaces.store(spaces.new_token())
    put(store, trained_run)
    stale = [shutil.copytree(trained_run.path, store.runs / f"{prefix}{trained_run.key}-0a1b2c3d")
             for prefix in (".tmp-", ".old-", ".del-")]
    live = shutil.copytree(trained_run.path, store.runs / f".tmp-{'b' * 16}-4e5f6a7b")  # a worker saving now
    ws_mod.touch(live, force=True)
    for p in stale:
        aged(p)
    assert [r.key for r in store.list()] == [trained_run.key]  # half-written folders are never runs
    assert spaces.enforce() == []  # nothing evicted: within the quota
    assert sorted(p.name for p in store.runs.iterdir()) == sorted([trained_run.key, live.name])


def test_sweep_runs_at_most_once_a_minute(tmp_path):
    clock = Clock()
    spaces = Workspaces(tmp_path, ServerSettings(), clock=clock)
    assert spaces.sweep() and not spaces.sweep()
    clock.t += 61
    assert spaces.sweep()


def test_training_leaves_the_global_random_state_alone_and_is_reproducible(tiny_corpus, tiny_config):
    """No keras.utils.set_random_seed: another session's `random` and numpy draws are not reseeded by a training."""
    require("keras")
    from charlstm.model.lstm_np import Weights
    from charlstm.training.trainer import train

    random.seed(1234)
    np.random.seed(1234)
    py_before, np_before = random.getstate(), np.random.get_state()
    config = tiny_config.replace(layers=1, units=8, epochs=1)
    first = Weights.from_keras(train(tiny_corpus, config).model)
    assert random.getstate() == py_before
    after = np.random.get_state()
    assert after[0] == np_before[0] and np.array_equal(after[1], np_before[1]) and after[2:] == np_before[2:]
    second = Weights.from_keras(train(tiny_corpus, config).model)
    np.testing.assert_array_equal(first.dense_w, second.dense_w)  # the layers' own seeds: the same weights
    np.testing.assert_array_equal(first.layers[0].kernel, second.layers[0].kernel)


def test_the_command_line_is_public_only_when_told_and_an_import_never_lands_on_a_visible_run(tmp_path, trained_run):
    import dataclasses

    assert settings_mod.public_here({"CHARLSTM_MODE": " Public "}) and not settings_mod.public_here({})
    assert not settings_mod.public_here({"CHARLSTM_MODE": "personal"})
    spaces = Workspaces(tmp_path, ServerSettings())
    t = spaces.new_token()
    shelf = spaces.shelf(t)
    assert shelf.import_refusal(trained_run.key) is None  # nothing of that key here yet
    put(spaces.store(t), trained_run)
    assert spaces.shelf(t).import_refusal(trained_run.key).startswith(f"run {trained_run.key[:8]} is already stored")
    with pytest.raises(dataclasses.FrozenInstanceError):  # one settings object is shared by every session
        spaces.settings.workspace_mb = 10**9


def test_last_used_is_written_at_most_once_a_minute_unless_forced(tmp_path):
    clock = Clock()
    folder = tmp_path / "run"
    folder.mkdir()
    ws_mod.touch(folder, clock)
    first = ws_mod.last_used(folder)
    assert first == clock.t
    clock.t += 30
    ws_mod.touch(folder, clock)  # within the minute: not written again
    assert ws_mod.last_used(folder) == first
    ws_mod.touch(folder, clock, force=True)
    assert ws_mod.last_used(folder) == clock.t
    clock.t += 61
    ws_mod.touch(folder, clock)
    assert ws_mod.last_used(folder) == clock.t
    clock.t -= 3600  # a clock that went back (a restored machine): the future mtime is corrected
    ws_mod.touch(folder, clock)
    assert ws_mod.last_used(folder) == clock.t


def test_expiry_leaves_what_is_not_a_workspace_alone_and_the_builtin_corpus_trains_into_the_shared_cache(
        tmp_path, tiny_corpus):
    clock = Clock()
    spaces = Workspaces(tmp_path, ServerSettings(workspace_ttl_hours=1), builtin_sha=tiny_corpus.sha256, clock=clock)
    t = spaces.new_token()
    spaces.store(t).save_corpus(tiny_corpus)
    (spaces.root / "stray.txt").write_text("not a workspace")
    (spaces.root / ".del-half-removed").mkdir()
    clock.t += 2 * 3600
    assert spaces.expire() == [spaces.path(t)]
    assert (spaces.root / "stray.txt").is_file() and (spaces.root / ".del-half-removed").is_dir()
    shelf = spaces.shelf(spaces.new_token())
    assert shelf.store_for(tiny_corpus).root == spaces.shared.root  # the built-in corpus: the shared cache
    other = Workspaces(tmp_path, ServerSettings(), builtin_sha="0" * 64).shelf(spaces.new_token())
    assert other.store_for(tiny_corpus).root == other.own.root  # any other text: the visitor's own workspace


def test_a_shelf_lists_newest_first_refuses_junk_keys_and_fits_a_run_to_the_byte(tmp_path, trained_run):
    clock = Clock()
    size = ws_mod.size_of(trained_run.path)
    spaces = Workspaces(tmp_path / "deep" / "er" / "home", ServerSettings(workspace_mb=2 * size / 1e6,
                                                                          store_mb=1000), clock=clock)
    t = spaces.new_token()  # the secret was made under a home whose parents did not exist yet
    store = spaces.store(t)
    for i, created in enumerate(("2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z")):
        run = put(store, trained_run, key=f"{i + 1:016x}")
        meta = json.loads((run / "meta.json").read_text())
        (run / "meta.json").write_text(json.dumps({**meta, "created": created}))
        ws_mod.touch(run, clock, force=True)
    shelf = spaces.shelf(t)
    assert [r.key for r in shelf.list()] == ["0000000000000002", "0000000000000001"]  # newest first
    assert not shelf.owns("../../etc") and shelf.owns("0000000000000001")
    used = ws_mod.size_of(spaces.path(t))
    quota = int(2 * size)
    assert spaces.refusal(t, need=quota - used) is None  # exactly fills the quota: allowed
    assert spaces.refusal(t, need=quota - used + 1) is not None
