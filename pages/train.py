"""Train: configure a model, train it in the background, watch it learn, manage stored runs."""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from charlstm import charts
from charlstm import corpus as corpus_mod
from charlstm.config import PRESETS, Config
from charlstm.corpus import CorpusError
from charlstm.jobs import JobView
from charlstm.limits import Limits
from charlstm.store import StoreError
from charlstm.worker import import_bundle
from pages._common import (
    ACTIVE_RUN,
    PAGES,
    active_corpus,
    fmt_loss,
    fmt_seconds,
    limits,
    load_run,
    manager,
    set_active_run,
    store,
    use_navigation,
)

use_navigation()  # first: see pages/_common.py

# form field -> (label, help); the widget key is "train.<field>"
FIELDS = {
    "layers": ("Layers", "Stacked LSTM layers; each reads the hidden states of the one below."),
    "units": ("Units per layer", "Hidden units (memory cells) in each LSTM layer."),
    "embedding": ("Embedding size", "Each character id becomes a learned vector of this size."),
    "dropout": ("Dropout", "Share of each layer's outputs zeroed at random while training, against overfitting."),
    "seq_len": ("Sequence length", "Characters per training sequence: how far back the gradient reaches."),
    "batch_size": ("Batch size", "Sequences per optimizer step."),
    "epochs": ("Epochs", "Passes over the training part of the text."),
    "learning_rate": ("Learning rate", "Adam's step size."),
    "lowercase": ("Lowercase the text", "Fold the corpus to lower case: a smaller vocabulary, easier to learn."),
    "seed": ("Random seed", "Seeds the initial weights, dropout and batch order: same seed, same model."),
}
DEFAULT_PRESET = "quick demo"


def apply_preset() -> None:
    """Copy the chosen preset into the form's widgets (runs as a callback, before they are drawn)."""
    cfg = PRESETS[st.session_state["train.preset"]]
    for field in FIELDS:
        st.session_state[f"train.{field}"] = getattr(cfg, field)


def config_form(lim: Limits) -> None:
    """The training form with its presets; submitting it starts a job."""
    if "train.preset" not in st.session_state:
        st.session_state["train.preset"] = DEFAULT_PRESET
    if any(f"train.{f}" not in st.session_state for f in FIELDS):
        apply_preset()
    st.selectbox("Preset", list(PRESETS), key="train.preset", on_change=apply_preset,
                 help="Fills the form below. " + " · ".join(
                     f"**{name}**: {c.layers} × {c.units}, dropout {c.dropout:g}, sequences of {c.seq_len} in "
                     f"batches of {c.batch_size}{', lowercased' if c.lowercase else ''}"
                     for name, c in PRESETS.items()))
    formulation_note(PRESETS[st.session_state["train.preset"]])
    with st.form("train.form", border=True):
        a, b, c = st.columns(3)
        with a:
            st.number_input(FIELDS["layers"][0], min_value=1, step=1, key="train.layers", help=FIELDS["layers"][1])
            st.number_input(FIELDS["units"][0], min_value=1, step=16, key="train.units", help=FIELDS["units"][1])
            st.number_input(FIELDS["embedding"][0], min_value=1, step=8, key="train.embedding",
                            help=FIELDS["embedding"][1])
            st.slider(FIELDS["dropout"][0], 0.0, 0.9, step=0.05, key="train.dropout", help=FIELDS["dropout"][1])
        with b:
            st.number_input(FIELDS["seq_len"][0], min_value=2, step=16, key="train.seq_len",
                            help=FIELDS["seq_len"][1])
            st.number_input(FIELDS["batch_size"][0], min_value=1, step=16, key="train.batch_size",
                            help=FIELDS["batch_size"][1])
            st.number_input(FIELDS["epochs"][0], min_value=1, step=1, key="train.epochs", help=FIELDS["epochs"][1])
        with c:
            st.number_input(FIELDS["learning_rate"][0], min_value=1e-5, max_value=1.0, step=5e-4, format="%.4f",
                            key="train.learning_rate", help=FIELDS["learning_rate"][1])
            st.number_input(FIELDS["seed"][0], min_value=0, step=1, key="train.seed", help=FIELDS["seed"][1])
            st.checkbox(FIELDS["lowercase"][0], key="train.lowercase", help=FIELDS["lowercase"][1])
        st.caption(f"This server allows {lim.describe()}.")
        st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:", on_click=submit,
                              args=(lim,))
    flash = st.session_state.pop("train.flash", None)
    if flash:
        kind, text, icon = flash
        getattr(st, kind)(text, icon=icon)


