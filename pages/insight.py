"""Insight: which earlier characters made a prediction, what the units form together, and two runs side by side."""

from pages.common.navigation import through_app

through_app()  # first, before the heavy imports: see pages/common/navigation.py

from functools import partial

import pandas as pd
import streamlit as st

from charlstm.insight import attribution as attr_mod
from charlstm.insight import compare as compare_mod
from charlstm.insight import components as comp_mod
from charlstm.insight import find, gates, labels
from charlstm.runs.store import Run
from charlstm.serve.limits import clip
from charlstm.text.corpus import CorpusError, char_label
from charlstm.views import insight_charts, tables
from charlstm.views.charts import color_legend_html, colored_text_html, glyph
from pages.common.persist import default_for, remember, restore
from pages.common.resources import demo, is_demo, load_run, run_store
from pages.common.server_limits import capped, limits
from pages.common.session import active_key, active_run
from pages.common.text import md
from pages.common.widgets import downloads_ui, lazy_tabs_ui, traced_ui
from pages.common.workspace import shelf

VIEWS = ["Attribution", "Components", "Two runs"]
STATES = {"forget": "Forget gate", "input": "Input gate", "output": "Output gate", "cell": "Cell state",
          "hidden": "Hidden state", "candidate": "Candidate"}
ZERO = "zero"  # the baseline choice for the zero embedding
DEMO = "demo"  # the run choice for the shipped model
KEYS = ("insight.attr_example", "insight.attr_text", "insight.attr_drop", "insight.attr_position",
        "insight.attr_target", "insight.attr_char", "insight.attr_layer", "insight.attr_unit", "insight.attr_state",
        "insight.attr_method", "insight.attr_baseline", "insight.attr_steps", "insight.comp_text",
        "insight.comp_layer", "insight.comp_state", "insight.comp_k", "insight.comp_pick", "insight.comp_label",
        "insight.cmp_b", "insight.cmp_text")
KEPT = "insight.kept"  # as on the Units page: values of widgets in tabs not drawn this run are kept here


def stamp(run: Run) -> str:
    return run.meta.get("created", "")


def corpus_text(run: Run, chars: int) -> tuple[str, str]:
    """A sample of the run's corpus from its held-out end and where it came from, or a preset when there is none."""
    sample = find.run_sample(run, run_store(run), chars)
    if sample is None:
        return gates.PRESETS["Shakespeare"], "an example (this run's corpus is not stored on this server)"
    return sample.text, sample.source


# ---- attribution
@st.cache_data(show_spinner="Following the gradient back through every character…", max_entries=64)
def attribution(path: str, stamp: str, text: str, position: int, target: attr_mod.Target, method: str, steps: int,
                baseline: str | None, _run: Run) -> attr_mod.Attribution:
    return attr_mod.attribute(_run.weights, _run.vocab, text, position, target, method, steps, baseline,
                              window=gates.trace_window(_run.config))


def target_ui(run: Run, tr: gates.GateTrace, position: int) -> attr_mod.Target:
    """What to explain: the next character's probability, or one unit's gate or state at the position."""
    kinds = {"next": "The next character's probability", "unit": "One unit's gate or state"}
    kind = st.radio("Explain", list(kinds), format_func=kinds.get, key="insight.attr_target", horizontal=True)
    if kind == "next":
        actual = tr.text[position + 1] if position + 1 < len(tr.text) else None
        options = [c for c, _ in tr.top_next(position, 10)]
        if actual is not None and actual not in options:
            options.insert(0, actual)
        default_for("insight.attr_char", (tr.text, position), actual or options[0])
        char = st.selectbox("Character", options, key="insight.attr_char",
                            format_func=lambda c: f"“{char_label(c)}”" + (" (what really comes next)"
                                                                          if c == actual else ""),
                            help="log p of this character after the position is what the scores explain.")
        return attr_mod.Target("next", char=char)
    boundaries = gates.sentence_boundaries(tr.text)
    a, b, c = st.columns(3)
    layers = range(len(tr.layers))
    default_for("insight.attr_layer", run.path, len(tr.layers) - 1)
    layer = a.selectbox("Layer", layers, format_func=lambda i: f"Layer {i + 1}", key="insight.attr_layer")
    units = tr.layers[layer]["cell"].shape[1]
    top = gates.forgetters(tr, layer, boundaries[0], k=1)[0].unit if boundaries else 0
    default_for("insight.attr_unit", (tr.text, layer), top)  # the Gates page's boundary forgetter
    st.session_state["insight.attr_unit"] = min(st.session_state["insight.attr_unit"], units - 1)
    unit = b.number_input("Unit", 0, units - 1, step=1, key="insight.attr_unit",
                          help="Starts at the unit whose forget gate drops most at the first sentence end.")
    if "insight.attr_state" not in st.session_state:
        st.session_state["insight.attr_state"] = "forget"
    state = c.selectbox("Gate or state", list(STATES), format_func=STATES.get, key="insight.attr_state")
    return attr_mod.Target(state, layer, int(unit))


