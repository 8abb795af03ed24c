"""Gates: every gate, cell and hidden state of the active model, character by character."""

from pages.common.navigation import through_app

through_app()  # first, before the heavy imports: see pages/common/navigation.py

import pandas as pd
import streamlit as st

from charlstm.insight import gates
from charlstm.runs.store import Run
from charlstm.serve.limits import clip
from charlstm.text import corpus as corpus_mod
from charlstm.views import charts, tables
from pages.common import session
from pages.common.resources import builtin_corpus, is_demo, run_store
from pages.common.server_limits import capped
from pages.common.text import md, model_words
from pages.common.widgets import downloads_ui, intro, missing_chars_ui

SHOW = {"input": "Input gate", "forget": "Forget gate", "candidate": "Candidate", "output": "Output gate",
        "cell": "Cell state", "hidden": "Hidden state"}
EXPLAIN = {
    "input": "The input gate decides how much of the new candidate each unit writes into its memory: "
             "0 ignores this character, 1 writes it in fully.",
    "forget": "The forget gate decides how much of its old memory each unit keeps: "
              "1 remembers everything, 0 wipes the slate clean.",
    "candidate": "The candidate is the new content each unit proposes to remember, between −1 and 1, "
                 "before the input gate scales it.",
    "output": "The output gate decides how much of its memory each unit reveals as its hidden state: "
              "0 keeps it private, 1 shows it all.",
    "cell": "The cell state is the unit's memory, forget × old memory + input × candidate; it is unbounded, "
            "so the colours stop at ±5.",
    "hidden": "The hidden state is what the unit passes to the next layer and the next character: "
              "output gate × tanh(memory), between −1 and 1.",
}
SAMPLE = 2000  # characters of the corpus for the saturation plot


def apply_example() -> None:
    st.session_state["gates.text"] = gates.PRESETS[st.session_state["gates.example"]]


def clamp_state(key: str, options: range, default: int) -> None:
    """Keep a widget's remembered value valid when its options change (another layer, a shorter text)."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = default


def default_for(key: str, context, default: int) -> None:
    """Start a widget at `default` whenever what it refers to (text, layer) changes; the user's pick stays otherwise."""
    if st.session_state.get(f"{key}.context") != context:
        st.session_state[f"{key}.context"] = context
        st.session_state[key] = default


def corpus_sample(run: Run) -> tuple[str, str] | None:
    """About SAMPLE characters of the run's corpus from its held-out end, and where they came from."""
    corpus = run_store(run).load_corpus(run.meta.get("corpus_sha256", ""))
    if corpus is None and run.meta.get("corpus_name") == corpus_mod.BUILTIN_NAME:
        corpus = builtin_corpus()  # the demo model's corpus is the start of the built-in one
    if corpus is None:
        return None
    start = int(len(corpus.text) * (1 - run.config.val_fraction))  # text the model was not trained on
    sample = corpus.text[start:start + SAMPLE]
    return sample, f"{len(sample):,} characters from the held-out end of {md(corpus.name)}"


@st.cache_data(show_spinner="Tracing a sample of the corpus…", max_entries=16)
def saturation(path: str, stamp: str, layer: int, _run: Run, _sample: str) -> dict[str, tuple[list, list]]:
    tr = gates.trace(_run, _sample, drop_unknown=True)
    return {g: (low.tolist(), high.tolist()) for g, (low, high) in gates.saturation(tr, layer).items()}


def text_ui() -> str:
    if "gates.text" not in st.session_state:
        st.session_state["gates.text"] = gates.EXAMPLE
    cap = capped("gates.text", "max_gates_text")
    return clip(st.text_area("Text to trace", key="gates.text", max_chars=cap, height=90,
                             help="The model reads it character by character from an empty memory."), cap)


def layer_ui(run: Run) -> int:
    layers = range(run.config.layers)
    clamp_state("gates.layer", layers, run.config.layers - 1)
    return st.selectbox("Layer", layers, format_func=lambda i: f"Layer {i + 1} of {run.config.layers}",
                        key="gates.layer")


def show_ui() -> str:
    if "gates.show" not in st.session_state:
        st.session_state["gates.show"] = "forget"
    return st.radio("Show", list(SHOW), format_func=SHOW.get, key="gates.show", horizontal=True)


