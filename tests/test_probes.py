"""How a unit learns: the probe text traced after every finished epoch, stored with the run."""

import numpy as np
import pytest
from test_store import _bundle, _files

from charlstm.insight.probes import PROBE, STATES, Probes, probe_epoch, probe_states
from charlstm.runs.store import FILES, RunStore, StoreError, demo_run
from charlstm.training.trainer import train


def test_the_last_epochs_probe_equals_a_fresh_trace_of_the_stored_run(trained_run):
    pr = trained_run.probes()
    assert pr is not None and pr.epochs == (1, 2) and pr.text == PROBE  # one trace per finished epoch
    seen, fresh = probe_states(trained_run.weights, trained_run.vocab, PROBE)
    assert seen == pr.text
    last = pr.at(len(pr.epochs) - 1)
    for layer, rec in enumerate(fresh):
        for s in STATES:
            np.testing.assert_allclose(last[layer][s], rec[s], rtol=1e-5, atol=1e-6, err_msg=f"layer {layer} {s}")
    assert not np.allclose(pr.at(0)[0]["forget"], fresh[0]["forget"], atol=1e-3)  # epoch 1 is another model


def test_a_cancelled_training_stores_one_trace_per_finished_epoch_and_resume_adds_to_it(tiny_corpus, tiny_config,
                                                                                        store):
    cfg = tiny_config.replace(epochs=3)
    steps = []
    t = train(tiny_corpus, cfg, on_progress=lambda p: steps.append(p) if p.phase == "training" else None,
              should_stop=lambda: bool(steps) and steps[-1].epoch == 3, probe="Abc. Def.")  # in epoch 3
    assert t.epochs_done == 2 and t.probes.epochs == (1, 2)
    run = store.save(t, tiny_corpus)
    before = run.probes()
    assert before.epochs == (1, 2)
    more = store.save(train(tiny_corpus, cfg, resume=run, probe="Abc. Def."), tiny_corpus)
    pr = more.probes()
    assert pr.epochs == (1, 2, 3) and pr.layers[1]["cell"].shape == (3, len("Abc. Def."), cfg.units)
    np.testing.assert_array_equal(pr.layers[0]["forget"][:2], before.layers[0]["forget"])  # the same run, resumed


def test_no_probe_stores_no_file_and_old_runs_load(tiny_corpus, tiny_config, store):
    run = store.save(train(tiny_corpus, tiny_config, probe=None), tiny_corpus)
    assert not (run.path / "probes.npz").exists() and run.probes() is None
    assert demo_run().probes() is None  # the shipped model predates probes
    other = RunStore(store.root / "other")
    assert other.import_bundle(store.export_bundle(run.key)).probes() is None


def test_bundles_carry_the_probes_and_refuse_broken_ones(trained_run, tmp_path):
    src = RunStore(trained_run.path.parent.parent)
    dst = RunStore(tmp_path / "other")
    run = dst.import_bundle(src.export_bundle(trained_run.key))
    np.testing.assert_array_equal(run.probes().layers[0]["cell"], trained_run.probes().layers[0]["cell"])
    files = _files(trained_run)
    with pytest.raises(StoreError, match=r"probes\.npz is unreadable"):
        dst.import_bundle(_bundle(files | {"probes.npz": b"not numpy"}))
    with pytest.raises(StoreError, match="exactly"):
        dst.import_bundle(_bundle(files | {"probes.txt": b"x"}))
    assert set(files) == set(FILES)


def test_probe_epoch_leaves_out_unknown_characters_and_round_trips():
    run = demo_run()
    p = probe_epoch(None, run.weights, run.vocab, "Hi <there>.", 1)
    assert p.text == "Hi there." and p.epochs == (1,)
    p = probe_epoch(p, run.weights, run.vocab, "Hi <there>.", 2)
    back = Probes.from_bytes(p.to_bytes())
    assert back.epochs == (1, 2) and back.text == p.text
    np.testing.assert_array_equal(back.layers[1]["output"], p.layers[1]["output"])
    assert probe_epoch(None, run.weights, run.vocab, "<<>>", 1) is None
