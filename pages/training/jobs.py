"""The Train page's jobs: the running one live (progress, curves, Cancel), the queue, the recent ones."""


import pandas as pd
import streamlit as st

from charlstm.serve.job import JobView
from charlstm.views import charts
from pages.common import session, workspace
from pages.common.resources import manager
from pages.common.session import ACTIVE_RUN
from pages.common.text import fmt_loss, fmt_seconds, md


def cancel(job_id: str) -> None:
    manager().cancel(job_id, owner=session.job_owner())  # never another workspace's job


def show_running(v: JobView) -> None:
    p = v.progress
    c = v.config
    with st.container(border=True):
        st.markdown(f"**Job #{v.number}: {md(v.corpus_name)} · {c.layers} × {c.units} · {c.epochs} epoch(s)**"
                    + (" · continuing a stored run" if v.resume_from else ""))
        if p is None:
            st.progress(0.0, text=md(v.message))
        else:
            st.progress(p.fraction, text=f"{p.phase.capitalize()}: epoch {p.epoch}/{p.epochs}, "
                                         f"step {p.step:,}/{p.steps_per_epoch:,} ({p.fraction:.0%})")
            m = st.columns(5)
            m[0].metric("Train loss", fmt_loss(p.train_loss))
            m[1].metric("Val loss", fmt_loss(p.val_loss))
            m[2].metric("Chars/s", f"{p.chars_per_sec:,.0f}")
            m[3].metric("Elapsed", fmt_seconds(p.elapsed) + (f" of {fmt_seconds(p.budget_s)}" if p.budget_s else ""))
            m[4].metric("ETA", fmt_seconds(p.eta))
            if p.device:
                st.caption(f"Training on {p.device}.")
            if p.sample:
                st.markdown(f"**Sample after epoch {p.sample_epoch or '?'}** "
                            "(200 characters, temperature 0.8, the same seed every epoch):")
                st.code(p.sample, language=None, wrap_lines=True)
        st.button("Cancel", key=f"train.cancel.{v.id}", on_click=cancel, args=(v.id,), icon=":material/stop:",
                  help="Stops within a group of batches (a second or two); finished epochs are kept.")


CURVE_EVERY_S = 5.0  # the loss chart redraws at most this often; the numbers above it every second


def curves_panel() -> None:
    """The running jobs' loss curves, in their own fragment so the chart is not redrawn every second.

    A chart is rebuilt only when its job has new points; otherwise the one built before is sent again.
    """
    built = st.session_state.setdefault("train.curve_charts", {})
    for v in manager().jobs(owner=session.job_owner()):
        if v.status != "running" or not v.curve or v.progress is None:
            continue
        stamp = (len(v.curve), v.curve[-1], len(v.val_curve))
        if built.get(v.id, (None,))[0] != stamp:
            built[v.id] = (stamp, charts.loss_curves(v.curve, v.val_curve, v.progress.steps_per_epoch))
        st.markdown(f"**Job #{v.number}: loss so far** (redrawn every {CURVE_EVERY_S:g} s)")
        st.altair_chart(built[v.id][1], width="stretch", key=f"train.curve.{v.id}")


def show_queued(v: JobView) -> None:
    c = v.config
    with st.container(border=True):
        left, right = st.columns([4, 1], vertical_alignment="center")
        left.markdown(f"**Job #{v.number}: {md(v.corpus_name)} · {c.layers} × {c.units}**: queued, position "
                      f"{manager().position(v.id) or '–'} in the queue")
        right.button("Cancel", key=f"train.cancel.{v.id}", on_click=cancel, args=(v.id,), icon=":material/stop:")


def show_finished(v: JobView) -> None:
    if v.status == "done":
        said = "" if v.message.startswith("finished") else f" {md(v.message)}."
        where = f", trained on {md(v.progress.device)}" if v.progress is not None and v.progress.device else ""
        st.success(f"Job #{v.number} finished: run `{v.key[:8]}` ({md(v.corpus_name)}{where}).{said} "
                   + ("It is now the active model." if st.session_state.get(ACTIVE_RUN) == v.key else ""),
                   icon=":material/check_circle:")
    elif v.status == "cancelled":
        st.warning(f"Job #{v.number}: {md(v.message)}.", icon=":material/cancel:")
    elif v.status == "failed":
        st.error(f"Job #{v.number} failed: {md(v.message)}", icon=":material/error:")
    elif v.status == "cached":
        st.info(f"Job #{v.number}: {md(v.message)}.", icon=":material/cached:")


def ended_ids(views: list[JobView]) -> frozenset[str]:
    return frozenset(v.id for v in views if not v.active)


def jobs_panel(had_active: bool, ended: frozenset[int]) -> None:
    """What the trainer is doing, read from the process-wide job manager (so every tab sees it).

    Redrawn every second while a job is active; it draws only what changes that often. When a job
    starts or ends it reruns the whole page (runs list, recent jobs, sidebar, refresh rate).
    """
    views = manager().jobs(owner=session.job_owner())
    running = [v for v in views if v.status == "running"]
    queued = [v for v in views if v.status == "queued"]
    mine = st.session_state.get("train.job_id")
    mine_view = next((v for v in views if v.id == mine), None)
    if session.own_job_finished(mine_view):
        st.rerun()  # app.py makes its run active (pages/common/session.py) before anything is drawn
    if bool(running or queued) != had_active or ended_ids(views) != ended:
        st.rerun()
    if not running and not queued:
        st.caption("No training is running.")  # of this visitor's; busy_line counts the others
    if workspace.public():
        busy_line(len(running) + len(queued))
    for v in running:
        show_running(v)
    for v in queued:
        show_queued(v)
    if mine_view is not None and not mine_view.active:
        show_finished(mine_view)


def busy_line(mine: int) -> None:
    """How busy the server is with other visitors' trainings: counts only, nothing about whose."""
    running, waiting = manager().load()
    others = running + waiting - mine
    if others > 0:
        st.caption(f"The server is also busy with {others} other visitor(s)' training(s): one trains at a time, "
                   f"at most {manager().max_queue} wait.")


def recent_jobs_ui(views: list[JobView]) -> None:
    mine = st.session_state.get("train.job_id")
    recent = sorted((v for v in views if not v.active and v.id != mine), key=lambda v: -(v.finished or 0))[:5]
    if recent:
        with st.expander(f"Recent jobs ({len(recent)})"):
            st.dataframe(pd.DataFrame([{
                "job": v.number, "corpus": v.corpus_name, "model": f"{v.config.layers} × {v.config.units}",
                "epochs": v.config.epochs, "status": v.status, "message": v.message} for v in recent]),
                hide_index=True)


def jobs_ui() -> None:
    st.subheader("Training")
    views = manager().jobs(owner=session.job_owner())
    active_now = any(v.active for v in views)
    st.fragment(jobs_panel, run_every=1.0 if active_now else 5.0)(active_now, ended_ids(views))
    if active_now:
        st.fragment(curves_panel, run_every=CURVE_EVERY_S)()
    recent_jobs_ui(views)


# ---- the stored runs
