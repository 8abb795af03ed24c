"""Units: what single units do. The cell finder, span search and match, and surprise under every character."""

from pages.common.navigation import through_app

through_app()  # first, before the heavy imports: see pages/common/navigation.py

from functools import partial

import numpy as np
import pandas as pd
import streamlit as st

from charlstm.insight import find, gates, labels
from charlstm.insight.surprise import surprise
from charlstm.runs.store import Run
from charlstm.serve.limits import clip
from charlstm.views import tables, unit_charts
from charlstm.views.charts import color_legend_html
from pages.common.persist import default_for, remember, restore
from pages.common.resources import is_demo, run_store
from pages.common.server_limits import capped, limits
from pages.common.session import active_run
from pages.common.text import md
from pages.common.widgets import downloads_ui, lazy_tabs_ui, traced_ui

VIEWS = ["Cell finder", "Span search and match", "Surprise"]
STATES = {"hidden": "Hidden state", "cell": "Cell state", "input": "Input gate", "forget": "Forget gate",
          "candidate": "Candidate", "output": "Output gate"}
SCORED = {"both": "Cell and hidden state", "cell": "Cell state", "hidden": "Hidden state"}
REGEX = "regex"  # the label choice that opens a box for the user's own pattern
DEFAULT_SPAN = (19, 19)  # the space after "eat." in gates.EXAMPLE: the units that mark a new sentence
# Widget keys kept across tabs and pages: Streamlit forgets a widget's value in a run that does not draw it,
# but keeps plain keys, so the values are copied to KEPT at the end of every run and back before the widgets.
KEYS = ("units.label", "units.states", "units.regex", "units.pick", "units.span_example", "units.span_text",
        "units.drop", "units.layer", "units.state", "units.threshold", "units.below", "units.span",
        "units.surprise_example", "units.surprise_text", "units.surprise_drop")
KEPT = "units.kept"


# ---- cached work: the corpus sample and its trace are the same for every visitor of a run
@st.cache_data(show_spinner=False, max_entries=16)
def the_sample(path: str, stamp: str, _run: Run) -> find.Sample | None:
    return find.run_sample(_run, run_store(_run))


# Read-only arrays shared by every session; 20,000 characters x 256 units x 2 layers x 2 states is 82 MB for the
# shipped model (41 MB for a 2 x 128 one), so only a few.
@st.cache_resource(show_spinner="Reading the corpus sample through the model…", max_entries=4, ttl=3600)
def sample_trace(path: str, stamp: str, states: tuple[str, ...], layers: int | None, _run: Run,
                 _text: str) -> find.LongTrace:
    return find.trace_long(_run.weights, _run.vocab, _text, states=states, layers=layers)  # read-only arrays


@st.cache_data(show_spinner="Scoring every unit…", max_entries=64)
def ranking(path: str, stamp: str, name: str | None, regex: str | None, states: tuple[str, ...],
            _long: find.LongTrace, max_pattern: int) -> tuple[str, str, bool, np.ndarray, list[find.UnitScore]]:
    label, y = find.label_for(_long.text, name, regex, max_pattern)
    return label.title, label.help, label.binary, y, find.rank_units(_long, y, label.binary, states, k=10)


def stamp(run: Run) -> str:
    return run.meta.get("created", "")


def no_sample_note() -> None:
    st.info("The corpus this run was trained on is not stored on this server, so there is no sample to search. "
            "Runs trained here keep their corpus; the command line takes one with `--corpus FILE`.",
            icon=":material/info:")