def method_ui(run: Run) -> tuple[str, int, str | None]:
    a, b, c = st.columns(3)
    if "insight.attr_method" not in st.session_state:
        st.session_state["insight.attr_method"] = "ig"
    method = a.radio("Method", list(attr_mod.METHODS), format_func=lambda m: attr_mod.METHODS[m].capitalize(),
                     key="insight.attr_method",
                     help="Gradient × input: how the target changes with each character's embedding, times the "
                          "embedding. Integrated gradients: the same along a path from a baseline, so the scores "
                          "add up to the change. Gradient size: how sensitive the target is to each character.")
    if method != "ig":
        return method, 1, None
    neutral = attr_mod.neutral_char(run.vocab)
    options = [neutral, ZERO, *[ch for ch in run.vocab.chars if ch != neutral]]
    if st.session_state.get("insight.attr_baseline") not in options:
        st.session_state["insight.attr_baseline"] = neutral
    baseline = b.selectbox("Baseline", options, key="insight.attr_baseline",
                           format_func=lambda x: "the zero embedding" if x == ZERO else f"“{char_label(x)}” everywhere",
                           help="What the text is compared with: every character replaced by this one, or by "
                                "the zero vector. A real character keeps the model on familiar ground.")
    cap = limits().max_ig_steps
    steps = [s for s in (8, 16, 32, 64, 128, 256, 512, 1024) if s <= cap] or [cap]
    if st.session_state.get("insight.attr_steps") not in steps:
        st.session_state["insight.attr_steps"] = min(attr_mod.DEFAULT_STEPS, steps[-1])
    n = c.select_slider("Steps", steps, key="insight.attr_steps",
                        help=f"Points on the path from the baseline (at most {cap} on this server). More: slower, "
                             "and the scores add up more exactly.")
    return method, n, None if baseline == ZERO else baseline


def attribution_view(run: Run) -> None:
    st.markdown("Pick a character: each character before it is coloured by how much it moved the model's "
                "prediction there (red raised it, blue lowered it). Computed by charlstm's own backward pass "
                "through its numpy LSTM, checked against TensorFlow's gradients. The salience maps of LIT and ecco.")
    default = gates.EXAMPLE
    if "insight.attr_text" not in st.session_state:
        st.session_state["insight.attr_text"] = default
    cap = capped("insight.attr_text", "max_attribution_text")
    text = clip(st.text_area("Text", key="insight.attr_text", max_chars=cap, height=90,
                             help="The model reads it character by character from an empty memory."), cap)
    tr = traced_ui(run, text, "insight.attr_drop")
    if tr is None:
        return
    boundaries = gates.sentence_boundaries(tr.text)
    start = min(boundaries[0] + 1, len(tr.text) - 1) if boundaries else len(tr.text) - 1
    default_for("insight.attr_position", tr.text, start)  # the space after the first full stop: why a capital?
    st.session_state["insight.attr_position"] = min(st.session_state["insight.attr_position"], len(tr.text) - 1)
    position = st.select_slider("Position", options=list(range(len(tr.text))), key="insight.attr_position",
                                format_func=lambda t: f"{t}: {glyph(tr.text[t])}",
                                help="The prediction after this character, or a unit's value at it.")
    target = target_ui(run, tr, position)
    method, steps, baseline = method_ui(run)
    a = attribution(str(run.path), stamp(run), tr.text, position, target, method, steps, baseline, run)
    st.subheader(f"What moved {md(a.what)} at position {position}")
    st.html(insight_charts.attribution_html(a.text, a.scores, a.start, a.position, a.what))
    st.html(color_legend_html(insight_charts.symmetric(a.scores[a.start:a.position + 1]), "attribution"))
    if a.start > 0:
        st.caption(f"A window run reads only the {position - a.start + 1} characters up to the position from an "
                   "empty state: the grey ones were not read for this prediction.")
    summary = f"Its value on this text: **{a.value:+.3f}**."
    if a.baseline_value is not None:
        base = "the zero embedding" if a.baseline == "zero" else f"“{char_label(a.baseline)}” everywhere"
        summary += (f" On the baseline ({base}): **{a.baseline_value:+.3f}**. The scores add up to "
                    f"**{a.total:+.3f}**, the change being {a.value - a.baseline_value:+.3f}.")
    st.markdown(summary)
    if a.gap is not None and a.gap > 0.05:
        st.warning(f"The scores miss the change by {a.gap:.0%}: the gradients along the path vary too fast for "
                   f"{steps} steps. Take more steps"
                   + (", or a character as the baseline: the zero embedding can drive a trained LSTM into states "
                      "whose gradients explode" if a.baseline == "zero" else "") + ".", icon=":material/warning:")
    chart = insight_charts.attribution_chart(a.text, a.scores, a.start, a.position, a.what)
    left, right = st.columns([3, 2])
    with left:
        st.altair_chart(chart, width="stretch", key="insight.attr_chart")
    with right:
        st.dataframe(pd.DataFrame([{"position": t, "character": char_label(c), "attribution": s}
                                   for t, c, s in attr_mod.top_characters(a, 10)]), hide_index=True,
                     key="insight.attr_top", column_config={"attribution": st.column_config.NumberColumn(
                         format="%+.4f")})
    downloads_ui("attribution", tables.attribution_table(a), chart, "insight.attr_dl",
                 "each character's attribution")


