"""The sidebar, on every page: the active model, and a link to the training in progress."""

from __future__ import annotations

import streamlit as st

from charlstm import baselines
from pages.common import navigation, session
from pages.common.resources import is_demo, manager, run_facts
from pages.common.text import fmt_loss

BASELINES_HELP = ("Cross-entropy of the held-out part, in nats per character, lower is better. Uniform guess: "
                  "every character equally likely (ln of the vocabulary size). Letter frequencies: each character "
                  "as frequent as in the training part, ignoring what came before (a unigram model). How far below "
                  "letter frequencies the model is says what it learned: README, “What a loss means”.")


def sidebar() -> None:
    run = session.active_run()
    c = run.config
    with st.sidebar:
        st.markdown("#### Active model")
        st.markdown(
            f"**Corpus:** {run.meta.get('corpus_name', '?')}  \n"
            f"**Model:** {c.layers} × {c.units} LSTM ({run.meta.get('params', 0):,} parameters)  \n"
            f"**Epochs:** {run.epochs_done} of {c.epochs}  \n"
            f"**Val loss:** {fmt_loss(run.val_loss)} nats/char"
            + (f" (epoch {run.best_epoch}, the best)" if run.best_epoch and run.best_epoch != run.epochs_done else "")
            + f"  \n**Status:** {run.status}"
        )
        b = run_facts(run)[0]
        if b is not None:
            st.markdown(f"**Baselines:** letter frequencies {b.unigram:.3f} · uniform guess {b.uniform:.3f}  \n"
                        f"*It {baselines.verdict(run.val_loss, b)}.*", help=BASELINES_HELP)
        if is_demo(run):
            st.caption("This is the small demo model shipped with charlstm. Train your own on the Train page.")
        else:
            st.caption(f"Run `{run.key[:8]}`")
        current = manager().current()
        if current is not None:  # drawn once per page run: the live progress is on the Train page
            c = current.config
            navigation.link("train", label=f"Training now: {current.corpus_name}, {c.layers} × {c.units}")
        session.watch_own_job()
