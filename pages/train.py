"""Train: configure a model, train it in the background, watch it learn, manage stored runs."""

from pages.common.navigation import through_app

through_app()  # first, before the heavy imports: see pages/common/navigation.py

from functools import partial

import pandas as pd
import streamlit as st

from charlstm.config import PRESETS, Config, form_settings
from charlstm.insight.probes import MAX_CHARS, PROBE
from charlstm.runs.store import Run, StoreError, bundle_config, bundle_key
from charlstm.serve.jobs import JobView, Refused
from charlstm.serve.limits import Limits, estimate_run_bytes
from charlstm.serve.worker import import_bundle
from charlstm.text import corpus as corpus_mod
from charlstm.text.corpus import Corpus, CorpusError
from charlstm.training import fit as fit_mod
from charlstm.training.trainer import steps_per_epoch
from charlstm.views import charts
from pages.common import navigation, session, workspace
from pages.common.persist import form_key
from pages.common.resources import is_demo, load_run, manager, run_facts
from pages.common.server_limits import limits
from pages.common.session import ACTIVE_RUN
from pages.common.text import baseline_words, fmt_loss, fmt_seconds, kept_words, md
from pages.common.widgets import intro, note, settings_ui, show_note

DEFAULT_PRESET = fit_mod.NAME
FLASH, RUNS_NOTE, BUNDLE_NOTE = "train.flash", "train.runs_msg", "train.bundle_result"  # notes left for the next run
PENDING = "train.pending"  # a submitted config held back by a warning: (config, corpus sha256, problems)
FITTED_FOR = "train.fitted_for"  # the corpus the form's fitted settings were chosen for


# ---- the form: one widget per setting that config.py puts on it
def fitted() -> fit_mod.Fitted:
    """The settings fitted to the active corpus (as the default model reads it) and the default time budget."""
    return fit_mod.fit(len(session.active_corpus().text))


def preset_config(name: str) -> Config:
    return fitted().config if name == fit_mod.NAME else PRESETS[name]


def apply_preset() -> None:
    """Copy the chosen preset into the form's widgets (runs as a callback, before they are drawn)."""
    cfg = preset_config(st.session_state["train.preset"])
    for s in form_settings():
        st.session_state[form_key(s.name)] = getattr(cfg, s.name)
    st.session_state[FITTED_FOR] = session.active_corpus().sha256


def apply_fitted() -> None:
    """The warning's button: the fitted settings into the form, and nothing started."""
    st.session_state["train.preset"] = fit_mod.NAME
    apply_preset()
    st.session_state.pop(PENDING, None)


def preset_ui() -> None:
    if "train.preset" not in st.session_state:
        st.session_state["train.preset"] = DEFAULT_PRESET
    corpus_changed = st.session_state.get(FITTED_FOR) != session.active_corpus().sha256
    if any(form_key(s.name) not in st.session_state for s in form_settings()) or (
            corpus_changed and st.session_state["train.preset"] == fit_mod.NAME):
        apply_preset()  # a new corpus: fit the form to it
    st.selectbox("Preset", [fit_mod.NAME, *PRESETS], key="train.preset", on_change=apply_preset,
                 help="Fills the form below. " + f"**{fit_mod.NAME}**: the default model, fed to suit the size "
                      f"of the text: batch size, sequence length, epochs and learning rate chosen for a "
                      f"{fit_mod.DEFAULT_MINUTES:g}-minute budget, early stopping after {fit_mod.PATIENCE} epochs "
                      "without improvement · " + " · ".join(
                     f"**{name}**: {c.layers} × {c.units}, dropout {c.dropout:g}, sequences of {c.seq_len} in "
                     f"batches of {c.batch_size}{', lowercased' if c.lowercase else ''}"
                     for name, c in PRESETS.items()))
    if st.session_state["train.preset"] == fit_mod.NAME:
        st.caption(f"Fitted to this text: {fitted().reason}.")


