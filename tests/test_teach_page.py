"""The Teach page through AppTest: the three gates guided, clamping a unit, minimal pairs, how a unit learns."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from charlstm.insight.interventions import STORY

ROOT = Path(__file__).resolve().parents[1]


def demo_forgetter(layer: int | None = None) -> tuple[int, int]:
    """(layer from 1, unit) of the shipped model's strongest forgetter at the story's period: in one layer, or any."""
    from charlstm.insight import gates
    from charlstm.insight.interventions import strongest_forgetter
    from charlstm.runs.store import demo_run

    run = demo_run()
    if layer is None:
        best_layer, unit, _ = strongest_forgetter(run.weights, run.vocab)
        return best_layer + 1, unit
    tr = gates.trace_weights(run.weights, run.vocab, STORY)
    return layer, gates.forgetters(tr, layer - 1, gates.sentence_boundaries(STORY)[0], k=1)[0].unit


@pytest.fixture
def at(fresh_app) -> AppTest:
    fresh_app.switch_page("pages/teach.py").run()
    assert not fresh_app.exception, [e.value for e in fresh_app.exception]
    return fresh_app


def view(at: AppTest, name: str) -> AppTest:
    at.session_state["teach.view"] = name  # what a click on the tab does
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def html(at: AppTest, marker: str) -> list[str]:
    return [h.proto.body for h in at.get("html") if marker in h.proto.body]


def diagram(at: AppTest) -> str:
    """The cell diagram's SVG, out of its <img>'s data URL."""
    (img,) = html(at, "charlstm-cell")
    return base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)", img).group(1)).decode()


def test_the_three_gates_start_with_the_forget_lesson_at_the_period(at):
    assert [t.value for t in at.title] == ["Teach"]
    assert [t.label for t in at.tabs] == ["The three gates", "Clamp a unit", "Minimal pairs", "How a unit learns"]
    assert at.text_area(key="teach.lesson_text").value == STORY
    assert (at.selectbox(key="teach.layer").value, at.number_input(key="teach.unit").value) == demo_forgetter()
    assert at.session_state["teach.position"] == STORY.index(".")
    svg = diagram(at)
    assert "reading “.” (position 18)" in svg and "f × c_prev = " in svg
    for lesson, focus in (("input", "S"), ("output", "e")):
        at.session_state["teach.lesson"] = lesson
        at.run()
        assert not at.exception
        text = at.text_area(key="teach.lesson_text").value
        assert "McDonald's" in text if lesson == "input" else text.endswith("brave")
        svg = diagram(at)
        assert f"reading “{focus}”" in svg
    assert any(c.proto.spec for c in at.get("vega_lite_chart"))  # the next-character bars of the output lesson


def test_an_unknown_character_is_handled_as_elsewhere(at):
    at.text_area(key="teach.lesson_text").set_value("Diya ate at McDonald’s.").run()  # a curly apostrophe
    assert any("never saw" in w.value for w in at.warning) and not html(at, "charlstm-cell")
    at.checkbox(key="teach.lesson_drop").check().run()
    assert not at.exception and html(at, "charlstm-cell")


def test_the_clamp_lesson_moves_the_shipped_models_prediction_and_says_what_moved(at):
    from charlstm.insight.interventions import LINES

    view(at, "Clamp a unit")
    assert at.text_area(key="teach.clamp_text").value == LINES  # the shipped model's lesson: the line's end
    assert (at.selectbox(key="teach.clamp_layer").value, at.number_input(key="teach.clamp_unit").value,
            at.selectbox(key="teach.clamp_target").value, at.number_input(key="teach.clamp_value").value) == (
        1, 252, "cell", -1.0)
    assert at.session_state["teach.clamp_from"] == LINES.index("\n")
    assert at.session_state["teach.clamp_at"] == LINES.index(";")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Likeliest untouched"].startswith("“↵”") and metrics["Likeliest clamped"].startswith("“␣”")
    said = next(m.value for m in at.markdown if m.value.startswith("**What moved:**"))
    assert "“↵”, the character that comes next in the text, goes from 97.3% to 1.9%" in said, said
    assert "the likeliest next character is now “␣” instead of “↵”" in said and "Too little" not in said
    plain, held = (c.value for c in at.main.code)
    assert plain and held and plain != held  # a continuation each way, the same seed: the clamp changed it


def test_clamp_the_story(at):
    view(at, "Clamp a unit")
    at.text_area(key="teach.clamp_text").set_value(STORY).run()  # another text: its strongest forgetter
    assert (at.selectbox(key="teach.clamp_layer").value,
            at.number_input(key="teach.clamp_unit").value) == demo_forgetter()
    assert at.session_state["teach.clamp_from"] == 18
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) == {"Likeliest untouched", "Likeliest clamped", "How far it moved"}
    codes = [c.value for c in at.main.code]
    assert len(codes) == 2 and all(len(c.strip()) > 120 for c in codes)  # 160 characters each
    unit, position, moved, parted = demo_clamp_that_moves(layer=2)
    at.selectbox(key="teach.clamp_layer").set_value(2).run()
    at.number_input(key="teach.clamp_unit").set_value(unit).run()
    at.session_state["teach.clamp_at"] = position
    at.run()
    shown = float({m.label: m.value for m in at.metric}["How far it moved"].split()[0])
    assert shown == pytest.approx(moved, abs=1e-4) and shown > 0.01
    a, b = (c.value for c in at.main.code)
    assert parted and a != b  # the continuations part


def demo_clamp_that_moves(layer: int) -> tuple[int, int, float, bool]:
    """Of the layer's five strongest forgetters at the story's period, the one whose forget gate held at 1 moves
    the shipped model's prediction most: (unit, where, how far in nats, whether the continuations differ)."""
    from charlstm.insight import gates, interventions
    from charlstm.runs.store import demo_run

    run = demo_run()
    tr = gates.trace_weights(run.weights, run.vocab, STORY)
    boundary = gates.sentence_boundaries(STORY)[0]
    best = None
    for f in gates.forgetters(tr, layer - 1, boundary, k=5):
        clamp = interventions.Clamp(layer=layer - 1, unit=f.unit, target="forget", value=1.0, start=boundary)
        cmp = interventions.compare(run.weights, run.vocab, STORY, clamp, length=160, temperature=0.5, seed=0)
        kl = cmp.divergence
        if best is None or kl.max() > best[2]:
            best = (f.unit, int(kl.argmax()), float(kl.max()), cmp.continuation_plain != cmp.continuation_clamped)
    return best


