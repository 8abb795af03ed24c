"""Process-wide resources, one per run-store home (tests point CHARLSTM_HOME elsewhere)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from charlstm.model import sampling
from charlstm.runs.store import Run, StoreError, default_home, demo_run, read_run
from charlstm.serve.jobs import JobManager
from charlstm.text import baselines
from pages.common.builtin import builtin_corpus
from pages.common.server_limits import limits
from pages.common.workspace import settings, shelf, spaces


@st.cache_resource(show_spinner=False)
def _manager(home: str, key: str, _settings) -> JobManager:
    ws = spaces()

    def housekeeping(_view) -> None:  # after every job: keep each workspace within its quota, the store its cap
        if _settings.public:
            paths, shas = m.busy()
            ws.sweep(busy=paths, keep_corpora=shas, force=True)

    # JobManager locks its own state: safe to share across sessions
    m = JobManager(ws.shared, max_queue=_settings.max_queue, max_train_s=_settings.max_train_minutes * 60,
                   max_workers=_settings.max_workers, grace=_settings.cancel_grace_s,
                   one_per_owner=_settings.public, after_job=housekeeping,
                   worker_settings={"CHARLSTM_TF_THREADS": str(_settings.tf_threads)}, limits=limits,
                   queue_file=ws.shared.root / "queue.json")  # waiting jobs survive a restart
    return m


def store():
    """The shared store (personal mode: the only one)."""
    return spaces().shared


def manager() -> JobManager:
    s = settings()
    return _manager(str(default_home()), repr(s), s)


@st.cache_resource(show_spinner=False)
def demo() -> Run:
    return demo_run()


def is_demo(run: Run) -> bool:
    return run.path == demo().path


@st.cache_resource(show_spinner=False, max_entries=32)
def _run(path: str, stamp: int) -> Run | None:
    """A stored run, read once per version of its folder (stamp = meta.json's mtime)."""
    try:
        return read_run(Path(path))
    except StoreError:
        return None


def load_run(key: str) -> Run | None:
    """A run this visitor may use, by key, or None when it is gone, unreadable or someone else's."""
    run = shelf().get(key) if isinstance(key, str) else None
    if run is None:
        return None
    try:
        return _run(str(run.path), (run.path / "meta.json").stat().st_mtime_ns)
    except OSError:
        return None


def run_store(run: Run):
    """The store that holds a run (its corpus is kept there): the visitor's own or the shared one."""
    if is_demo(run):
        return store()
    try:
        return shelf().store_of(run.key)
    except StoreError:
        return store()


def run_corpus_text(run: Run) -> str | None:
    """The text a run was trained on, when this server has it (the built-in one, or stored with the run)."""
    sha = run.meta.get("corpus_sha256", "")
    if sha == builtin_corpus().sha256:
        return builtin_corpus().text
    corpus = run_store(run).load_corpus(sha) if sha else None
    return corpus.text if corpus is not None else None


@st.cache_resource(show_spinner=False, max_entries=64)
def _run_facts(path: str, stamp: int, _run: Run) -> tuple:
    text = run_corpus_text(_run) if _run.baselines is None or not _run.history.get("sample_prime") else None
    return baselines.for_run(_run, text), sampling.prime_for(_run, text)


def run_facts(run: Run) -> tuple:
    """(Baselines or None, priming text) of a run, computed once per version of its folder (immutable values)."""
    try:
        stamp = (run.path / "meta.json").stat().st_mtime_ns
    except OSError:
        stamp = 0
    return _run_facts(str(run.path), stamp, run)