# ---- the cell finder
def cell_finder_view(run: Run) -> None:
    st.markdown("Give a rule that marks some characters (inside a quotation, the start of a word, how far into the "
                "line), and every unit of every layer is scored by how well its value alone tells the marked "
                "characters from the rest, over a sample of text. This is how Karpathy, Johnson and Fei-Fei (2015) "
                "found their *interpretable cells*.")
    sample = the_sample(str(run.path), stamp(run), run)
    if sample is None:
        no_sample_note()
        return
    if "units.label" not in st.session_state:
        st.session_state["units.label"] = "line-position"
    left, middle, right = st.columns([2, 2, 3])
    with left:
        choice = st.selectbox("Label", [*labels.LABELS, REGEX], key="units.label",
                              format_func=lambda n: "Your own regular expression…" if n == REGEX
                              else labels.LABELS[n].title)
    with middle:
        scored = st.radio("Score each unit's", list(SCORED), format_func=SCORED.get, key="units.states",
                          help="The cell state is the unit's memory; the hidden state is what it shows the next "
                               "layer. A unit can count in its memory and show little of it.")
    regex, max_pattern = None, limits().max_pattern
    if choice == REGEX:
        with right:
            if "units.regex" not in st.session_state:
                st.session_state["units.regex"] = r"\b[A-Z]+:"
            # no max_chars: the browser would drop a longer paste without a word; the server says why instead
            regex = st.text_input("Regular expression", key="units.regex",
                                  help="Python's syntax, run by RE2 in time linear in the text: no lookaround, "
                                       f"no backreferences, at most {max_pattern:,} characters. Every character "
                                       "inside a match is labelled: "
                                       r"`\b[A-Z]+:` marks the speakers' names in Shakespeare.")
    states = ("cell", "hidden") if scored == "both" else (scored,)
    long = sample_trace(str(run.path), stamp(run), ("cell", "hidden"), None, run, sample.text)
    try:
        title, help_, binary, y, ranked = ranking(str(run.path), stamp(run), None if regex else choice, regex,
                                                  states, long, max_pattern)
    except ValueError as e:
        st.warning(f"Nothing to score: {md(e)}.", icon=":material/warning:")
        return
    count = (f"{int(y.sum()):,} of them ({y.mean():.1%}) are labelled" if binary
             else "each labelled with its position in its line")
    st.caption(f"**{md(title)}:** {md(help_)} Scored over {md(sample.source)}; {count}.")
    if binary:
        st.info("A unit's score is the **area under the ROC curve** (AUC): the chance that a labelled character "
                "gets a higher value than an unlabelled one. 1 means always higher, 0 always lower (a detector "
                "with its sign flipped, just as good), 0.5 a coin toss.", icon=":material/lightbulb:")
    else:
        st.info("A unit's score is its **correlation** r with the position in the line: +1 if it rises steadily "
                "as the line goes on, −1 if it falls, 0 if it ignores it.", icon=":material/lightbulb:")

    def name(u: find.UnitScore) -> str:
        return unit_charts.unit_name(u.layer, u.state, u.unit)

    st.subheader("The units that follow the label best")
    left, right = st.columns([1, 1])
    with left:
        st.dataframe(pd.DataFrame([{"rank": i, "layer": u.layer + 1, "unit": u.unit, "state": u.state,
                                    "score": u.score, "separation": u.strength} for i, u in enumerate(ranked, 1)]),
                     hide_index=True, key="units.ranking",
                     column_config={"score": st.column_config.NumberColumn("AUC" if binary else "r", format="%.3f"),
                                    "separation": st.column_config.ProgressColumn(
                                        "separation", min_value=0.0, max_value=1.0, format="%.2f",
                                        help="|2 AUC − 1| or |r|: 1 separates perfectly, either way round")})
    with right:
        st.altair_chart(unit_charts.scores_chart([{"name": name(u), "score": u.score, "rank": i}
                                                  for i, u in enumerate(ranked)], binary),
                        width="stretch", key="units.scores")

    st.subheader("One unit, character by character")
    picks = list(range(len(ranked)))
    default_for("units.pick", (str(run.path), title, scored), 0)
    if st.session_state.get("units.pick") not in picks:
        st.session_state["units.pick"] = 0
    pick = st.selectbox("Unit", picks, key="units.pick",
                        format_func=lambda i: f"#{i + 1}: {name(ranked[i])} ({'AUC' if binary else 'r'} "
                                              f"{ranked[i].score:.3f})")
    best = ranked[pick]
    values = long.layers[best.layer][best.state][:, best.unit]  # (T,)
    a, b = unit_charts.excerpt(y, long.text)
    value_range = (-1.0, 1.0)
    if best.state == "cell":  # unbounded: the unit's own range over the excerpt
        m = float(np.abs(values[a:b]).max()) or 1.0
        value_range = (-m, m)
    what = f"{best.state} state"
    mark = " A bar marks every labelled character." if binary else ""
    st.markdown(f"A stretch of the sample coloured by **{name(best)}**: red above zero, blue below.{mark} "
                "Hover a character for its value.")
    st.html(unit_charts.labelled_text_html(long.text[a:b], values[a:b], value_range, y[a:b] if binary else None,
                                           what))
    st.html(color_legend_html(value_range, what))
    st.markdown("**What the score sees:** " + (
        "the unit's values on labelled characters against all the others. The less the two overlap, the "
        "further the AUC from 0.5." if binary else
        "the unit's typical value at each position in the line (the line: median; the band: the middle half)."))
    chart = unit_charts.separation_chart(values, y, binary, what)
    st.altair_chart(chart, width="stretch", key="units.separation")
    downloads_ui("units-" + name(best).replace(" ", "-"), lambda: tables.units_table(
        long.text, {"label": y, **{f"L{u.layer + 1}_{u.state}_u{u.unit}": long.layers[u.layer][u.state][:, u.unit]
                                   for u in ranked}}), chart, "units.dl",
        "the label and each ranked unit's value along the whole sample")