def formulation_note(preset: Config) -> None:
    """Say what a preset of the tutorial's own formulation trains, and where the comparison is."""
    if preset.formulation == "window":
        st.caption(f"The classic tutorial's own model: every window of {preset.seq_len} characters predicts only the "
                   "character after it, the input is each character's number divided by the vocabulary size "
                   "(embedding 1, fixed), and it writes greedily, re-reading its window for every character. "
                   "It learns far more slowly than charlstm's way: the Home page shows them measured side by side.")


def form_config() -> Config:
    """The form's values over the chosen preset (which supplies clipnorm and the validation share)."""
    base = PRESETS[st.session_state["train.preset"]]
    values = {f: st.session_state[f"train.{f}"] for f in FIELDS}
    return base.replace(**{f: (v if f in ("dropout", "learning_rate", "lowercase") else int(v))
                           for f, v in values.items()})


def submit(lim: Limits) -> None:
    """Start training (a callback, so the job exists before the sidebar and the panel are drawn)."""

    def flash(kind: str, text: str, icon: str) -> None:
        st.session_state["train.flash"] = (kind, text, icon)

    try:
        config = form_config()
    except ValueError as e:
        return flash("error", f"These settings cannot be trained: {e}", ":material/error:")
    corpus = active_corpus()
    problems = lim.problems(config, corpus_bytes=len(corpus.text.encode("utf-8")))
    if problems:
        return flash("error", "Not started: " + "; ".join(problems) + ".", ":material/block:")
    try:
        corpus_mod.check_length(corpus_mod.prepare(corpus.text, config.lowercase), config.seq_len,
                                config.val_fraction)
    except CorpusError as e:
        return flash("error", f"Not started: {e}. Choose a longer text on the Corpus page or a shorter sequence "
                              "length.", ":material/block:")
    view, how = manager().submit(corpus, config)
    own_job(view.id)
    if how == "cached":
        set_active_run(view.key)
        flash("success", f"Loaded from cache: this corpus and config were trained before (run `{view.key[:8]}`). "
                         "It is now the active model.", ":material/cached:")
    elif how == "joined":
        flash("info", f"Joined: the same corpus and config are already training (job #{view.id}).",
              ":material/group:")
    elif how == "queued":
        flash("info", f"Queued: job #{view.id} waits for the current training; place "
                      f"{manager().position(view.id) or 1} in the queue.", ":material/schedule:")
    else:
        flash("success", f"Started job #{view.id}. It runs in the background: switch pages, open another tab or "
                         "reload, it keeps going.", ":material/rocket_launch:")


def own_job(job_id: int) -> None:
    """Remember the job this browser started, in the session and in the URL, so a reload keeps it."""
    st.session_state["train.job_id"] = job_id
    st.query_params["job"] = str(job_id)


def adopt_job_from_url() -> None:
    """After a reload the session is new; the URL still names the job this browser started."""
    if st.session_state.get("train.job_id") is None and st.query_params.get("job", "").isdigit():
        job_id = int(st.query_params["job"])
        if manager().get(job_id) is not None:
            st.session_state["train.job_id"] = job_id


def cancel(job_id: int) -> None:
    manager().cancel(job_id)


def show_running(v: JobView) -> None:
    p = v.progress
    c = v.config
    with st.container(border=True):
        st.markdown(f"**Job #{v.id}: {v.corpus_name} · {c.layers} × {c.units} · {c.epochs} epoch(s)**"
                    + (" · continuing a stored run" if v.resume_from else ""))
        if p is None:
            st.progress(0.0, text=v.message)
        else:
            st.progress(p.fraction, text=f"{p.phase.capitalize()}: epoch {p.epoch}/{p.epochs}, "
                                         f"step {p.step:,}/{p.steps_per_epoch:,} ({p.fraction:.0%})")
            m = st.columns(5)
            m[0].metric("Train loss", fmt_loss(p.train_loss))
            m[1].metric("Val loss", fmt_loss(p.val_loss))
            m[2].metric("Chars/s", f"{p.chars_per_sec:,.0f}")
            m[3].metric("Elapsed", fmt_seconds(p.elapsed))
            m[4].metric("ETA", fmt_seconds(p.eta))
        st.button("Cancel", key=f"train.cancel.{v.id}", on_click=cancel, args=(v.id,), icon=":material/stop:",
                  help="Stops within one batch; finished epochs are kept.")


