"""The sidebar, on every page: the active model, and a link to the training in progress."""

from __future__ import annotations

import streamlit as st

from charlstm.text import baselines
from charlstm.training.progress import stop_words
from pages.common import navigation, session, workspace
from pages.common.resources import is_demo, manager, run_facts
from pages.common.text import fmt_loss, md


def mode_line() -> None:
    """Which mode the server is in, in one short line."""
    if workspace.public():
        st.caption(":material/lock: Public server: your runs are private to your workspace link.")
    else:
        st.caption(":material/person: Personal mode: one user, every run in this folder.")


BASELINES_HELP = ("Cross-entropy of the held-out part, in nats per character, lower is better. Uniform guess: "
                  "every character equally likely (ln of the vocabulary size). Letter frequencies: each character "
                  "as frequent as in the training part, ignoring what came before (a unigram model). How far below "
                  "letter frequencies the model is says what it learned: docs/loss.md in the repository.")


def stop_note(run) -> str:
    """' (it spent its time budget)' for a run that stopped before its epochs, else ''."""
    why = stop_words(run.history.get("stopped"), run.config) if run.epochs_done < run.config.epochs else None
    return f" (it {why})" if why else ""


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
            f"**Epochs:** {run.epochs_done} of {c.epochs}{stop_note(run)}  \n"
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
        current = session.own_job_view() if workspace.public() else None
        if current is None and not workspace.public():
            current = manager().current()
        if current is not None and current.active:  # drawn once per page run: the live progress is on Train
            c = current.config
            navigation.link("train", label=f"Training now: {md(current.corpus_name)}, {c.layers} × {c.units}")
        session.watch_own_job()