def test_minimal_pairs(at):
    view(at, "Minimal pairs")
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert len(specs) == 4  # A, B, the difference, and the top unit's two lines
    table = next(d.value for d in at.dataframe if "mean |B − A|" in d.value.columns)
    assert len(table) == 10 and table["mean |B − A|"].is_monotonic_decreasing
    at.text_input(key="teach.pair_b").set_value(STORY).run()
    assert any("nothing changed" in i.value for i in at.info)


def test_how_a_unit_learns_replays_each_lesson_sentence(at, tmp_path, monkeypatch, tiny_corpus, tiny_config):
    """A run probed with the three lesson sentences, as bench/make_demo.py trains the shipped model."""
    from charlstm.insight.probes import LESSON_PROBES
    from charlstm.runs.store import RunStore
    from charlstm.training.trainer import train

    monkeypatch.setenv("CHARLSTM_MODE", "personal")
    run = RunStore(tmp_path / "home").save(train(tiny_corpus, tiny_config.replace(epochs=3), probe=LESSON_PROBES),
                                           tiny_corpus)
    probes = run.probes()
    assert [p.gate for p in probes.probes] == ["forget", "input", "output"]
    at.session_state["active_run_key"] = run.key
    view(at, "How a unit learns")
    assert at.selectbox(key="teach.probe_text").options[1].startswith("Input gate: ")
    for j, p in enumerate(probes.probes):
        at.selectbox(key="teach.probe_text").set_value(j).run()  # from this run's elements, not an older run's
        assert not at.exception, [e.value for e in at.exception]
        f = p.focus()  # the page starts at the unit that shows the lesson best after the last epoch
        assert at.selectbox(key="teach.probe_layer").value == f.layer + 1
        assert at.selectbox(key="teach.probe_unit").value == f.unit
        assert at.selectbox(key="teach.probe_unit").options == [str(u) for u in p.units[f.layer]]
        assert any(f"{p.gate.capitalize()} gate of layer {f.layer + 1}, unit {f.unit}, after epoch 3" in m.value
                   for m in at.markdown)
        marks = {json.loads(c.proto.spec).get("mark", {}).get("type") for c in at.get("vega_lite_chart")}
        assert "rect" in marks  # the kept units' heatmap; beside it the lines, epoch by epoch
        colored = html(at, "background")
        assert colored and all(ch in colored[0] for ch in p.text.split()[0])  # the sentence, coloured by the gate
    at.select_slider(key="teach.epoch").set_value(1).run()
    assert any("after epoch 1** (epochs 0 to 3 traced" in m.value for m in at.markdown) and not at.exception


def test_how_a_unit_learns(at, trained_run, tmp_path, monkeypatch, tiny_corpus, tiny_config):
    from charlstm.runs.store import RunStore, demo_run
    from charlstm.training.trainer import train

    view(at, "How a unit learns")  # the shipped model, probed untrained and after every epoch up to the shipped one
    probes = demo_run().probes()
    assert at.select_slider(key="teach.epoch").value == probes.epochs[-1] == demo_run().best_epoch
    assert probes.epochs == tuple(range(demo_run().best_epoch + 1))
    f = probes.probes[0].focus()
    first, last = (probes.probes[0].then(f, k) for k in (0, -1))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[f"Layer {f.layer + 1}, unit {f.unit} before training"] == f"{first.before:.2f} → {first.at:.2f}"
    assert metrics[f"Layer {f.layer + 1}, unit {f.unit} after epoch {probes.epochs[-1]}"] == \
        f"{last.before:.2f} → {last.at:.2f}"
    monkeypatch.setenv("CHARLSTM_MODE", "personal")  # runs put in the home folder, as the command line does
    home = tmp_path / "home"
    shutil.copytree(trained_run.path, home / "runs" / trained_run.key)
    at.session_state["active_run_key"] = trained_run.key
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.select_slider(key="teach.epoch").value == 2
    assert any("after epoch 2" in m.value for m in at.markdown)
    at.select_slider(key="teach.epoch").set_value(1).run()
    assert any("after epoch 1" in m.value for m in at.markdown) and not at.exception
    bare = RunStore(home).save(train(tiny_corpus, tiny_config.replace(epochs=1), probe=None), tiny_corpus)
    at.session_state["active_run_key"] = bare.key  # a run trained without a probe says so
    at.run()
    assert any("This run was trained before charlstm kept a probe" in i.value for i in at.info), at.info
