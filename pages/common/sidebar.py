"""The sidebar, on every page: the active model, and a link to the training in progress."""

from __future__ import annotations

import streamlit as st

from pages.common import navigation, session, workspace
from pages.common.resources import is_demo
from pages.common.text import fmt_loss, md


def mode_line() -> None:
    """Which mode the server is in, in one short line."""
    if workspace.public():
        st.caption(":material/lock: Public server: your runs are private to your workspace link.")
    else:
        st.caption(":material/person: Personal mode: one user, every run in this folder.")


def sidebar() -> None:
    run = session.active_run()
    c = run.config
    with st.sidebar:
        mode_line()
        workspace.notice()
        workspace.link_ui()
        st.markdown("#### Active model")
        st.markdown(
            f"**Corpus:** {md(run.meta.get('corpus_name', '?'))}  \n"
            f"**Model:** {c.layers} × {c.units} LSTM ({run.meta.get('params', 0):,} parameters)  \n"
            f"**Epochs:** {run.epochs_done} of {c.epochs}  \n"
            f"**Val loss:** {fmt_loss(run.val_loss)} nats/char  \n"
            f"**Status:** {run.status}"
        )
        if is_demo(run):
            st.caption("This is the small demo model shipped with charlstm. Train your own on the Train page.")
        else:
            st.caption(f"Run `{run.key[:8]}`")
        current = session.own_job_view() if workspace.public() else None
        if current is None and not workspace.public():
            from pages.common.resources import manager

            current = manager().current()
        if current is not None and current.active:  # drawn once per page run: the live progress is on Train
            c = current.config
            navigation.link("train", label=f"Training now: {md(current.corpus_name)}, {c.layers} × {c.units}")
        session.watch_own_job()
