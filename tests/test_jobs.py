"""The background job manager: one training at a time, queue, cache, join, cancel."""

import pytest

from charlstm.jobs import JobManager


@pytest.fixture
def manager(store):
    m = JobManager(store)
    yield m
    m.close()


def test_train_then_cache_hit(manager, tiny_corpus, tiny_config, store):
    job, how = manager.submit(tiny_corpus, tiny_config)
    assert how == "started"
    done = manager.wait(job.id, timeout=120)
    assert done.status == "done", done.message
    assert done.progress.phase == "done" and len(done.curve) > 0 and len(done.val_curve) == 1
    run = store.get(done.key)
    assert run is not None and run.status == "complete"
    assert store.load_corpus(tiny_corpus.sha256) is not None  # kept so the run can be resumed
    again, how = manager.submit(tiny_corpus, tiny_config)
    assert how == "cached" and again.status == "cached" and again.key == done.key


def test_queue_join_and_cancel(manager, tiny_corpus, tiny_config):
    a, how_a = manager.submit(tiny_corpus, tiny_config.replace(epochs=50))
    assert how_a == "started"
    for _ in range(600):  # wait until a is really training
        v = manager.get(a.id)
        if v.progress is not None and v.progress.step >= 1:
            break
        manager.wait(a.id, timeout=0.1)
    assert manager.current().id == a.id
    b, how_b = manager.submit(tiny_corpus, tiny_config.replace(seed=11))
    c, how_c = manager.submit(tiny_corpus, tiny_config.replace(seed=12))
    assert how_b == how_c == "queued"
    assert manager.position(b.id) == 1 and manager.position(c.id) == 2 and manager.position(a.id) is None
    joined, how = manager.submit(tiny_corpus, tiny_config.replace(seed=11))
    assert how == "joined" and joined.id == b.id
    manager.cancel(b.id)
    assert manager.get(b.id).status == "cancelled" and manager.position(c.id) == 1
    manager.cancel(c.id)
    manager.cancel(a.id)  # stops within a batch
    end = manager.wait(a.id, timeout=60)
    assert end.status == "cancelled"
    assert end.progress.epoch < 50


def test_resume_needs_more_epochs(manager, tiny_corpus, tiny_config, store):
    job, _ = manager.submit(tiny_corpus, tiny_config)
    manager.wait(job.id, timeout=120)
    more, how = manager.resume(job.key, 1)
    assert how in ("started", "queued")
    end = manager.wait(more.id, timeout=120)
    assert end.status == "done", end.message
    run = store.get(end.key)
    assert run.epochs_done == 2 and run.meta["resumed_from"] == job.key
    with pytest.raises(ValueError):
        manager.resume(job.key, 0)


def test_a_failing_job_does_not_kill_the_worker(manager, tiny_config, tiny_corpus):
    from charlstm.corpus import from_text

    bad, _ = manager.submit(from_text("far too short", "short.txt"), tiny_config)
    end = manager.wait(bad.id, timeout=60)
    assert end.status == "failed" and "needs at least" in end.message
    good, _ = manager.submit(tiny_corpus, tiny_config)
    assert manager.wait(good.id, timeout=120).status == "done"