def formulation_note(preset: Config) -> None:
    """Say what a preset of the tutorial's own formulation trains, and where the comparison is."""
    if preset.formulation == "window":
        st.caption(f"The classic tutorial's own model: every window of {preset.seq_len} characters predicts only the "
                   "character after it, the input is each character's number divided by the vocabulary size "
                   "(embedding 1, fixed), and it writes greedily, re-reading its window for every character. "
                   "It learns far more slowly than charlstm's way: the Home page shows them measured side by side.")



def config_form_ui(lim: Limits) -> None:
    """The training form with its presets; submitting it starts a job."""
    preset_ui()
    formulation_note(preset_config(st.session_state["train.preset"]))
    with st.form("train.form", border=True):
        settings_ui(form_settings(), form_key)
        if "train.probe" not in st.session_state:
            st.session_state["train.probe"] = PROBE
        st.text_input("Probe text", key="train.probe", max_chars=MAX_CHARS,
                      help="Read by the model after every finished epoch and kept with the run: the Teach page's "
                           "“How a unit learns” shows its gates epoch by epoch.")
        st.caption(f"This server allows {lim.describe()}.")
        st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:", on_click=submit,
                              args=(lim,))
    warning_ui(lim)
    show_note(FLASH)


def warning_ui(lim: Limits) -> None:
    """A submitted config that would learn little on this text: say why, and offer the fitted settings."""
    pending = st.session_state.get(PENDING)
    if pending is None or pending[1] != session.active_corpus().sha256:
        st.session_state.pop(PENDING, None)
        return
    config, _, problems = pending
    f = fitted()
    with st.container(border=True, key="train.warning"):
        st.warning("Not started yet: " + "; ".join(problems) + ". The fitted settings for this text: "
                   + f.reason + ".", icon=":material/warning:")
        a, b = st.columns(2)
        a.button("Use the fitted settings", key="train.use_fitted", on_click=apply_fitted, type="primary",
                 icon=":material/auto_fix_high:")
        b.button("Start anyway", key="train.start_anyway", on_click=start, args=(lim, config),
                 icon=":material/play_arrow:")


def form_config() -> Config:
    """The form's values over the chosen preset (which supplies the settings the form leaves out).

    A time budget makes the epochs the most it may run: fit.MAX_EPOCHS, or this server's cap when lower.
    """
    base = preset_config(st.session_state["train.preset"])
    config = base.replace(**{s.name: s.parse(st.session_state[form_key(s.name)]) for s in form_settings()})
    if config.minutes:
        config = config.replace(epochs=min(fit_mod.MAX_EPOCHS, limits().max_epochs))
    return config


def refusal(lim: Limits, corpus: Corpus, config: Config) -> str | None:
    """Why this server will not train config on corpus, in words; None when it will."""
    problems = lim.problems(config, corpus_bytes=len(corpus.text.encode("utf-8")))
    if problems:
        return "Not started: " + "; ".join(problems) + "."
    try:
        corpus_mod.check_length(corpus_mod.prepare(corpus.text, config.lowercase), config.seq_len,
                                config.val_fraction)
    except CorpusError as e:
        return f"Not started: {e}. Choose a longer text on the Corpus page or a shorter sequence length."
    return None


def submitted(view: JobView, how: str) -> tuple[str, str, str]:
    """What the visitor is told after submitting: (kind, text, icon)."""
    if how == "cached":
        return ("success", f"Loaded from cache: this corpus and config were trained before (run `{view.key[:8]}`). "
                           "It is now the active model.", ":material/cached:")
    if how == "joined":
        return ("info", f"Joined: the same corpus and config are already training (job #{view.number}).",
                ":material/group:")
    if how == "queued":
        return ("info", f"Queued: job #{view.number} waits for the current training; place "
                        f"{manager().position(view.id) or 1} in the queue.", ":material/schedule:")
    return ("success", f"Started job #{view.number}. It runs in the background: switch pages, open another tab or "
                       "reload, it keeps going.", ":material/rocket_launch:")


