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
