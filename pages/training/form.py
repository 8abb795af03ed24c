"""The Train page's form: presets, fitted settings, warnings, and submitting a training."""


import streamlit as st

from charlstm.config import PRESETS, Config, form_settings
from charlstm.insight.probes import MAX_CHARS, PROBE
from charlstm.serve.job import JobView, Refused
from charlstm.serve.limits import Limits, estimate_run_bytes
from charlstm.text import corpus as corpus_mod
from charlstm.text.corpus import Corpus, CorpusError
from charlstm.training import fit as fit_mod
from pages.common import session, workspace
from pages.common.persist import form_key
from pages.common.resources import manager
from pages.common.server_limits import limits
from pages.common.widgets import note, settings_ui, show_note

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