# ---- components
@st.cache_data(show_spinner="Factorising the activations…", max_entries=32)
def factorised(path: str, stamp: str, text: str, layer: int, state: str, k: int, _run: Run
               ) -> tuple[comp_mod.Components, comp_mod.Projection]:
    tr = gates.trace(_run, text)
    return comp_mod.components(tr, layer, state, k), comp_mod.project(tr.layers[layer]["hidden"])


def source_text_ui(run: Run, key: str, field: str, label: str) -> str | None:
    """A text area that starts with a sample of the run's corpus (as long as the server allows); None when the model
    cannot read it."""
    if st.session_state.get(f"{key}.context") != str(run.path):  # a new model: a sample of its own corpus
        st.session_state[f"{key}.context"] = str(run.path)
        st.session_state[key] = corpus_text(run, min(getattr(limits(), field), 2_000))[0]
    cap = capped(key, field)
    text = clip(st.text_area(label, key=key, max_chars=cap, height=120,
                             help=f"It starts as the held-out end of the run's corpus, which the model never "
                                  f"trained on; paste your own (at most {cap:,} characters)."), cap)
    missing = run.vocab.missing(text if not run.config.lowercase else text.lower())
    if missing:
        st.warning("The model cannot read " + ", ".join(f"“{char_label(c)}”" for c in missing)
                   + ": they are left out.", icon=":material/warning:")
    ids = run.vocab.encode(text if not run.config.lowercase else text.lower(), drop_unknown=True)
    if len(ids) < 20:
        st.info("Give at least 20 characters the model knows.", icon=":material/keyboard:")
        return None
    return run.vocab.decode(ids)