def controls_ui(run: Run) -> tuple[str, int, str, bool]:
    """The text, the layer, what to show, and whether to drop the characters the model never saw."""
    left, right = st.columns([3, 1])
    with right:
        st.selectbox("Example", list(gates.PRESETS), key="gates.example", on_change=apply_example,
                     help="Load an example text into the box.")
        layer = layer_ui(run)
    with left:
        text = text_ui()
    show = show_ui()
    return text, layer, show, missing_chars_ui(run, text, key="gates.drop")


def trace_ui(run: Run, text: str, drop: bool) -> gates.GateTrace:
    """The trace of the text; without one the page stops, saying what to change."""
    try:
        tr = gates.trace(run, text, drop_unknown=drop) if text else None
    except corpus_mod.CorpusError as e:
        st.error(f"Nothing traced: {e}. Tick “Drop the missing characters” or change the text.",
                 icon=":material/error:")
        st.stop()
    if tr is None or len(tr.text) < 2:
        st.info("Type at least two characters the model knows.", icon=":material/keyboard:")
        st.stop()
    return tr


def heatmap_ui(tr: gates.GateTrace, layer: int, show: str) -> None:
    values = tr.layers[layer][show]  # (T, units)
    st.subheader(f"{SHOW[show]}, layer {layer + 1}: every unit at every character")
    st.info(EXPLAIN[show], icon=":material/lightbulb:")
    st.altair_chart(charts.heatmap(values, tr.text, show, gates.RANGES[show]), width="stretch", key="gates.heatmap")
    st.caption(f"{values.shape[1]} units (rows) × {values.shape[0]} characters (columns). Hover a square for its "
               "character, position, unit and value.")
    chart = charts.heatmap(values, tr.text, show, gates.RANGES[show])
    downloads_ui(f"gates-{show}", lambda: tables.trace_table(tr, (layer,), (show,)), chart, "gates.dl",
                 f"the {SHOW[show].lower()} of every unit of layer {layer + 1} (one column per unit; "
                 "`python -m charlstm trace RUN --text T --csv FILE` writes every layer and gate)")


def means_ui(tr: gates.GateTrace, layer: int, boundaries: list[int]) -> None:
    st.subheader("The gates on average")
    st.markdown("Each gate's mean over all units at every character. The dashed line marks the sentence "
                "boundary: watch the forget gate there.")
    st.altair_chart(charts.mean_activation(tr.layers[layer], tr.text, boundaries), width="stretch",
                    key="gates.means")


def forgetters_ui(tr: gates.GateTrace, layer: int, boundaries: list[int]) -> list[gates.Forgetter]:
    st.subheader("Who forgets at the boundary")
    if not boundaries:
        st.info("There is no sentence boundary in this text. Write two sentences, like the first example, to see "
                "which units let go of the first one.", icon=":material/info:")
        return []
    boundary = boundaries[0]
    if len(boundaries) > 1:
        boundary = st.selectbox(
            "Boundary", boundaries, key="gates.boundary",
            format_func=lambda b: f"“{charts.visible(tr.text[max(0, b - 12):b + 1])}” (position {b})")
    found = gates.forgetters(tr, layer, boundary, k=10)
    st.markdown(f"The units whose forget gate falls most at the “{md(charts.glyph(tr.text[boundary]))}” at position "
                f"{boundary} compared with the characters before it: they let go of the first sentence.")
    left, right = st.columns([3, 2])
    with left:
        st.dataframe(pd.DataFrame([{
            "unit": f.unit, "forget before": f.before, "forget at boundary": f.at, "drop": f.drop,
            "cell before": f.cell_before, "cell after": f.cell_after} for f in found]),
            hide_index=True, key="gates.forgetters",
            column_config={c: st.column_config.NumberColumn(format="%.3f")
                           for c in ("forget before", "forget at boundary", "drop", "cell before", "cell after")})
    with right:
        st.altair_chart(charts.forgetters_chart([{"unit": f.unit, "before": f.before, "at": f.at, "drop": f.drop}
                                                 for f in found]), width="stretch", key="gates.forgetters_chart")
    return found