# ---- span search and match
def apply_example(key: str, example_key: str) -> None:
    st.session_state[key] = gates.PRESETS[st.session_state[example_key]]


def text_box(prefix: str, default: str, label: str) -> str:
    """An example picker and a text area, keyed units.<prefix>_text and units.<prefix>_example."""
    key, example = f"units.{prefix}_text", f"units.{prefix}_example"
    if key not in st.session_state:
        st.session_state[key] = default
    if example not in st.session_state:
        st.session_state[example] = next((k for k, v in gates.PRESETS.items() if v == default), "Two sentences")
    left, right = st.columns([3, 1])
    with right:
        st.selectbox("Example", list(gates.PRESETS), key=example, on_change=apply_example, args=(key, example))
    with left:
        cap = capped(key, "max_units_text")
        return clip(st.text_area(label, key=key, max_chars=cap, height=90,
                                 help="The model reads it character by character from an empty memory."), cap)


def first_boundary_span(text: str) -> tuple[int, int]:
    """The space after the first sentence end, or the first word: a span that says something."""
    b = gates.sentence_boundaries(text)
    if b:
        return b[0] + 1, b[0] + 1
    return 0, max(0, min(len(text), text.find(" ") if " " in text else 5) - 1)


def span_view(run: Run) -> None:
    st.markdown("Pick a stretch of text and a threshold: the units that are **on through the whole span and off "
                "just before and after it** are the ones that mark it. Then see where else those units turn on "
                "together, across a sample of the corpus. After LSTMVis (Strobelt et al., 2017).")
    text = text_box("span", gates.EXAMPLE, "Text to trace")
    tr = traced_ui(run, text, "units.drop")
    if tr is None:
        return
    T = len(tr.text)
    c1, c2, c3 = st.columns([1, 2, 2])
    with c1:
        layers = range(run.config.layers)
        if st.session_state.get("units.layer") not in layers:
            st.session_state["units.layer"] = run.config.layers - 1
        layer = st.selectbox("Layer", layers, format_func=lambda i: f"Layer {i + 1} of {run.config.layers}",
                             key="units.layer")
    with c2:
        if "units.state" not in st.session_state:
            st.session_state["units.state"] = "hidden"
        state = st.selectbox("State", list(STATES), format_func=STATES.get, key="units.state",
                             help="The hidden state is what a unit shows; any gate or the cell state works too.")
    lo, hi = gates.RANGES[state]
    with c3:
        default_for("units.threshold", state, {"cell": 1.0, "candidate": 0.5, "hidden": 0.5}.get(state, 0.5))
        threshold = st.slider("Threshold", float(lo), float(hi), step=0.05, key="units.threshold",
                              help="A unit is on where its value is at or above this.")
    below = st.toggle("Look for units that switch **off** through the span instead (below the threshold inside, "
                      "above it around), like a forget gate letting go", key="units.below")
    default_for("units.span", tr.text, DEFAULT_SPAN if tr.text == gates.EXAMPLE else first_boundary_span(tr.text))
    first, last = st.session_state["units.span"]
    if not 0 <= first <= last < T:
        st.session_state["units.span"] = first_boundary_span(tr.text)
    first, last = st.slider("Span: its first and last character", 0, T - 1, key="units.span",
                            help="Drag the two ends. The span below is highlighted.")
    start, end = first, last + 1
    st.html(unit_charts.span_text_html(tr.text, start, end))
    values = tr.layers[layer][state]  # (T, units)
    found = find.span_search(values, start, end, threshold, below=below)
    shown = unit_charts.glyph(tr.text[start]) if end - start == 1 else f"{tr.text[start:end]}"
    side, other = ("below", "at or above") if below else ("at or above", "below")
    if not found:
        st.info(f"No unit of layer {layer + 1} has its {STATES[state].lower()} {side} {threshold:g} all through "
                f"“{shown}” and {other} it just before and after. Move the threshold, or try another state, layer "
                "or span.", icon=":material/search_off:")
        return
    st.subheader(f"{len(found)} unit{'s' * (len(found) != 1)} mark “{shown}”")
    st.markdown(f"Their {STATES[state].lower()} is {side} {threshold:g} through the span and {other} it on the "
                "characters around it, ranked by the margin between the two.")
    st.altair_chart(unit_charts.span_chart(values, tr.text, [f.unit for f in found], threshold, start, end,
                                           STATES[state].lower()), width="stretch", key="units.span_chart")
    left, right = st.columns([2, 3])
    with left:
        st.dataframe(pd.DataFrame([{"unit": f.unit, "inside": f.inside, "around": f.around, "margin": f.margin}
                                   for f in found]), hide_index=True, key="units.found",
                     column_config={"inside": st.column_config.NumberColumn(
                         "inside", format="%+.3f", help="the weakest value through the span"),
                         "around": st.column_config.NumberColumn(
                             "around", format="%+.3f", help="the strongest value just before and after"),
                         "margin": st.column_config.NumberColumn("margin", format="%.3f")})
    with right:
        st.caption("Above: the units found in colour (at most ten), a sample of the others in grey, the threshold "
                   "dashed, the span in yellow. Left: each unit's weakest value inside the span, its strongest just "
                   "around it, and the margin between the two.")

    st.subheader(f"Where else they switch {'off' if below else 'on'} together")
    sample = the_sample(str(run.path), stamp(run), run)
    if sample is None:
        no_sample_note()
        return
    if state in ("cell", "hidden"):  # the cell finder's trace has both, for every layer: one trace serves the two
        long = sample_trace(str(run.path), stamp(run), ("cell", "hidden"), None, run, sample.text)
    else:
        long = sample_trace(str(run.path), stamp(run), (state,), layer + 1, run, sample.text)
    units = [f.unit for f in found]
    matches = find.match(long.layers[layer][state], units, threshold, end - start, below=below, k=12)
    col = long.layers[layer][state][:, units]
    share = ((col < threshold) if below else (col >= threshold)).mean(axis=1)  # (T,)
    st.markdown(f"Searched: {md(sample.source)}. Below, the places where at least half of these units are "
                f"{'off' if below else 'on'} at once, best first. A score of 1 means all of them, for exactly as "
                "many characters as your span; the shade of each matched character shows how many.")
    if not matches:
        st.info("Nowhere: these units never switch together in the sample.", icon=":material/search_off:")
        return
    st.html(unit_charts.matches_html(long.text, matches, share))