def components_view(run: Run) -> None:
    st.markdown("A layer's gates (by non-negative matrix factorisation) or its cell state (by principal components) "
                "over a long text, as a few **components**: groups of units that rise and fall together. Each has "
                "a strength at every character and a weight on every unit. After ecco's factorisation of "
                "activations; the map below is LIT's projection of hidden states.")
    text = source_text_ui(run, "insight.comp_text", "max_components_text", "Text to factorise")
    if text is None:
        return
    a, b, c = st.columns(3)
    layers = range(run.config.layers)
    default_for("insight.comp_layer", run.path, run.config.layers - 1)
    layer = a.selectbox("Layer", layers, format_func=lambda i: f"Layer {i + 1}", key="insight.comp_layer")
    if "insight.comp_state" not in st.session_state:
        st.session_state["insight.comp_state"] = "forget"
    state = b.selectbox("Of", [*comp_mod.NMF_ON, *comp_mod.PCA_ON], format_func=STATES.get, key="insight.comp_state",
                        help="Gates are between 0 and 1: factorised into parts that add up (NMF). The cell and "
                             "hidden states have signs: split into directions of most variance (PCA).")
    if "insight.comp_k" not in st.session_state:
        st.session_state["insight.comp_k"] = comp_mod.DEFAULT_K
    k = c.slider("Components", 2, 12, key="insight.comp_k")
    comps, proj = factorised(str(run.path), stamp(run), text, layer, state, k, run)
    method = "NMF" if comps.method == "nmf" else "PCA"
    st.subheader(f"{k} components of the {STATES[state].lower()}, layer {layer + 1} ({method})")
    heat = insight_charts.components_heatmap(comps.strengths[:400], text[:400], signed=comps.method == "pca")
    st.altair_chart(heat, width="stretch", key="insight.comp_heat")
    st.caption(f"The first {min(400, len(text)):,} of {len(text):,} characters; each row scaled to its own largest "
               "strength. Hover for the character and the strength.")
    rows = [{"component": comp.index + 1, "share": comp.share,
             "top units": ", ".join(f"{u} ({w:+.2f})" for u, w in comp.top_units),
             "follows": labels.LABELS[comp.label].title if comp.label else "–", "r": comp.label_r}
            for comp in comps.components]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="insight.comp_table", column_config={
        "share": st.column_config.ProgressColumn(
            "share", min_value=0.0, max_value=1.0, format="%.2f",
            help="PCA: the fraction of the variance it explains. NMF: its fraction of the reconstruction."),
        "r": st.column_config.NumberColumn("r", format="%+.2f", help="correlation of its strength with the label")})

    st.subheader("One component, character by character")
    picks = list(range(k))
    if st.session_state.get("insight.comp_pick") not in picks:
        st.session_state["insight.comp_pick"] = 0
    pick = st.selectbox("Component", picks, key="insight.comp_pick", format_func=lambda j: f"component {j + 1}")
    comp = comps.components[pick]
    shown = text[:600]
    values = comp.strengths[:600]
    value_range = insight_charts.symmetric(values) if comps.method == "pca" else (0.0, float(values.max()) or 1.0)
    left, right = st.columns([3, 1])
    with left:
        st.html(colored_text_html(shown, values, value_range, what=f"component {pick + 1}"))
        st.html(color_legend_html(value_range, f"component {pick + 1}"))
    with right:
        st.altair_chart(insight_charts.loadings_chart(comp.top_units), width="stretch", key="insight.comp_units")

    st.subheader("The map: every character's hidden state")
    if "insight.comp_label" not in st.session_state:
        st.session_state["insight.comp_label"] = "line-position"
    name = st.selectbox("Colour by", list(labels.LABELS), format_func=lambda n: labels.LABELS[n].title,
                        key="insight.comp_label", help="A label of the Units page's cell finder.")
    label = labels.LABELS[name]
    y = label.fn(text)
    chart = insight_charts.projection_chart(proj.xy, text, comp_mod.contexts(text), label.title, y, label.binary,
                                            proj.explained)
    st.altair_chart(chart, width="stretch", key="insight.comp_map")
    st.caption(f"Layer {layer + 1}'s hidden state at each of the {len(text):,} characters, projected on its two "
               "directions of largest variance. Hover a point for its context.")
    downloads_ui("components", tables.components_table(comps, proj, (name, y)), chart, "insight.comp_dl",
                 "each component's strength, the map's x and y, and the label")


# ---- two runs
def runs_to_compare(run: Run) -> dict[str, str]:
    """The runs this visitor may compare with the active one: key -> label, the shipped model first."""
    out = {DEMO: "the shipped demo model"}
    for r in shelf().list():
        if r.path.joinpath("weights.npz").exists():
            out[r.key] = f"{r.key[:8]} · {r.meta.get('corpus_name', '?')} · {r.config.layers} × {r.config.units}"
    return out


@st.cache_data(show_spinner="Reading the text with both models…", max_entries=16)
def compared(path_a: str, stamp_a: str, path_b: str, stamp_b: str, text: str, _a: Run, _b: Run
             ) -> compare_mod.Comparison:
    return compare_mod.compare(compare_mod.Side.of(_a, "A"), compare_mod.Side.of(_b, "B"), text)