CURVE_EVERY_S = 5.0  # the loss chart redraws at most this often; the numbers above it every second


def curves_panel() -> None:
    """The running jobs' loss curves, in their own fragment so the chart is not redrawn every second.

    A chart is rebuilt only when its job has new points; otherwise the one built before is sent again.
    """
    built = st.session_state.setdefault("train.curve_charts", {})
    for v in manager().jobs():
        if v.status != "running" or not v.curve or v.progress is None:
            continue
        stamp = (len(v.curve), v.curve[-1], len(v.val_curve))
        if built.get(v.id, (None,))[0] != stamp:
            built[v.id] = (stamp, charts.loss_curves(v.curve, v.val_curve, v.progress.steps_per_epoch))
        st.markdown(f"**Job #{v.id}: loss so far** (redrawn every {CURVE_EVERY_S:g} s)")
        st.altair_chart(built[v.id][1], width="stretch", key=f"train.curve.{v.id}")


def show_queued(v: JobView) -> None:
    c = v.config
    with st.container(border=True):
        left, right = st.columns([4, 1], vertical_alignment="center")
        left.markdown(f"**Job #{v.id}: {v.corpus_name} · {c.layers} × {c.units}**: queued, position "
                      f"{manager().position(v.id) or '–'} in the queue")
        right.button("Cancel", key=f"train.cancel.{v.id}", on_click=cancel, args=(v.id,), icon=":material/stop:")


def show_finished(v: JobView) -> None:
    if v.status == "done":
        st.success(f"Job #{v.id} finished: run `{v.key[:8]}` ({v.corpus_name}). "
                   + ("It is now the active model." if st.session_state.get(ACTIVE_RUN) == v.key else ""),
                   icon=":material/check_circle:")
    elif v.status == "cancelled":
        st.warning(f"Job #{v.id}: {v.message}.", icon=":material/cancel:")
    elif v.status == "failed":
        st.error(f"Job #{v.id} failed: {v.message}", icon=":material/error:")
    elif v.status == "cached":
        st.info(f"Job #{v.id}: {v.message}.", icon=":material/cached:")


def jobs_panel(had_active: bool) -> None:
    """What the trainer is doing, read from the process-wide job manager (so every tab sees it)."""
    views = manager().jobs()
    running = [v for v in views if v.status == "running"]
    queued = [v for v in views if v.status == "queued"]
    mine = st.session_state.get("train.job_id")
    mine_view = next((v for v in views if v.id == mine), None)
    if mine_view is not None and mine_view.status == "done" and st.session_state.get("train.activated") != mine:
        st.session_state["train.activated"] = mine  # the job this session started: make its run active
        set_active_run(mine_view.key)
        st.rerun()
    if bool(running or queued) != had_active:
        st.rerun()  # a job started or ended: redraw the whole page (runs list, sidebar, refresh rate)
    if not running and not queued:
        st.caption("No training is running.")
    for v in running:
        show_running(v)
    for v in queued:
        show_queued(v)
    if mine_view is not None and not mine_view.active:
        show_finished(mine_view)
    recent = sorted((v for v in views if not v.active and v.id != mine), key=lambda v: -(v.finished or 0))[:5]
    if recent:
        with st.expander(f"Recent jobs ({len(recent)})"):
            st.dataframe(pd.DataFrame([{
                "job": v.id, "corpus": v.corpus_name, "model": f"{v.config.layers} × {v.config.units}",
                "epochs": v.config.epochs, "status": v.status, "message": v.message} for v in recent]),
                hide_index=True)


def activate(key: str | None) -> None:
    set_active_run(key)


def delete(key: str) -> None:
    try:
        store().delete(key)
    except StoreError as e:
        st.session_state["train.runs_msg"] = ("error", str(e))
        return
    if st.session_state.get(ACTIVE_RUN) == key:
        set_active_run(None)
    st.session_state["train.runs_msg"] = ("success", f"Deleted run {key[:8]}.")


def resume(key: str, lim: Limits) -> None:
    run = load_run(key)
    more = int(st.session_state.get("train.more", 1))
    if run is None:
        st.session_state["train.runs_msg"] = ("error", "that run is no longer stored")
        return
    if run.epochs_done + more > lim.max_epochs:
        st.session_state["train.runs_msg"] = (
            "error", f"Not continued: {run.epochs_done} + {more} epochs is more than this server allows "
                     f"({lim.max_epochs}).")
        return
    try:
        view, how = manager().resume(key, more)
    except (StoreError, ValueError) as e:
        st.session_state["train.runs_msg"] = ("error", f"Not continued: {e}")
        return
    own_job(view.id)
    word = {"started": "Continuing", "queued": "Queued to continue", "joined": "Already continuing",
            "cached": "Loaded from cache:"}[how]
    st.session_state["train.runs_msg"] = ("info", f"{word} run {key[:8]} for {more} more epoch(s) (job #{view.id}).")


