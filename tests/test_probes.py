"""How a unit learns: the probe text traced after every finished epoch, stored with the run."""

import numpy as np
import pytest
from test_store import _bundle, _files

from charlstm.insight.probes import KEEP, LESSON_PROBES, PROBE, STATES, Probe, Probes, probe_epoch, probe_states
from charlstm.runs.store import FILES, RunStore, StoreError, demo_run
from charlstm.training.trainer import train


def test_the_last_epochs_probe_equals_a_fresh_trace_of_the_stored_run(trained_run):
    pr = trained_run.probes()
    assert pr is not None and pr.epochs == (0, 1, 2) and pr.texts == (PROBE,)  # untrained, then one per finished epoch
    (p,) = pr.probes
    assert p.gate == "forget" and list(p.layers[0]) == ["forget"]  # only what the Teach page draws
    seen, fresh = probe_states(trained_run.weights, trained_run.vocab, PROBE)
    assert seen == p.text
    for layer, rec in enumerate(fresh):
        assert len(p.units[layer]) == KEEP < rec["forget"].shape[1]  # the units the gate moves most
        stored = p.layers[layer]["forget"]
        assert stored.dtype == np.float16
        np.testing.assert_allclose(stored[-1], rec["forget"][:, p.units[layer]], atol=1e-3, err_msg=f"layer {layer}")
        assert not np.allclose(stored[0], rec["forget"][:, p.units[layer]], atol=1e-3)  # epoch 1 is another model
    f = p.focus()
    assert f.position == PROBE.index(".")  # the lesson's moment: the period
    move = [m for _, _, m in p.moves()[1]]
    assert f.before - f.at == pytest.approx(max(float(m.max()) for m in move), abs=1e-6)


def test_the_units_kept_are_those_the_gate_moves_most_after_the_last_epoch():
    run = demo_run()
    full = probe_epoch(None, run.weights, run.vocab, LESSON_PROBES, 1)
    assert [q.gate for q in full.probes] == ["forget", "input", "output"]
    for q in full.probes:
        _, per_layer = q.moves()
        compact = Probes.from_bytes(full.to_bytes()).probes[full.texts.index(q.text)]
        for layer, (_, _, move) in enumerate(per_layer):
            top = set(np.argsort(-move)[:KEEP].tolist())
            assert set(compact.units[layer].tolist()) == top, (q.gate, layer)
        assert compact.focus().unit == q.focus().unit and compact.focus().layer == q.focus().layer


def test_a_cancelled_training_stores_one_trace_per_finished_epoch_and_resume_adds_to_it(tiny_corpus, tiny_config,
                                                                                        store):
    cfg = tiny_config.replace(epochs=3)
    steps = []
    t = train(tiny_corpus, cfg, on_progress=lambda p: steps.append(p) if p.phase == "training" else None,
              should_stop=lambda: bool(steps) and steps[-1].epoch == 3, probe="Abc. Def.")  # in epoch 3
    assert t.epochs_done == 2 and t.probes.epochs == (0, 1, 2)  # 0: the untrained model
    run = store.save(t, tiny_corpus)
    before = run.probes()
    assert before.epochs == (0, 1, 2)
    more = store.save(train(tiny_corpus, cfg, resume=run, probe="Abc. Def."), tiny_corpus)
    pr = more.probes()
    (p,), (b,) = pr.probes, before.probes
    assert pr.epochs == (0, 1, 2, 3) and p.layers[1]["forget"].shape == (4, len("Abc. Def."), KEEP)
    np.testing.assert_array_equal(p.units[0], b.units[0])  # the units it kept, kept on
    np.testing.assert_array_equal(p.layers[0]["forget"][:3], b.layers[0]["forget"])  # the same run, resumed


def test_no_probe_stores_no_file_and_old_runs_load(tiny_corpus, tiny_config, store):
    run = store.save(train(tiny_corpus, tiny_config, probe=None), tiny_corpus)
    assert not (run.path / "probes.npz").exists() and run.probes() is None
    other = RunStore(store.root / "other")
    assert other.import_bundle(store.export_bundle(run.key)).probes() is None


