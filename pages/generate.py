"""Generate: let the active model continue a text, streamed as it is sampled."""

from pages.common.navigation import through_app

through_app()  # first, before the heavy imports: see pages/common/navigation.py

import streamlit as st

from charlstm.model import sampling
from charlstm.runs.store import Run
from charlstm.serve.limits import clip
from charlstm.text.corpus import CorpusError
from charlstm.views import charts
from pages.common import session
from pages.common.persist import default_for
from pages.common.resources import is_demo, run_facts
from pages.common.server_limits import capped, limits
from pages.common.text import model_words
from pages.common.widgets import intro, missing_chars_ui


def rate_caption(stats: dict) -> str:
    n, s = len(stats["text"]), stats["seconds"]  # generated characters only, not the priming text
    return f"{n:,} characters in {s:.2f} s: {n / s:,.0f} characters per second." if s > 0 else f"{n:,} characters."


def settings_ui(run: Run) -> tuple[str, int, float, int, int]:
    """The priming text, length, temperature, top-k and seed."""
    default_for("generate.prime", run.path, run_facts(run)[1])  # a new active run: a prime from its own corpus
    prime_cap = capped("generate.prime", "max_prime")
    prime = st.text_area("Priming text", key="generate.prime", max_chars=prime_cap, height=90,
                         help="The model reads this first. Empty: it starts from a newline. It starts as the start "
                              "of a line of the active run's held-out text, a line it never trained on.")
    cap = limits().max_generate_length
    for key, value in (("generate.length", min(500, cap)), ("generate.temperature", 0.8), ("generate.top_k", 0),
                       ("generate.seed", 0)):  # first values as state, not value=: these keys are also set as state
        st.session_state.setdefault(key, value)
    if st.session_state["generate.length"] > cap:  # kept from before the cap was lowered, or sent past max_value
        st.session_state["generate.length"] = cap  # (a number past max_value would put the widget back to 1)
        st.warning(f"At most {cap:,} characters a click: this server's limit.", icon=":material/content_cut:")
    a, b, c, d = st.columns(4)
    length = a.number_input("Length (characters)", min_value=1, max_value=cap, step=100,
                            key="generate.length")
    temperature = b.slider("Temperature", 0.0, 2.0, step=0.05, key="generate.temperature",
                           help="0 always takes the likeliest character (greedy); low is safe and repetitive, "
                                "high is adventurous and misspelt.")
    if st.session_state.get("generate.top_k", 0) > len(run.vocab):  # kept from a model with a larger vocabulary
        st.session_state["generate.top_k"] = 0
    top_k = c.number_input("Top-k", min_value=0, max_value=len(run.vocab), step=1, key="generate.top_k",
                           help="Sample only among the k likeliest characters; 0 means no limit.")
    seed = d.number_input("Random seed", min_value=0, step=1, key="generate.seed",
                          help="The same seed, settings and model give the same text.")
    return (clip(prime, prime_cap), min(max(int(length), 1), cap), min(max(float(temperature), 0.0), 2.0),
            min(max(int(top_k), 0), len(run.vocab)), min(max(int(seed), 0), 2**63 - 1))


REREAD, STATEFUL = "reread", "stateful"


def tutorial_mode(run) -> int:
    """For a run of the tutorial's windows: how to continue, and greedy by default. Returns the window (0: stateful).

    Sets the widgets' defaults the first time this run is seen, so it must run before they are drawn.
    """
    if run.config.formulation != "window":
        if st.session_state.pop("generate.tutorial_run", None) is not None:
            st.session_state["generate.temperature"] = 0.8  # leaving a tutorial run: the usual default again
        return 0
    n = run.config.seq_len
    if st.session_state.get("generate.tutorial_run") != run.key:
        st.session_state["generate.tutorial_run"] = run.key
        st.session_state["generate.temperature"] = 0.0  # the tutorial's generation is greedy
        st.session_state["generate.mode"] = REREAD
    mode = st.radio("How the model continues", (REREAD, STATEFUL), key="generate.mode", horizontal=True,
                    format_func={REREAD: f"Re-read the last {n} characters (the tutorial)",
                                 STATEFUL: "Carry its memory along (stateful)"}.get)
    st.caption(f"This run was trained the tutorial's way, on windows of {n} characters read from an empty state. "
               f"Re-reading, as the tutorial does, starts from an empty memory for every new character and reads "
               f"the last {n} again, so it never sees further back and does {n} steps of work per character; "
               "the stateful stepper reads each character once and carries its memory on, past any window, "
               "which this model was never trained to do.")
    return n if mode == REREAD else 0



def output_ui(run: Run, prime: str, drop: bool, length: int, temperature: float, top_k: int, seed: int,
              window: int = 0) -> None:
    """The Generate button, and the text streaming in; after another rerun, the last text again."""
    if st.button("Generate", type="primary", key="generate.go", icon=":material/auto_awesome:"):
        stats: dict = {}
        try:
            text = sampling.prepare_prime(prime, run.vocab, run.config.lowercase, drop_unknown=drop)
            chars = sampling.generate(run.weights, run.vocab, text, length, temperature, top_k, seed, window=window)
            with st.container(border=True, key="generate.output"):
                st.write_stream(charts.markdown_stream(chars, stats, prefix=text))
        except (CorpusError, ValueError) as e:
            st.error(f"Nothing generated: {e}.", icon=":material/error:")
        else:
            st.session_state["generate.last"] = stats
            st.caption(rate_caption(stats))
    elif last := st.session_state.get("generate.last"):
        with st.container(border=True, key="generate.output"):
            st.markdown(charts.markdown_text(last.get("prefix", "") + last["text"])[0])
        st.caption(rate_caption(last))


def download_ui() -> None:
    if last := st.session_state.get("generate.last"):
        st.download_button("Download the text", data=last.get("prefix", "") + last["text"],
                           file_name="generated.txt", mime="text/plain", on_click="ignore", key="generate.download",
                           icon=":material/download:")


run = session.active_run()
intro("Generate", f"The active model ({model_words(run, is_demo(run))}) reads the priming text, then writes one "
                  "character at a time, each drawn from its predicted probabilities.")
window = tutorial_mode(run)  # before the widgets: it sets their defaults for a run of the tutorial's windows
prime, length, temperature, top_k, seed = settings_ui(run)
drop = missing_chars_ui(run, prime, key="generate.drop")
output_ui(run, prime, drop, length, temperature, top_k, seed, window)
download_ui()
