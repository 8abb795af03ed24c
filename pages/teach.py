"""Teach: the tutorial's three gates guided, clamping a unit, minimal pairs, and how a unit learns over the epochs."""

from pages.common.navigation import through_app

through_app()  # first, before the heavy imports: see pages/common/navigation.py

import base64
import html
from functools import partial

import numpy as np
import pandas as pd
import streamlit as st

from charlstm.insight import gates, interventions, lessons, pairs
from charlstm.runs.store import Run
from charlstm.serve.limits import clip
from charlstm.text import corpus as corpus_mod
from charlstm.views import charts, tables, teach_charts
from charlstm.views.cell_diagram import cell_svg, cell_values
from pages.common.persist import default_for, remember, restore
from pages.common.resources import is_demo
from pages.common.server_limits import capped
from pages.common.session import active_run
from pages.common.text import md
from pages.common.widgets import downloads_ui, lazy_tabs_ui, missing_chars_ui, traced_ui

VIEWS = ["The three gates", "Clamp a unit", "Minimal pairs", "How a unit learns"]
PAIR = ("Divya likes to eat. Reena is not fat.", "Divya likes to eat Reena is not fat.")
STATES = {"forget": "Forget gate", "input": "Input gate", "output": "Output gate", "cell": "Cell state",
          "hidden": "Hidden state", "candidate": "Candidate"}
KEYS = ("teach.lesson", "teach.lesson_text", "teach.lesson_drop", "teach.layer", "teach.unit", "teach.position",
        "teach.clamp_text", "teach.clamp_drop", "teach.clamp_layer", "teach.clamp_unit", "teach.clamp_target",
        "teach.clamp_value", "teach.clamp_from", "teach.clamp_at", "teach.seed", "teach.pair_a", "teach.pair_b",
        "teach.pair_drop", "teach.pair_layer", "teach.pair_state", "teach.epoch", "teach.probe_layer",
        "teach.probe_state", "teach.probe_text", "teach.probe_unit")
KEPT = "teach.kept"  # as on the Units page: values of widgets in tabs not drawn this run are kept here


def layer_unit_position(tr: gates.GateTrace, focus: lessons.Focus, context) -> tuple[int, int, int]:
    """Pickers for the diagram's layer, unit and character, starting at the lesson's focus."""
    layers = len(tr.layers)
    default_for("teach.layer", context, focus.layer + 1)
    default_for("teach.unit", context, focus.unit)
    default_for("teach.position", context, focus.position)
    a, b, c = st.columns([1, 1, 3])
    layer = a.selectbox("Layer", list(range(1, layers + 1)), key="teach.layer") - 1
    units = tr.layers[layer]["cell"].shape[1]
    st.session_state["teach.unit"] = min(st.session_state["teach.unit"], units - 1)
    unit = b.number_input("Unit", 0, units - 1, step=1, key="teach.unit")
    st.session_state["teach.position"] = min(st.session_state["teach.position"], len(tr.text) - 1)
    pos = c.select_slider("Character", options=list(range(len(tr.text))), key="teach.position",
                          format_func=lambda t: f"{t}: {charts.glyph(tr.text[t])}")
    return layer, int(unit), int(pos)


def cell_img(v) -> str:
    """The cell diagram as an <img>: st.html's sanitiser drops inline SVG, but keeps an image's data URL."""
    data = base64.b64encode(cell_svg(v).encode()).decode()
    alt = html.escape(f"LSTM cell: layer {v.layer + 1}, unit {v.unit}, reading “{charts.glyph(v.char)}” "
                      f"(position {v.position}); f × c_prev = {v.kept:+.3f}, i × g = {v.written:+.3f}, "
                      f"h = {v.h:+.3f}", quote=True)
    return (f'<img class="charlstm-cell" alt="{alt}" src="data:image/svg+xml;base64,{data}" '
            'style="width:100%;max-width:960px">')


