"""Streamlit glue shared by the pages: the cached run store and job manager, the active corpus and run, the sidebar.

Pages import it as `from pages._common import ...`; both `streamlit run app.py` and AppTest put
the folder of app.py on sys.path, which makes `pages` importable as a package.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from charlstm import corpus as corpus_mod
from charlstm import limits as limits_mod
from charlstm.corpus import Corpus
from charlstm.jobs import JobManager
from charlstm.store import Run, RunStore, StoreError, default_home, demo_run

ACTIVE_RUN = "active_run_key"  # None (or absent) means the shipped demo model
ACTIVE_CORPUS = "active_corpus"  # a charlstm.corpus.Corpus; absent means the built-in one
PAGES = {"home": "pages/home.py", "corpus": "pages/corpus.py", "train": "pages/train.py",
         "gates": "pages/gates.py", "generate": "pages/generate.py"}


def use_navigation(entrypoint: bool = False) -> None:
    """Make sure app.py's st.navigation serves this run; call it first in app.py and in every page.

    Streamlit takes a folder named pages/ beside the entrypoint for its legacy multipage layout
    (every file a page, run *without* app.py, _common.py listed as a page) until st.navigation
    has run once in the process, and AppTest re-detects the folder before every run. So the
    first request of a fresh server, or every AppTest run, may start in a page file. We then
    run app.py right here, in this same script run (so button clicks are not lost, as they would
    be with st.rerun): its st.navigation resolves the same page (our url paths are the file
    names, so the legacy and the new page hashes agree) and runs it; then this copy stops.
    """
    from streamlit.runtime.pages_manager import PagesManager  # no public switch for this

    if not PagesManager.uses_pages_directory:
        return
    PagesManager.uses_pages_directory = False
    if entrypoint:
        return  # app.py itself: it goes on to call st.navigation
    app = Path(__file__).resolve().parents[1] / "app.py"
    exec(compile(app.read_text(encoding="utf-8"), str(app), "exec"), {"__name__": "__main__", "__file__": str(app)})
    st.stop()


# Widget values that survive a visit to another page (Streamlit drops a widget's state when a
# run does not draw it); buttons and uploaders cannot be set this way and are left out.
PERSISTENT = ("train.preset", "train.layers", "train.units", "train.embedding", "train.dropout", "train.seq_len",
              "train.batch_size", "train.epochs", "train.learning_rate", "train.lowercase", "train.seed",
              "corpus.window", "gates.example", "gates.text", "gates.layer", "gates.show", "gates.drop",
              "gates.unit", "gates.stretch", "gates.position", "generate.prime", "generate.length",
              "generate.temperature", "generate.top_k", "generate.seed", "generate.drop", "generate.mode")


def keep_widget_state() -> None:
    """Re-assign the PERSISTENT widget values, which makes Streamlit keep them across pages."""
    for key in PERSISTENT:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


# ---- process-wide resources, one per run-store home (tests point CHARLSTM_HOME elsewhere)
@st.cache_resource(show_spinner=False)
def _store(home: str) -> RunStore:
    return RunStore(home)


@st.cache_resource(show_spinner=False)
def _manager(home: str) -> JobManager:
    return JobManager(_store(home))  # JobManager locks its own state: safe to share across sessions


def store() -> RunStore:
    return _store(str(default_home()))


def manager() -> JobManager:
    return _manager(str(default_home()))


@st.cache_resource(show_spinner="Loading the built-in corpus…")
def builtin_corpus() -> Corpus:
    return corpus_mod.builtin()  # immutable, so one copy serves every session


@st.cache_resource(show_spinner=False)
def demo() -> Run:
    return demo_run()


@st.cache_resource(show_spinner=False, max_entries=32)
def _run(home: str, key: str, stamp: int) -> Run | None:
    """A stored run, read once per version of its folder (stamp = meta.json's mtime)."""
    return _store(home).get(key)


# ---- limits: st.secrets over environment variables, handed to the library as plain values
def _secret_overrides() -> dict:
    try:
        if not st.secrets.load_if_toml_exists():
            return {}
        out = {k: v for k, v in st.secrets.items() if isinstance(k, str) and k.upper().startswith("CHARLSTM_")}
        section = st.secrets.get("charlstm")
        if section is not None:
            out.update({str(k): v for k, v in dict(section).items()})
        return out
    except (FileNotFoundError, KeyError, TypeError, ValueError):  # unreadable secrets: the environment decides
        return {}


def limits() -> limits_mod.Limits:
    """The server's caps; a misconfigured value stops the page with a message naming it."""
    try:
        return limits_mod.from_env(os.environ, _secret_overrides())
    except ValueError as e:
        st.error(f"This server's limits are misconfigured: {e}. Ask whoever runs it to fix the setting.")
        st.stop()


# ---- the active corpus and run, per session
def active_corpus() -> Corpus:
    return st.session_state.get(ACTIVE_CORPUS) or builtin_corpus()


def set_active_corpus(corpus: Corpus | None) -> None:
    st.session_state[ACTIVE_CORPUS] = corpus


def active_run() -> Run:
    """The session's active run; the demo model when none is chosen or the chosen one was deleted."""
    key = st.session_state.get(ACTIVE_RUN)
    if key:
        run = load_run(key)
        if run is not None:
            return run
        st.session_state[ACTIVE_RUN] = None
        st.toast("The active run is no longer stored; using the demo model.")
    return demo()


def load_run(key: str) -> Run | None:
    try:
        meta = store().path(key) / "meta.json"
        stamp = meta.stat().st_mtime_ns
    except (StoreError, OSError):
        return None
    try:
        return _run(str(default_home()), key, stamp)
    except StoreError:
        return None


def set_active_run(key: str | None) -> None:
    st.session_state[ACTIVE_RUN] = key


def is_demo(run: Run) -> bool:
    return run.path == demo().path


# ---- small formatting helpers
def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "–"
    s = round(s)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def fmt_loss(v: float | None) -> str:
    return "–" if v is None else f"{v:.3f}"


def run_summary(run: Run) -> str:
    c = run.config
    return f"{run.meta.get('corpus_name', '?')} · {c.layers} × {c.units} · val loss {fmt_loss(run.val_loss)}"


# ---- the sidebar, on every page
def sidebar() -> None:
    run = active_run()
    c = run.config
    with st.sidebar:
        st.markdown("#### Active model")
        st.markdown(
            f"**Corpus:** {run.meta.get('corpus_name', '?')}  \n"
            f"**Model:** {c.layers} × {c.units} LSTM ({run.meta.get('params', 0):,} parameters)  \n"
            f"**Epochs:** {run.epochs_done} of {c.epochs}  \n"
            f"**Val loss:** {fmt_loss(run.val_loss)} nats/char  \n"
            f"**Status:** {run.status}"
        )
        if is_demo(run):
            st.caption("This is the small demo model shipped with charlstm. Train your own on the Train page.")
        else:
            st.caption(f"Run `{run.key[:8]}`")
        current = manager().current()
        if current is not None:  # drawn once per page run: the live progress is on the Train page
            c = current.config
            st.page_link(PAGES["train"], label=f"Training now: {current.corpus_name}, {c.layers} × {c.units}",
                         icon=":material/model_training:")
