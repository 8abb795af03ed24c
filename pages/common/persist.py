"""Widget values that survive a visit to another page.

Streamlit drops a widget's state when a run does not draw it; re-assigning the value at the
start of every run (app.py does) makes Streamlit keep it. Buttons and uploaders cannot be set
this way and are left out. The Train form's keys come from the settings themselves.
"""

from __future__ import annotations

import streamlit as st

from charlstm.config import form_settings


def form_key(setting: str) -> str:
    """The Train form widget's key for a Config setting, namespaced by page."""
    return f"train.{setting}"


PERSISTENT = ("train.preset", "train.probe", *(form_key(s.name) for s in form_settings()),
              "corpus.window", "gates.example", "gates.text", "gates.layer", "gates.show", "gates.drop",
              "gates.unit", "gates.stretch", "gates.position", "generate.prime", "generate.length",
              "generate.temperature", "generate.top_k", "generate.seed", "generate.drop", "generate.mode")


def keep_widget_state() -> None:
    """Re-assign the PERSISTENT widget values, which makes Streamlit keep them across pages."""
    for key in PERSISTENT:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def restore(keys: tuple[str, ...], kept_key: str) -> None:
    """For a page whose tabs draw only some widgets a run: bring back the values remember() kept.

    Streamlit forgets a widget's value in a run that does not draw it, but keeps plain keys, so a
    page copies its widget values to kept_key at the end of every run and back before the widgets.
    """
    kept = st.session_state.get(kept_key, {})
    for key in keys:
        if key in st.session_state:  # set again in this run, so the browser is told the value as the widget draws
            st.session_state[key] = st.session_state[key]
        elif key in kept:
            st.session_state[key] = kept[key]


def remember(keys: tuple[str, ...], kept_key: str) -> None:
    st.session_state[kept_key] = {k: st.session_state[k] for k in keys if k in st.session_state}


def default_for(key: str, context, default) -> None:
    """Start a widget at `default` whenever what it refers to (a text, a state) changes; else the user's pick stays."""
    if st.session_state.get(f"{key}.context") != context:
        st.session_state[f"{key}.context"] = context
        st.session_state[key] = default