def runs_section(lim: Limits) -> None:
    st.subheader("Stored runs")
    msg = st.session_state.pop("train.runs_msg", None)
    if msg:
        getattr(st, msg[0])(msg[1])
    runs = store().list()
    active_key = st.session_state.get(ACTIVE_RUN)
    if not runs:
        st.caption("No trained runs yet. Train one above, or upload a bundle below.")
    else:
        st.dataframe(pd.DataFrame([{
            "active": r.key == active_key,
            "corpus": r.meta.get("corpus_name", "?"),
            "model": f"{r.config.layers} × {r.config.units}",
            "epochs": f"{r.epochs_done}/{r.config.epochs}",
            "val loss": r.val_loss,
            "status": r.status,
            "created": r.meta.get("created", ""),
            "key": r.key,
        } for r in runs]), hide_index=True, key="train.runs_table",
            column_config={"val loss": st.column_config.NumberColumn(format="%.3f")})
        keys = [r.key for r in runs]
        labels = {r.key: r.label for r in runs}
        if st.session_state.get("train.run") not in keys:
            st.session_state["train.run"] = active_key if active_key in keys else keys[0]
        key = st.selectbox("Run", keys, format_func=labels.get, key="train.run")
        a, b, c, d = st.columns([1, 1, 2, 1], vertical_alignment="bottom")
        a.button("Make active", key="train.activate", on_click=activate, args=(key,), icon=":material/check:",
                 disabled=key == active_key)
        b.download_button("Download bundle", data=partial(store().export_bundle, key), file_name=f"charlstm-{key}.zip",
                          mime="application/zip", on_click="ignore", key="train.download",
                          icon=":material/download:")
        with c:
            left, right = st.columns([1, 2], vertical_alignment="bottom")
            left.number_input("More epochs", min_value=1, max_value=lim.max_epochs, value=1, key="train.more")
            right.button("Continue training", key="train.resume", on_click=resume, args=(key, lim),
                         icon=":material/fast_forward:")
        with d.popover("Delete…", icon=":material/delete:"):
            st.markdown(f"Delete run `{key[:8]}` for good?")
            st.button("Delete for good", key="train.delete", on_click=delete, args=(key,), type="primary")
    if active_key:
        st.button("Use the demo model instead", key="train.use_demo", on_click=activate, args=(None,))
    upload_bundle()


def upload_bundle() -> None:
    up = st.file_uploader("Upload a run bundle (.zip)", type=["zip"], key="train.bundle",
                          help="A bundle made by Download bundle, here or on another charlstm server.")
    if up is None:
        st.session_state.pop("train.bundle_result", None)
        return
    if st.session_state.get("train.bundle_seen") != up.file_id:
        st.session_state["train.bundle_seen"] = up.file_id
        try:
            with st.spinner("Checking the bundle (the first time loads TensorFlow)…"):
                run = import_bundle(store(), up.getvalue())  # in its own process: no TensorFlow here
        except StoreError as e:
            st.session_state["train.bundle_result"] = ("error", f"{up.name} was not imported: {e}")
        else:
            st.session_state["train.bundle_result"] = ("success", f"Imported run {run.key[:8]}: {run.label}.")
        st.rerun()  # redraw the runs list with the new run in it
    result = st.session_state.get("train.bundle_result")
    if result:
        getattr(st, result[0])(result[1])


lim = limits()
adopt_job_from_url()
st.title("Train")
corpus = active_corpus()
st.markdown(f"Corpus: **{corpus.name}**, {len(corpus):,} characters. Training runs in the background, one job "
            "at a time; the same corpus and settings are never trained twice.")
st.page_link(PAGES["corpus"], label="Change the corpus", icon=":material/description:")
config_form(lim)
st.subheader("Training")
active_now = any(v.active for v in manager().jobs())
st.fragment(jobs_panel, run_every=1.0 if active_now else 5.0)(active_now)
if active_now:
    st.fragment(curves_panel, run_every=CURVE_EVERY_S)()
runs_section(lim)
