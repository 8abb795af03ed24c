"""One visitor's state: the active corpus, the active run and their own training job.

Every page reads these through here. follow_own_job(), which app.py calls before any page
draws a widget, makes a finished job's run the active one, whichever page the visitor is on,
and points the Train page's run selector at it.
"""

from __future__ import annotations

import streamlit as st

from charlstm.runs.store import Run
from charlstm.serve.job import ANY, JobView
from charlstm.text.corpus import Corpus
from pages.common import workspace
from pages.common.resources import builtin_corpus, demo, load_run, manager

ACTIVE_RUN = "active_run_key"  # None (or absent) means the shipped demo model
ACTIVE_CORPUS = "active_corpus"  # a charlstm.text.corpus.Corpus; absent means the built-in one
OWN_JOB = "train.job_id"  # the id of the last job this visitor started
FOLLOWED = "train.activated"  # the id of the last own job whose run was made active
SELECTED_RUN = "train.run"  # the Train page's run selector


# ---- corpus
def active_corpus() -> Corpus:
    return st.session_state.get(ACTIVE_CORPUS) or builtin_corpus()


def set_active_corpus(corpus: Corpus | None) -> None:
    st.session_state[ACTIVE_CORPUS] = corpus


# ---- run
def active_key() -> str | None:
    return st.session_state.get(ACTIVE_RUN)


def active_run() -> Run:
    """The active run; the demo model when none is chosen or the chosen one was deleted."""
    key = active_key()
    if key:
        run = load_run(key)
        if run is not None:
            return run
        st.session_state[ACTIVE_RUN] = None
        st.toast("The active run is no longer stored; using the demo model.")
    return demo()


def set_active_run(key: str | None) -> None:
    """Make a run (None: the demo model) active; the run selector follows. Call before widgets are drawn."""
    st.session_state[ACTIVE_RUN] = key
    if key is not None:
        st.session_state[SELECTED_RUN] = key


# ---- own job
def job_owner():
    """Whose jobs this visitor sees: their workspace's in public mode, every job in personal mode."""
    o = workspace.owner()
    return ANY if o is None else o


def own_job(job_id: str) -> None:
    """Remember the job this visitor started, in the session and in the URL, so a reload keeps it.

    The id is unguessable and checked against the workspace: a copied ?job= from someone else's
    URL names nothing here.
    """
    st.session_state[OWN_JOB] = job_id
    st.query_params["job"] = job_id


def adopt_job_from_url() -> None:
    """After a reload the session is new; the URL still names the job this browser started."""
    job_id = st.query_params.get("job")
    if st.session_state.get(OWN_JOB) is None and job_id:
        if manager().get(job_id, owner=job_owner()) is not None:
            st.session_state[OWN_JOB] = job_id


def own_job_view() -> JobView | None:
    job_id = st.session_state.get(OWN_JOB)
    return manager().get(job_id, owner=job_owner()) if job_id is not None else None


def own_job_finished(view: JobView | None) -> bool:
    """Whether view is this visitor's job, done, and its run not yet made active."""
    return (view is not None and view.id == st.session_state.get(OWN_JOB) and view.status == "done"
            and st.session_state.get(FOLLOWED) != view.id)


def follow_own_job() -> None:
    """When the visitor's own job has finished, make its run active (once): app.py, before any widget."""
    view = own_job_view()
    if own_job_finished(view):
        st.session_state[FOLLOWED] = view.id
        set_active_run(view.key)


@st.fragment(run_every=2.0)
def _watch_own_job() -> None:
    view = own_job_view()
    if view is None or not view.active:
        st.rerun(scope="app")  # app.py's follow_own_job makes the finished run active everywhere


def watch_own_job() -> None:
    """While the visitor's own job runs, look every 2 s; when it ends, rerun the page so that it follows."""
    view = own_job_view()
    if view is not None and view.active:
        _watch_own_job()