def compare_view(run: Run) -> None:
    st.markdown("The active model (A) and another (B) read the same text: where is each surprised, where do they "
                "disagree most, and which unit of B does each unit of A match (the correlation of their cell "
                "states over the text)? LSTMVis users asked for this; here both models are yours.")
    choices = runs_to_compare(run)
    if len(choices) > 1 and active_key() in choices:
        choices.pop(active_key())
    default_for("insight.cmp_b", run.path, next(iter(choices)) if not is_demo(run) or len(choices) == 1
                else list(choices)[1])
    if st.session_state["insight.cmp_b"] not in choices:
        st.session_state["insight.cmp_b"] = next(iter(choices))
    key_b = st.selectbox("Model B", list(choices), format_func=choices.get, key="insight.cmp_b")
    other = demo() if key_b == DEMO else load_run(key_b)
    if other is None:
        st.warning("That run is gone.", icon=":material/warning:")
        return
    if other.path == run.path:
        st.info("A and B are the same model here (train another to compare): every difference is 0 and every "
                "unit matches itself.", icon=":material/info:")
    text = source_text_ui(run, "insight.cmp_text", "max_compare_text", "Text both read")
    if text is None:
        return
    try:
        cmp = compared(str(run.path), stamp(run), str(other.path), stamp(other), text, run, other)
    except (ValueError, CorpusError) as e:
        st.warning(f"Nothing to compare: {md(e)}.", icon=":material/warning:")
        return
    if cmp.dropped:
        st.caption("Left out, since one of the two cannot read them: "
                   + ", ".join(f"“{char_label(c)}”" for c in cmp.dropped) + ".")
    m1, m2, m3 = st.columns(3)
    m1.metric("A: mean surprise", f"{cmp.mean_a:.3f} nats/char")
    m2.metric("B: mean surprise", f"{cmp.mean_b:.3f} nats/char")
    m3.metric("Matched units (|r| > 0.8)", f"{sum(abs(m.r) > 0.8 for m in cmp.matches)} of {len(cmp.matches)}")
    st.subheader("Surprise, character by character")
    chart = insight_charts.loss_strip_chart(cmp.text, cmp.loss_a, cmp.loss_b, "A", "B")
    st.altair_chart(chart, width="stretch", key="insight.cmp_strip")
    st.caption(f"The first {min(400, len(cmp.text)):,} of {len(cmp.text):,} characters. Below: A's surprise "
               "minus B's; orange where A is more surprised.")
    left, right = st.columns(2)
    with left:
        st.subheader("Where they disagree most")
        top = [{"position": d.position, "context": insight_charts.context_line(cmp.text, d.position), "A": d.loss_a,
                "B": d.loss_b, "A − B": d.diff} for d in cmp.disagreements(12)]
        st.dataframe(pd.DataFrame(top),
                     hide_index=True, key="insight.cmp_top", column_config={
                         c: st.column_config.NumberColumn(format="%.2f") for c in ("A", "B", "A − B")})
    with right:
        st.subheader("Each unit of A, its match in B")
        st.dataframe(tables.matches_table(cmp), hide_index=True, key="insight.cmp_matches", column_config={
            "r": st.column_config.NumberColumn(format="%+.3f", help="correlation of the two cell states"),
            "mutual": st.column_config.CheckboxColumn(help="A's unit is also B's unit's best match")})
    st.altair_chart(insight_charts.matches_chart([m.r for m in cmp.matches]), width="stretch",
                    key="insight.cmp_hist")
    downloads_ui("two-runs", tables.compare_table(cmp), chart, "insight.cmp_dl", "each run's loss per character")
    st.download_button("Unit matches, CSV", tables.to_csv(tables.matches_table(cmp)), file_name="unit-matches.csv",
                       mime="text/csv", key="insight.cmp_dl.matches", on_click="ignore", icon=":material/download:")


run = active_run()
restore(KEYS, KEPT)
st.title("Insight")
st.markdown(f"Beyond single units, for the active model ({md(run.meta.get('corpus_name', '?'))}, {run.config.layers} × "
            f"{run.config.units}{', the shipped demo' if is_demo(run) else ''}): why it predicts what it does, what "
            "its units do together, and how it differs from another model. Every view's numbers download as CSV, "
            "one row per character.")
lazy_tabs_ui(dict(zip(VIEWS, (partial(view, run) for view in (attribution_view, components_view, compare_view)),
                      strict=True)), key="insight.view")
remember(KEYS, KEPT)