# ---- the three gates, guided
def lessons_view(run: Run) -> None:
    st.markdown("The gates tutorial teaches each of an LSTM's three gates with one sentence. Pick one: the "
                "sentence is read by the active model, the unit that shows the gate best is found, and the cell "
                "is drawn with its live values at the character that matters.")
    if "teach.lesson" not in st.session_state:
        st.session_state["teach.lesson"] = "forget"
    name = st.segmented_control("Gate", list(lessons.LESSONS), key="teach.lesson", required=True,
                                format_func=lambda g: f"{g.capitalize()} gate")
    lesson = lessons.LESSONS[name]
    st.subheader(lesson.title)
    st.markdown(lesson.explain)
    default_for("teach.lesson_text", name, lesson.text)
    cap = capped("teach.lesson_text", "max_teach_text")
    text = clip(st.text_area("Sentence", key="teach.lesson_text", max_chars=cap, height=70), cap)
    tr = traced_ui(run, text, "teach.lesson_drop")
    if tr is None:
        return
    focus = lessons.focus(tr, lesson)
    layer, unit, pos = layer_unit_position(tr, focus, (name, tr.text))
    st.markdown(f"**{STATES[lesson.gate]} of layer {layer + 1}, unit {unit}** along the sentence (hover a "
                f"character for its value). The lesson's unit: layer {focus.layer + 1}, unit {focus.unit}, "
                f"{lesson.gate} gate {focus.before:.2f} on average before "
                f"“{md(charts.glyph(tr.text[focus.position]))}” "
                f"and {focus.at:.2f} there.")
    values = tr.layers[layer][lesson.gate][:, unit]
    st.html(charts.colored_text_html(tr.text, values, gates.RANGES[lesson.gate], what=STATES[lesson.gate].lower()))
    st.html(charts.color_legend_html(gates.RANGES[lesson.gate], STATES[lesson.gate].lower()))
    st.markdown("**The cell at that character.** The memory runs along the top: the forget gate scales the old "
                "memory, the input gate adds the candidate, and the output gate decides how much of tanh(c) the "
                "unit passes on as h.")
    st.html(cell_img(cell_values(tr, layer, unit, pos)))
    if lesson.gate == "output":
        st.markdown(f"**What the model expects after “{md(charts.visible(tr.text[-12:]))}”**: what the output "
                    "gates let through is all the next layer and the prediction ever see.")
        st.altair_chart(charts.next_char_chart(tr.top_next(len(tr.text) - 1, 8)), width="stretch",
                        key="teach.next")
    with st.expander(f"Every unit's {STATES[lesson.gate].lower()}, layer {layer + 1}"):
        chart = charts.heatmap(tr.layers[layer][lesson.gate], tr.text, lesson.gate, gates.RANGES[lesson.gate])
        st.altair_chart(chart, width="stretch", key="teach.heatmap")
        downloads_ui(f"teach-{lesson.gate}", lambda: tables.trace_table(tr, (layer,), (lesson.gate,)), chart,
                     "teach.dl", f"the {STATES[lesson.gate].lower()} of every unit of layer {layer + 1}")


