"""The Train page's stored runs: the table, making one active, continuing, deleting, bundles, the quota."""

from functools import partial

import pandas as pd
import streamlit as st

from charlstm.runs.bundles import bundle_config, bundle_key
from charlstm.runs.store import Run, StoreError
from charlstm.serve.job import Refused
from charlstm.serve.limits import Limits
from charlstm.serve.worker import import_bundle
from charlstm.text.split import steps_per_epoch
from charlstm.views import charts
from pages.common import session, workspace
from pages.common.resources import is_demo, load_run, manager, run_facts
from pages.common.text import baseline_words, fmt_loss, kept_words, md
from pages.common.widgets import note, show_note
from pages.training.form import BUNDLE_NOTE, RUNS_NOTE


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
