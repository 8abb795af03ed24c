"""Home: what charlstm is and where to start."""

from pages.common.navigation import through_app

through_app()  # first, before the heavy imports: see pages/common/navigation.py

import streamlit as st

from charlstm.insight.lessons import SHIPPED_NOTE, SHIPPED_UNITS
from charlstm.views import charts, comparison
from pages.common import session
from pages.common.navigation import link
from pages.common.resources import is_demo
from pages.common.widgets import intro


def pages_ui() -> None:
    """Where to go: one link a page, with what it shows."""
    left, right = st.columns(2)
    with left:
        link("corpus", label="**Corpus**: choose or upload a text")
        st.caption("Size, characters, the mapping to numbers, and the training pairs the model learns from.")
        link("train", label="**Train**: train a model in the background")
        st.caption("Presets, live loss curves, a queue, stored runs you can continue, download or share.")
        link("units", label="**Units**: what single units do")
        st.caption("The cell finder, span search and match, and the model's surprise under every character.")
        link("generate", label="**Generate**: let the model write")
        st.caption("Priming text, temperature, top-k and a seed; the text streams in as it is sampled.")
    with right:
        link("gates", label="**Gates**: look inside the LSTM")
        st.caption("Input, forget and output gates, cell and hidden states, character by character.")
        link("teach", label="**Teach**: the three gates, one lesson each")
        st.caption("The cell drawn from live values, clamp a unit, minimal pairs, how a unit learned.")
        link("insight", label="**Insight**: beyond single units")
        st.caption("Which characters made a prediction, what units do together, two models side by side.")


def how_an_lstm_reads_ui() -> None:
    with st.expander("How an LSTM cell reads one character"):
        st.markdown(
            "For each character the cell computes four vectors from the character's embedding $x_t$ and the "
            "previous hidden state $h_{t-1}$:\n\n"
            "- input gate $i_t = \\sigma(W_i x_t + U_i h_{t-1} + b_i)$: how much new content to write\n"
            "- forget gate $f_t = \\sigma(W_f x_t + U_f h_{t-1} + b_f)$: how much old memory to keep\n"
            "- candidate $g_t = \\tanh(W_g x_t + U_g h_{t-1} + b_g)$: the new content itself\n"
            "- output gate $o_t = \\sigma(W_o x_t + U_o h_{t-1} + b_o)$: how much memory to reveal\n\n"
            "then updates its memory (the cell state) and its output (the hidden state):\n\n"
            "$$c_t = f_t \\odot c_{t-1} + i_t \\odot g_t, \\qquad h_t = o_t \\odot \\tanh(c_t)$$\n\n"
            "A stacked LSTM feeds each layer's hidden states to the next layer; the last one predicts the "
            "next character through a softmax over the vocabulary."
        )


def tutorial_comparison() -> None:
    """The measured comparison of the classic tutorial's formulation with charlstm's (bench/tutorial_bench.py)."""
    results = comparison.load()
    if results is None:
        return
    with st.expander("Why the classic tutorial learns slowly: its model against charlstm's, measured"):
        m = results["machine"]
        st.markdown(f"Both trained for {results['minutes']:g} minutes on {results['corpus']}, on "
                    f"{m['cpus']} CPU cores ({results['date']}; {results.get('note') or 'nothing else noted'}). "
                    f"Both are scored on the same {results['val_windows']:,} held-out windows: the loss on the "
                    f"character after each {results['window']}-character window. Train the tutorial's own model "
                    "with the preset **the tutorial, exactly** on the Train page.")
        st.markdown(comparison.markdown_table(results))  # docs/tutorial.md's table, numbers formatted the same way
        st.altair_chart(charts.comparison_curves(comparison.curve_points(results)), width="stretch",
                        key="home.comparison_chart")
        st.markdown(" ".join(comparison.WHY))
        for r in results["runs"]:
            st.markdown(f"**{r['name']}**, greedy, after “{charts.visible(results['prime'])}”:")
            st.code(r["sample"], language=None, wrap_lines=True)


def shipped_ui(run) -> None:
    """The units of the shipped model each page shows, with the figures tests/test_shipped.py measures."""
    with st.expander("What the shipped model shows, unit by unit"):
        rows = [("Gates, Teach: the forget gate", "forget"), ("Teach: the input gate", "input"),
                ("Teach: the output gate", "output"), ("Units, Teach: clamp a unit", "line-position"),
                ("Units: the cell finder", "word-start"), ("Units: the cell finder", "speaker-line")]
        st.markdown("\n".join(f"- **{where}**: layer {SHIPPED_UNITS[k][0]}, unit {SHIPPED_UNITS[k][1]}: "
                               f"{SHIPPED_UNITS[k][2]}." for where, k in rows))
        st.caption(f"Measured on the shipped files by the test suite. {shipped_loss(run)} {SHIPPED_NOTE}")


def shipped_loss(run) -> str:
    """The shipped model's validation loss in words, and the lowest of its training when another epoch ships."""
    said = f"Its validation loss is {run.val_loss:.3f} nats/char (epoch {run.best_epoch} of {run.epochs_done})"
    lowest = run.history.get("lowest_val")
    if lowest and lowest["epoch"] != run.best_epoch:
        said += (f"; the lowest of its training was {lowest['val_loss']:.3f}, at epoch {lowest['epoch']}, and this "
                 "epoch ships because it shows the lessons best")
    return said + "."


intro(
    "charlstm",
    "A lab for **character-level LSTMs**: a network that reads text one character at a time and learns to "
    "predict the next one. Pick a text, train a small stacked LSTM in the background, then look inside it: "
    "which gates open and close on every character, which units forget at the end of a sentence, and what "
    "it writes when you let it continue a text."
)
pages_ui()
active = session.active_run()
if is_demo(active):
    st.info("Gates and Generate already work with a small demo model trained on tiny Shakespeare. "
            "Train your own on the Train page and it becomes the active model.")
    shipped_ui(active)
how_an_lstm_reads_ui()
tutorial_comparison()
