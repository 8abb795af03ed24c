"""Process-wide resources, one per run-store home (tests point CHARLSTM_HOME elsewhere)."""

from __future__ import annotations

import streamlit as st

from charlstm import corpus as corpus_mod
from charlstm.corpus import Corpus
from charlstm.jobs import JobManager
from charlstm.store import Run, RunStore, StoreError, default_home, demo_run


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


def is_demo(run: Run) -> bool:
    return run.path == demo().path


@st.cache_resource(show_spinner=False, max_entries=32)
def _run(home: str, key: str, stamp: int) -> Run | None:
    """A stored run, read once per version of its folder (stamp = meta.json's mtime)."""
    return _store(home).get(key)


def load_run(key: str) -> Run | None:
    """A stored run by key, or None when it is gone or unreadable."""
    try:
        stamp = (store().path(key) / "meta.json").stat().st_mtime_ns
        return _run(str(default_home()), key, stamp)
    except (StoreError, OSError):
        return None


def run_corpus_text(run: Run) -> str | None:
    """The text a run was trained on, when this server has it (the built-in one, or stored with the run)."""
    sha = run.meta.get("corpus_sha256", "")
    if sha == builtin_corpus().sha256:
        return builtin_corpus().text
    corpus = store().load_corpus(sha) if sha else None
    return corpus.text if corpus is not None else None


@st.cache_resource(show_spinner=False, max_entries=64)
def _run_facts(path: str, stamp: int, _run: Run) -> tuple:
    from charlstm import baselines

    text = run_corpus_text(_run) if _run.baselines is None or not _run.history.get("sample_prime") else None
    return baselines.for_run(_run, text), baselines.prime_for(_run, text)


def run_facts(run: Run) -> tuple:
    """(Baselines or None, priming text) of a run, computed once per version of its folder (immutable values)."""
    try:
        stamp = (run.path / "meta.json").stat().st_mtime_ns
    except OSError:
        stamp = 0
    return _run_facts(str(run.path), stamp, run)