def submit(lim: Limits) -> None:
    """Start training (a callback, so the job exists before the sidebar and the panel are drawn)."""
    try:
        config = form_config()
    except ValueError as e:
        return note(FLASH, "error", f"These settings cannot be trained: {e}", ":material/error:")
    corpus = session.active_corpus()
    problem = refusal(lim, corpus, config)
    if problem:
        return note(FLASH, "error", problem, ":material/block:")
    short = fit_mod.shortfall(len(corpus_mod.prepare(corpus.text, config.lowercase)), config)
    if short.problems:  # held back: warning_ui offers the fitted settings, or to start anyway
        st.session_state[PENDING] = (config, corpus.sha256, short.problems)
        return None
    start(lim, config)


def start(lim: Limits, config: Config) -> None:
    st.session_state.pop(PENDING, None)
    corpus = session.active_corpus()
    problem = refusal(lim, corpus, config)
    if problem:
        return note(FLASH, "error", problem, ":material/block:")
    vocab = min(len(set(corpus.text)), corpus_mod.DEFAULT_MAX_VOCAB)
    room = workspace.spaces().refusal(workspace.token(), estimate_run_bytes(config, vocab),
                                      busy=manager().busy()[0])
    if room:  # only runs nobody may lose fill the disk: say so now, not after the training
        return note(FLASH, "error", f"Not started: {room}.", ":material/hard_drive:")
    try:
        view, how = manager().submit(corpus, config, probe=st.session_state.get("train.probe") or None,
                                     store=workspace.shelf().store_for(corpus), owner=workspace.owner())
    except Refused as e:
        return note(FLASH, "warning", f"Not started: {e}", ":material/hourglass_top:")
    session.own_job(view.id)
    if how == "cached":
        session.set_active_run(view.key)
    note(FLASH, *submitted(view, how))


# ---- the jobs: what the trainer is doing, redrawn every second while it works
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
def activate(key: str | None) -> None:
    session.set_active_run(key)


def delete(key: str) -> None:
    try:
        workspace.shelf().delete(key, keep=manager().busy()[1])  # its corpus goes too, unless a job needs it
    except StoreError as e:
        return note(RUNS_NOTE, "error", md(e))
    if session.active_key() == key:
        session.set_active_run(None)
    note(RUNS_NOTE, "success", f"Deleted run {key[:8]}.")


def resume(key: str, lim: Limits, more: int | None = None) -> None:
    run = load_run(key)
    more = int(st.session_state.get("train.more", 1)) if more is None else more
    if run is None:
        return note(RUNS_NOTE, "error", "that run is no longer stored")
    try:
        view, how = manager().resume(key, more, store=workspace.shelf().store_of(key), owner=workspace.owner())
    except (StoreError, ValueError, Refused) as e:
        return note(RUNS_NOTE, "error", f"Not continued: {md(e)}")
    session.own_job(view.id)
    word = {"started": "Continuing", "queued": "Queued to continue", "joined": "Already continuing",
            "cached": "Loaded from cache:"}[how]
    note(RUNS_NOTE, "info", f"{word} run {key[:8]} for {more} more epoch(s) (job #{view.number}).")


def runs_table_ui(runs: list[Run], active_key: str | None) -> None:
    st.dataframe(pd.DataFrame([{
        "active": r.key == active_key,
        "corpus": r.meta.get("corpus_name", "?"),
        "model": f"{r.config.layers} × {r.config.units}",
        "epochs": f"{r.epochs_done}/{r.config.epochs}",
        "val loss": r.val_loss,
        "letter freq.": (run_facts(r)[0].unigram if run_facts(r)[0] is not None else None),
        "status": "interrupted" if r.history.get("stopped") == "interrupted" and r.status != "complete" else r.status,
        "created": r.meta.get("created", ""),
        "key": r.key,
    } for r in runs]), hide_index=True, key="train.runs_table",
        column_config={"val loss": st.column_config.NumberColumn(format="%.3f"),
                       "letter freq.": st.column_config.NumberColumn(
                           format="%.3f", help="The unigram baseline of the run's split: val loss should be well "
                                               "below it")})