# ---- surprise under every character
def surprise_view(run: Run) -> None:
    st.markdown("Under each character: how surprised the model was to see it (−log p, in nats, given everything "
                "before it) and its five best guesses for that place, shaded by probability. Karpathy, Johnson and "
                "Fei-Fei (2015) drew the same strip.")
    text = text_box("surprise", gates.PRESETS["Shakespeare"], "Text to read")
    tr = traced_ui(run, text, "units.surprise_drop")
    if tr is None:
        return
    s = surprise(tr)
    hits1 = np.mean([s.guesses[t][0][0] == s.text[t] for t in range(1, len(s.text))])
    hits5 = np.mean([s.hit(t) for t in range(1, len(s.text))])
    a, b, c = st.columns(3)
    val = run.val_loss
    a.metric("Mean surprise", f"{s.mean:.2f} nats/char",
             help="Averaged over every character after the first: this is the loss the model was trained to lower.")
    b.metric("First guess right", f"{hits1:.0%}")
    c.metric("Right within five guesses", f"{hits5:.0%}")
    if val is not None:
        st.caption(f"The model's validation loss, the same mean over its held-out text, is {val:.3f} nats/char.")
    st.markdown("Each column: the character, shaded by how surprising it was; its surprise in nats; then the "
                "model's five best guesses for that place, made before it read the character, best first. An "
                "outline marks the guess that was right.")
    st.html(unit_charts.surprise_strip_html(s.text, s.nats, s.guesses))
    st.html(unit_charts.surprise_legend_html())
    downloads_ui("surprise", tables.surprise_table(s), unit_charts.surprise_chart(s.text, s.nats), "units.surprise_dl",
                 "each character's surprise and the model's five guesses for it")


run = active_run()
restore(KEYS, KEPT)
st.title("Units")
st.markdown(f"What do single units of the active model ({md(run.meta.get('corpus_name', '?'))}, {run.config.layers} × "
            f"{run.config.units}{', the shipped demo' if is_demo(run) else ''}) do? Three ways to find out. Every "
            "value comes from charlstm's own numpy LSTM over the Keras weights, gate by gate and character by "
            "character, which is also how to get a Keras LSTM's gates at every time step (Keras returns only the "
            "hidden state): `python -m charlstm trace RUN --format csv` writes them all.")
lazy_tabs_ui(dict(zip(VIEWS, (partial(view, run) for view in (cell_finder_view, span_view, surprise_view)),
                      strict=True)), key="units.view")
remember(KEYS, KEPT)