def unit_ui(tr: gates.GateTrace, layer: int, show: str, found: list[gates.Forgetter]) -> None:
    st.subheader("One unit, character by character")
    units = range(tr.layers[layer][show].shape[1])
    top = found[0].unit if found else 0
    default_for("gates.unit", (layer, tr.text, top), top)  # a new text, layer or model: its top forgetter
    clamp_state("gates.unit", units, top)
    unit = st.selectbox("Unit", units, key="gates.unit", format_func=lambda u: f"unit {u}",
                        help="Starts at the unit that forgets most at the boundary.")
    values = tr.layers[layer][show][:, unit]  # (T,)
    stretch = st.checkbox("Stretch the colours to this unit's range", key="gates.stretch",
                          help="Use the full colour scale for this unit's own smallest to largest value, "
                               "to see small changes.")
    value_range = stretched(values, gates.RANGES[show]) if stretch else gates.RANGES[show]
    st.markdown(f"The text coloured by unit {unit}'s **{SHOW[show].lower()}** in layer {layer + 1}. "
                "Hover a character for its value.")
    st.html(charts.colored_text_html(tr.text, values, value_range, what=SHOW[show].lower()))
    st.html(charts.color_legend_html(value_range, SHOW[show].lower()))


def stretched(values, value_range: tuple[float, float]) -> tuple[float, float]:
    """The unit's own range: symmetric around zero for tanh values, min to max for gates."""
    if value_range[0] < 0:
        m = float(abs(values).max())
        return (-m, m) if m > 1e-6 else value_range
    lo, hi = float(values.min()), float(values.max())
    return (lo, hi) if hi - lo > 1e-6 else value_range


def next_char_ui(tr: gates.GateTrace, boundaries: list[int]) -> None:
    st.subheader("What the model expects next")
    positions = range(len(tr.text))
    default_for("gates.position", tr.text, boundaries[0] if boundaries else len(tr.text) - 1)
    clamp_state("gates.position", positions, boundaries[0] if boundaries else len(tr.text) - 1)
    pos = st.slider("Position", 0, len(tr.text) - 1, key="gates.position",
                    help="The model's prediction after reading the text up to and including this character.")
    actual = tr.text[pos + 1] if pos + 1 < len(tr.text) else None
    left, right = st.columns([2, 3])
    with left:
        st.html(charts.context_html(tr.text, pos))
        if actual is not None:
            p = float(tr.probs[pos][tr.vocab.stoi[actual]])
            st.markdown(f"The character that really comes next, **{corpus_mod.char_label(actual)}**, got "
                        f"probability **{p:.1%}**.")
    with right:
        st.altair_chart(charts.next_char_chart(tr.top_next(pos, 10), actual), width="stretch", key="gates.next")


def saturation_ui(run: Run, layer: int) -> None:
    st.subheader("Saturation over a sample of the corpus")
    found = corpus_sample(run)
    if found is None:
        st.info("The corpus this run was trained on is not stored on this server, so there is no sample to trace.",
                icon=":material/info:")
        return
    sample, where = found
    sat = saturation(str(run.path), run.meta.get("created", ""), layer, run, sample)
    st.markdown(f"Each point is a unit of layer {layer + 1}: how often its gate is nearly shut (< 0.1, right) "
                f"against nearly wide open (> 0.9, up), over {where}. Units in the corners act like switches; "
                "units near the origin stay in between.")
    st.altair_chart(charts.saturation_chart(sat), key="gates.saturation")


def window_note(run: Run) -> None:
    """Say how a run of the tutorial's windows is traced: window by window, each from an empty state."""
    n = gates.trace_window(run.config)
    if n:
        st.info(f"This run was trained the classic tutorial's way: each window of {n} characters is read from an "
                f"empty state and predicts only the character after it. The trace reads the same way: it starts "
                f"from an empty state at the start of every window (characters 1, {n + 1}, {2 * n + 1}, …), so the "
                f"memory never carries across a window, and only the prediction after a window's last character "
                f"is one the model was trained to make.", icon=":material/crop_free:")



run = session.active_run()
intro("Gates", f"Inside the active model ({model_words(run, is_demo(run))}): what each LSTM unit does as it reads "
               "a text.")
window_note(run)
text, layer, show, drop = controls_ui(run)
tr = trace_ui(run, text, drop)
boundaries = gates.sentence_boundaries(tr.text)
heatmap_ui(tr, layer, show)
means_ui(tr, layer, boundaries)
found = forgetters_ui(tr, layer, boundaries)
unit_ui(tr, layer, show, found)
next_char_ui(tr, boundaries)
saturation_ui(run, layer)