# ---- clamp a unit
def clamp_view(run: Run) -> None:
    try:
        lesson = interventions.lesson_for(run)  # the shipped model's own, else the story's strongest forgetter
    except ValueError:
        lesson = None
    st.markdown("Cause, not only correlation: hold one unit's gate or cell at a value from a character on, and see "
                "whether the model's prediction changes. " + (lesson.explain if lesson else ""))
    if "teach.clamp_text" not in st.session_state:
        st.session_state["teach.clamp_text"] = lesson.text if lesson else interventions.STORY
    cap = capped("teach.clamp_text", "max_teach_text")
    text = clip(st.text_area("Text", key="teach.clamp_text", max_chars=cap, height=70), cap)
    tr = traced_ui(run, text, "teach.clamp_drop")
    if tr is None:
        return
    if lesson is not None and tr.text == lesson.text:
        cl = lesson.clamp
        default = (cl.layer, cl.unit, cl.target, cl.value, cl.start, lesson.at)
    else:
        try:
            layer, unit, boundary = interventions.strongest_forgetter(run.weights, run.vocab, tr.text)
        except ValueError:
            layer, unit, boundary = len(tr.layers) - 1, 0, len(tr.text) // 2
        default = (layer, unit, "forget", 1.0, boundary, boundary)
    for key, value in zip(("layer", "unit", "target", "value", "from", "at"), default, strict=True):
        default_for(f"teach.clamp_{key}", tr.text, value + 1 if key == "layer" else value)
    a, b, c, d = st.columns(4)
    layer = a.selectbox("Layer", list(range(1, len(tr.layers) + 1)), key="teach.clamp_layer") - 1
    units = tr.layers[layer]["cell"].shape[1]
    st.session_state["teach.clamp_unit"] = min(st.session_state["teach.clamp_unit"], units - 1)
    unit = b.number_input("Unit", 0, units - 1, step=1, key="teach.clamp_unit")
    target = c.selectbox("Hold", interventions.TARGETS, key="teach.clamp_target",
                         format_func=lambda t: STATES[t])
    cell = target == "cell"
    if not cell:
        st.session_state["teach.clamp_value"] = min(1.0, max(0.0, st.session_state["teach.clamp_value"]))
    value = d.number_input("at", -20.0 if cell else 0.0, 20.0 if cell else 1.0, step=0.1, key="teach.clamp_value",
                           help="A gate is between 0 (closed) and 1 (open); the cell state is unbounded.")
    fmt = lambda t: f"{t}: {charts.glyph(tr.text[t])}"  # noqa: E731
    left, right = st.columns(2)
    start = left.select_slider("From the character", list(range(len(tr.text))), key="teach.clamp_from",
                               format_func=fmt)
    at = right.select_slider("Prediction after", list(range(len(tr.text))), key="teach.clamp_at", format_func=fmt)
    clamp = interventions.Clamp(layer=layer, unit=int(unit), target=target, value=float(value), start=int(start))
    cmp = interventions.compare(run.weights, run.vocab, tr.text, clamp, length=160, temperature=0.5,
                                seed=int(st.session_state.get("teach.seed", 0)))
    kl = cmp.divergence
    st.subheader(f"After “{md(charts.visible(tr.text[max(0, at - 24):at + 1]))}”")
    m1, m2, m3 = st.columns(3)
    top = cmp.top(at, 8)
    for col, name, probs in ((m1, "Likeliest untouched", cmp.plain[at]), (m2, "Likeliest clamped", cmp.clamped[at])):
        best = int(np.argmax(probs))
        col.metric(name, f"“{charts.glyph(run.vocab.chars[best])}” {probs[best]:.1%}")
    m3.metric("How far it moved", f"{kl[at]:.4f} nats", help="KL divergence of the clamped prediction from the "
              "untouched one: 0 means the clamp changed nothing here.")
    if at >= start:
        st.markdown(what_moved(interventions.moved(cmp, at), tr.text))
    if at < start:
        st.caption("This character comes before the clamp starts, so nothing can differ here.")
    elif kl.max() < 1e-3:
        st.caption("Hardly anything moved: this unit's memory barely reaches the prediction (its output gate, or "
                   "the layers above, keep it out), so it can forget or not without the model noticing. Try the "
                   "strongest forgetter of another layer.")
    st.altair_chart(teach_charts.clamp_bars(top), width="stretch", key="teach.clamp_bars")
    st.markdown(f"**Where the clamp moved the prediction**, after every character (shaded: held from "
                f"“{charts.glyph(tr.text[start])}” on). Largest: {kl.max():.4f} nats after position "
                f"{int(kl.argmax())}.")
    chart = teach_charts.divergence_chart(kl, tr.text, start, at)
    st.altair_chart(chart, width="stretch", key="teach.kl")
    downloads_ui("clamp", tables.units_table(tr.text, {"kl_nats": kl}), chart, "teach.clamp_dl",
                 "how far the clamp moved the prediction after each character (KL, nats)")
    st.markdown("**What each goes on to write**, from the end of the text, with the same random seed "
                "(temperature 0.5): any difference is the clamp's doing.")
    left, right = st.columns(2)
    left.caption("Untouched")
    left.code(cmp.continuation_plain, language=None, wrap_lines=True)
    right.caption(f"Layer {layer + 1}, unit {unit}: {STATES[target].lower()} held at {value:g}")
    right.code(cmp.continuation_clamped, language=None, wrap_lines=True)
    st.number_input("Seed", 0, 2**31 - 1, step=1, key="teach.seed")
    st.caption(f"The same from the command line: `python -m charlstm clamp RUN --text ... --layer {layer + 1} "
               f"--unit {unit} --gate {target} --value {value:g} --from {start}`.")


def what_moved(m: interventions.Moved, text: str) -> str:
    """The clamp's effect on one prediction, in a sentence: the character that really comes next, and the top one."""
    g = lambda c: md(charts.glyph(c))  # noqa: E731
    top = (f"the likeliest next character is now “{g(m.top_clamped)}” instead of “{g(m.top_plain)}”"
           if m.top_clamped != m.top_plain else f"the likeliest stays “{g(m.top_plain)}”")
    if m.char is None:
        words = f"**What moved:** after the last character, {top}."
    else:
        words = (f"**What moved:** “{g(m.char)}”, the character that comes next in the text, goes from "
                 f"{m.p_plain:.1%} to {m.p_clamped:.1%}; {top}.")
    return words if m.visible else words + " Too little to see: try another unit, layer or value."


