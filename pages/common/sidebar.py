"""The sidebar, on every page: the active model, and a link to the training in progress."""

from __future__ import annotations

import streamlit as st

from pages.common import navigation, session
from pages.common.resources import is_demo, manager
from pages.common.text import fmt_loss


def sidebar() -> None:
    run = session.active_run()
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
            navigation.link("train", label=f"Training now: {current.corpus_name}, {c.layers} × {c.units}")
        session.watch_own_job()