def test_bundles_carry_the_probes_and_refuse_broken_ones(trained_run, tmp_path):
    src = RunStore(trained_run.path.parent.parent)
    dst = RunStore(tmp_path / "other")
    run = dst.import_bundle(src.export_bundle(trained_run.key))
    np.testing.assert_array_equal(run.probes().probes[0].layers[0]["forget"],
                                  trained_run.probes().probes[0].layers[0]["forget"])
    files = _files(trained_run)
    with pytest.raises(StoreError, match=r"probes\.npz is unreadable"):
        dst.import_bundle(_bundle(files | {"probes.npz": b"not numpy"}))
    with pytest.raises(StoreError, match="exactly"):
        dst.import_bundle(_bundle(files | {"probes.txt": b"x"}))
    assert set(files) == set(FILES)


def test_probe_epoch_leaves_out_unknown_characters_and_round_trips():
    run = demo_run()
    p = probe_epoch(None, run.weights, run.vocab, "Hi <there>.", 1)
    assert p.texts == ("Hi there.",) and p.epochs == (1,)
    p = probe_epoch(p, run.weights, run.vocab, "Hi <there>.", 2)
    back = Probes.from_bytes(p.to_bytes())
    assert back.epochs == (1, 2) and back.texts == p.texts
    (q,), (full,) = back.probes, p.probes
    np.testing.assert_array_equal(q.layers[1]["forget"], full.layers[1]["forget"][:, :, q.units[1]])
    assert probe_epoch(None, run.weights, run.vocab, "<<>>", 1) is None
    assert probe_epoch(None, run.weights, run.vocab, ["<<>>", "Hi."], 1).texts == ("Hi.",)  # the others kept


def three_sentences(epochs: int = 200, units: int = 256, layers: int = 2, seed: int = 0) -> Probes:
    """A history of the three lesson sentences as a trainer keeps it (every unit), with random gates that do
    not compress: the worst case for the file's size."""
    rng = np.random.default_rng(seed)
    probes = tuple(Probe(t, g, tuple({g: rng.random((epochs, len(t), units)).astype(np.float16)}
                                     for _ in range(layers)), tuple(np.arange(units) for _ in range(layers)))
                   for t, g in zip(LESSON_PROBES, ("forget", "input", "output"), strict=True))
    return Probes(tuple(range(1, epochs + 1)), probes)


def test_two_hundred_epochs_of_three_sentences_on_2x256_stay_under_2_mb():
    pr = three_sentences()
    data = pr.to_bytes()
    assert len(data) <= 2_000_000, len(data)
    back = Probes.from_bytes(data)
    assert back.epochs == pr.epochs and back.texts == pr.texts
    for q, full in zip(back.probes, pr.probes, strict=True):
        for layer in range(2):
            assert q.layers[layer][q.gate].shape == (200, len(q.text), KEEP)
            np.testing.assert_array_equal(q.layers[layer][q.gate], full.layers[layer][q.gate][:, :, q.units[layer]])


def test_the_first_format_still_reads(tmp_path):
    """probes.npz as runs trained before compact probes wrote it: one text, four states of every unit, float32."""
    import io

    rng = np.random.default_rng(1)
    text, E, units = "Ab. Cd.", 3, 5
    arrays = {"text": np.array(text), "epochs": np.arange(1, E + 1)}
    arrays |= {f"{s}_{i}": rng.random((E, len(text), units)).astype(np.float32) for s in STATES for i in range(2)}
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    old = Probes.from_bytes(buf.getvalue())
    (p,) = old.probes
    assert old.texts == (text,) and old.epochs == (1, 2, 3) and p.gate == "forget" and set(p.layers[1]) == set(STATES)
    np.testing.assert_array_equal(p.values(1, 4, "cell"), arrays["cell_1"][:, :, 4])
    again = Probes.from_bytes(old.to_bytes())  # written again (a resumed old run): the compact format
    assert again.probes[0].layers[0]["forget"].shape == (E, len(text), KEEP if KEEP < units else units)