# ---- minimal pairs
def pairs_view(run: Run) -> None:
    st.markdown("Change a text a little and compare: the same sentence with and without its period, say. Both are "
                "read by the model, lined up character by character (a gap where one has a character the other "
                "lacks), and their difference shows which units noticed.")
    for key, default in zip(("teach.pair_a", "teach.pair_b"), PAIR, strict=True):
        if key not in st.session_state:
            st.session_state[key] = default
    left, right = st.columns(2)
    with left:
        cap = capped("teach.pair_a", "max_teach_text")
        a_text = clip(st.text_input("Text A", key="teach.pair_a", max_chars=cap), cap)
    with right:
        cap = capped("teach.pair_b", "max_teach_text")
        b_text = clip(st.text_input("Text B", key="teach.pair_b", max_chars=cap), cap)
    drop = missing_chars_ui(run, a_text + b_text, "teach.pair_drop")
    if run.vocab.missing(corpus_mod.prepare(a_text + b_text, run.config.lowercase)) and not drop:
        return
    tr_a, tr_b = (traced_one(run, t, drop) for t in (a_text, b_text))
    if tr_a is None or tr_b is None:
        st.info("Type at least two characters the model knows in each text.", icon=":material/keyboard:")
        return
    p = pairs.pair(tr_a, tr_b)
    a, b = st.columns([1, 2])
    layer = a.selectbox("Layer", list(range(1, len(tr_a.layers) + 1)), index=len(tr_a.layers) - 1,
                        key="teach.pair_layer") - 1
    state = b.segmented_control("Show", list(STATES), key="teach.pair_state", format_func=STATES.get,
                                default="cell", required=True)
    va, vb, diff = p.aligned(layer, state)
    la, lb = p.labels()
    cols = "".join(x or y for x, y in zip(la, lb, strict=True))
    rng = gates.RANGES[state]
    for title, values, text in ((f"A: {STATES[state].lower()}", va, "".join(x or "·" for x in la)),
                                (f"B: {STATES[state].lower()}", vb, "".join(y or "·" for y in lb))):
        st.markdown(f"**{title}**")
        st.altair_chart(charts.heatmap(values, text, state, rng, height=260), width="stretch",
                        key=f"teach.pair_{title[0]}")
    span = max(rng[1] - rng[0], 1e-6) / 2
    st.markdown("**B − A** (blank: a gap, one text has no character there)")
    st.altair_chart(charts.heatmap(diff, cols, f"B − A, {STATES[state].lower()}", (-span, span), height=260),
                    width="stretch", key="teach.pair_diff")
    changed = pairs.changed_units(p, layer, state, k=10)
    if not changed or changed[0].mean == 0:
        st.info("The two texts are the same for this layer: nothing changed.", icon=":material/check:")
        return
    st.subheader("The units that change most")
    st.dataframe(pd.DataFrame([{"unit": c.unit, "mean |B − A|": c.mean, "largest B − A": c.largest,
                                "at": f"{c.column}: {charts.glyph(cols[c.column])}"} for c in changed]),
                 hide_index=True, width="stretch",
                 column_config={"mean |B − A|": st.column_config.NumberColumn(format="%.3f"),
                                "largest B − A": st.column_config.NumberColumn(format="%+.3f")})
    top = changed[0].unit
    st.altair_chart(teach_charts.pair_lines(va[:, top], vb[:, top], [x or y for x, y in zip(la, lb, strict=True)],
                                            top, STATES[state].lower()), width="stretch", key="teach.pair_lines")


def traced_one(run: Run, text: str, drop: bool) -> gates.GateTrace | None:
    """The trace of one text of a pair (its missing characters already dealt with), None when too short."""
    try:
        tr = gates.trace(run, text, drop_unknown=drop)
    except corpus_mod.CorpusError:
        return None
    return tr if len(tr.text) >= 2 else None


# ---- how a unit learns
def epoch_words(epoch: int) -> str:
    return "0 (untrained)" if epoch == 0 else str(epoch)


def after(epoch: int) -> str:
    """When a probe was traced, in words: epoch 0 is the untrained model."""
    return "before training" if epoch == 0 else f"after epoch {epoch}"