def run_selector_ui(runs: list[Run], active_key: str | None) -> str:
    """The run the buttons below act on: the active one unless the visitor picks another."""
    keys = [r.key for r in runs]
    labels = {r.key: r.label for r in runs}
    if st.session_state.get(session.SELECTED_RUN) not in keys:
        st.session_state[session.SELECTED_RUN] = active_key if active_key in keys else keys[0]
    return st.selectbox("Run", keys, format_func=labels.get, key=session.SELECTED_RUN)


def interrupted_ui(key: str, lim: Limits) -> None:
    """A run whose training was interrupted (a server restart, a killed worker): what it kept, and one click on."""
    run = load_run(key)
    if run is None or run.history.get("stopped") != "interrupted" or run.epochs_done >= run.config.epochs:
        return
    left = run.config.epochs - run.epochs_done
    st.warning(f"Run `{key[:8]}` stopped after {run.epochs_done} of {run.config.epochs} epochs: the server or its "
               "training process stopped while it trained. Its finished epochs are kept.", icon=":material/pause:")
    st.button(f"Finish it: {left} more epoch{'s' * (left != 1)}", key="train.finish", on_click=resume,
              args=(key, lim, left), icon=":material/play_arrow:", type="primary")


def run_actions_ui(key: str, active_key: str | None, lim: Limits) -> None:
    a, b, c, d = st.columns([1, 1, 2, 1], vertical_alignment="bottom")
    a.button("Make active", key="train.activate", on_click=activate, args=(key,), icon=":material/check:",
             disabled=key == active_key)
    b.download_button("Download bundle", data=partial(workspace.shelf().export_bundle, key),
                      file_name=f"charlstm-{key}.zip", mime="application/zip", on_click="ignore",
                      key="train.download", icon=":material/download:")
    with c:
        left, right = st.columns([1, 2], vertical_alignment="bottom")
        left.number_input("More epochs", min_value=1, max_value=lim.max_epochs, value=1, key="train.more")
        right.button("Continue training", key="train.resume", on_click=resume, args=(key, lim),
                     icon=":material/fast_forward:")
    if not workspace.shelf().owns(key):  # a shared run (the built-in corpus): read only for every visitor
        d.button("Delete…", key="train.delete_shared", icon=":material/delete:", disabled=True,
                 help="Shared by every visitor (trained on the built-in corpus), so nobody can delete it here.")
        return
    with d.popover("Delete…", icon=":material/delete:"):
        st.markdown(f"Delete run `{key[:8]}` for good?")
        st.button("Delete for good", key="train.delete", on_click=delete, args=(key,), type="primary")


def run_curves(run: Run) -> tuple[list, list, int]:
    """A stored run's training curve, its val loss per epoch at the epoch's last step, and its steps per epoch."""
    curve = [tuple(p) for p in run.history.get("curve", [])]
    vals = run.history.get("val_loss", [])
    spe = steps_per_epoch(int(run.meta.get("corpus_chars", 0) * (1 - run.config.val_fraction)), run.config)
    if curve and vals:
        spe = max(1, round(curve[-1][0] / len(vals)))  # what was trained, whatever the text's preparation
    return curve, [((i + 1) * spe, v) for i, v in enumerate(vals)], spe


def run_details_ui(run: Run) -> None:
    """What a stored run learned: its val loss beside the baselines, its loss curves and its samples by epoch."""
    b = run_facts(run)[0]
    with st.container(border=True, key="train.run_details"):
        name = "The shipped demo model" if is_demo(run) else f"Run `{run.key[:8]}`"
        st.markdown(f"**{name}**: {baseline_words(run, b)}.",
                    help="Cross-entropy of the held-out part in nats per character. Letter frequencies: a model "
                         "that knows only how often each character comes in the training part (unigram, add-one "
                         "smoothed); uniform guess: every character equally likely. docs/loss.md in the repository.")
        st.caption(f"It holds {kept_words(run)}.")
        curve, val_curve, spe = run_curves(run)
        if curve or val_curve:
            st.altair_chart(charts.loss_curves(curve, val_curve, spe), width="stretch", key="train.run_chart")
        samples = [(i, text) for i, text in enumerate(run.samples, 1) if text]
        if samples:
            with st.expander(f"Samples, epoch by epoch ({len(samples)})", expanded=False):
                st.caption("200 characters after each epoch, temperature 0.8, the same seed and priming text "
                           "every epoch: the model's own words as it learned.")
                for i, text in samples:
                    st.markdown(f"**Epoch {i}** · val loss {fmt_loss(_at(run.history.get('val_loss', []), i))}")
                    st.code(text, language=None, wrap_lines=True)