def learning_view(run: Run) -> None:
    st.markdown("While a model trains here, probe texts (the tutorial's sentences, or your own) are read after "
                "every finished epoch and kept with the run. Slide through the epochs and watch a unit learn its "
                "gate's job: no pattern before training (epoch 0), the lesson's after the last epoch.")
    probes = run.probes()
    if probes is None:
        what = "The shipped demo model was" if is_demo(run) else "This run was"
        st.info(f"{what} trained before charlstm kept a probe per epoch, so there is nothing to replay. Train a "
                "model on the Train page (or `python -m charlstm train`) and come back: every run trained now "
                "keeps one.", icon=":material/history:")
        return
    kept = probes.probes
    j = 0
    if len(kept) > 1:
        j = st.selectbox("Sentence", list(range(len(kept))), key="teach.probe_text",
                         format_func=lambda j: f"{kept[j].gate.capitalize()} gate: “{' '.join(kept[j].text.split())}”")
    p = kept[j]
    focus = p.focus()  # the kept unit that shows the lesson best after the last epoch
    states = list(p.layers[0])  # the gate (older runs kept the four states of every unit)
    a, b, c = st.columns([1, 1, 2])
    default_for("teach.probe_layer", (run.key, j), focus.layer + 1)
    layer = a.selectbox("Layer", list(range(1, len(p.layers) + 1)), key="teach.probe_layer") - 1
    held = [int(u) for u in p.units[layer]]
    default_for("teach.probe_unit", (run.key, j, layer), focus.unit if layer == focus.layer else held[0])
    unit = b.selectbox("Unit", held, key="teach.probe_unit")
    default_for("teach.probe_state", (run.key, j), p.gate)
    state = c.segmented_control("Show", states, key="teach.probe_state", format_func=STATES.get,
                                required=True) if len(states) > 1 else p.gate
    E = len(probes.epochs)
    default_for("teach.epoch", (run.key, E), probes.epochs[-1])
    epoch = st.select_slider("Epoch", list(probes.epochs), key="teach.epoch", format_func=epoch_words,
                             help="0: the untrained model, before the first epoch") if E > 1 else probes.epochs[0]
    k = probes.epochs.index(epoch)
    lines = p.values(layer, unit, state)  # (E, T)
    what = f"{STATES[state].lower()}, layer {layer + 1}, unit {unit}"
    moment = md(charts.glyph(p.text[focus.position]))
    st.markdown(f"**{STATES[state]} of layer {layer + 1}, unit {unit}, {after(epoch)}** (epochs {probes.epochs[0]} to "
                f"{probes.epochs[-1]} traced; the lesson's unit: layer {focus.layer + 1}, unit {focus.unit}, "
                f"{p.gate} gate {focus.before:.2f} on average before “{moment}” "
                f"and {focus.at:.2f} there after the last epoch).")
    st.html(charts.colored_text_html(p.text, lines[k], gates.RANGES[state], what=STATES[state].lower()))
    shown = (0, E - 1) if E > 1 else (0,)
    for col, e in zip(st.columns(len(shown)), shown, strict=True):  # the lesson's unit: no pattern, then the pattern
        f = p.then(focus, e)
        col.metric(f"Layer {focus.layer + 1}, unit {focus.unit} {after(probes.epochs[e])}",
                   f"{f.before:.2f} → {f.at:.2f}", help=f"its {p.gate} gate on average over the characters before "
                   f"“{moment}”, then at “{moment}”", border=True)
    st.markdown(f"**Epoch by epoch** (darker: later), {what}:")
    st.altair_chart(teach_charts.epochs_chart(lines, p.text, focus.position, what, probes.epochs), width="stretch",
                    key="teach.probe_lines")
    full = len(held) == run.config.units
    st.markdown(f"**{'Every unit' if full else f'The {len(held)} units kept'} of layer {layer + 1} "
                f"{after(epoch)}**" + ("" if full else f" (those whose {p.gate} gate moves most at the lesson's moment "
                                              "after the last epoch; a run keeps only these, to stay small)") + ":")
    st.altair_chart(charts.heatmap(p.layers[layer][state][k], p.text, state, gates.RANGES[state], units=held),
                    width="stretch", key="teach.probe_heatmap")


run = active_run()
restore(KEYS, KEPT)
st.title("Teach")
st.markdown(f"Learn what an LSTM's gates do, with the active model ({md(run.meta.get('corpus_name', '?'))}, "
            f"{run.config.layers} × {run.config.units}{', the shipped demo' if is_demo(run) else ''}), and test "
            "what a unit does by changing it. Every value comes from charlstm's numpy LSTM over the Keras weights.")
lazy_tabs_ui(dict(zip(VIEWS, (partial(view, run) for view in (lessons_view, clamp_view, pairs_view, learning_view)),
                      strict=True)), key="teach.view")
remember(KEYS, KEPT)