def _at(values: list, epoch: int):
    return values[epoch - 1] if 0 < epoch <= len(values) else None


def upload_bundle_ui(lim: Limits) -> None:
    up = st.file_uploader("Upload a run bundle (.zip)", type=["zip"], key="train.bundle",
                          help="A bundle made by Download bundle, here or on another charlstm server.")
    if up is None:
        st.session_state.pop(BUNDLE_NOTE, None)
        return
    if st.session_state.get("train.bundle_seen") != up.file_id:
        st.session_state["train.bundle_seen"] = up.file_id
        shelf = workspace.shelf()
        data = up.getvalue()
        try:
            refused = shelf.import_refusal(bundle_key(data, lim))  # never over a run this visitor can see
            if refused:
                raise StoreError(refused)
            too_big = lim.problems(bundle_config(data, lim).replace(epochs=1, minutes=0.0))  # its model, not its length
            if too_big:
                raise StoreError("; ".join(too_big))
            with st.spinner("Checking the bundle in a separate process (it loads TensorFlow: a few seconds)…"):
                run = import_bundle(shelf.own, data, limits=lim)  # into this visitor's workspace; no TensorFlow here
        except StoreError as e:
            note(BUNDLE_NOTE, "error", f"{md(up.name)} was not imported: {md(e)}")
        else:
            note(BUNDLE_NOTE, "success", f"Imported run {run.key[:8]}: {md(run.label)}.")
            workspace.housekeeping(manager(), force=True)  # within the workspace's quota
        st.rerun()  # redraw the runs list with the new run in it
    show_note(BUNDLE_NOTE, keep=True)


def runs_ui(lim: Limits) -> None:
    st.subheader("Stored runs")
    show_note(RUNS_NOTE)
    runs = workspace.shelf().list()
    active_key = session.active_key()
    if not runs:
        st.caption("No trained runs yet. Train one above, or upload a bundle below. The active model, until then:")
        run_details_ui(session.active_run())
    else:
        runs_table_ui(runs, active_key)
        key = run_selector_ui(runs, active_key)
        if not any(v.active and v.key == key for v in manager().jobs(owner=session.job_owner())):
            interrupted_ui(key, lim)  # (a run being trained now is stored epoch by epoch: not interrupted)
        run_actions_ui(key, active_key, lim)
        selected = next((r for r in runs if r.key == key), None)
        if selected is not None:
            run_details_ui(selected)
    if active_key:
        st.button("Use the demo model instead", key="train.use_demo", on_click=activate, args=(None,))
    quota_ui()
    upload_bundle_ui(lim)


def quota_ui() -> None:
    """How much of the workspace's quota its runs use, and which run would go first if space were needed."""
    if not workspace.public():
        return
    used, quota, victim = workspace.spaces().usage(workspace.token())
    nxt = (f"If space is needed, run `{victim.name[:8]}` goes first (the least recently used; runs used in the "
           "last hour are never evicted)." if victim is not None else
           "Nothing would be evicted now: every run here was used in the last hour.")
    st.caption(f"Your workspace holds {used / 1e6:,.1f} MB of its {quota / 1e6:,.0f} MB. {nxt}")


lim = limits()
session.adopt_job_from_url()
corpus = session.active_corpus()
intro("Train", f"Corpus: **{md(corpus.name)}**, {len(corpus):,} characters. Training runs in the background, one job "
               "at a time; the same corpus and settings are never trained twice.")
navigation.link("corpus", label="Change the corpus")
config_form_ui(lim)
jobs_ui()
runs_ui(lim)
