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


PERSISTENT = ("train.preset", *(form_key(s.name) for s in form_settings()),
              "corpus.window", "gates.example", "gates.text", "gates.layer", "gates.show", "gates.drop",
              "gates.unit", "gates.stretch", "gates.position", "generate.prime", "generate.length",
              "generate.temperature", "generate.top_k", "generate.seed", "generate.drop", "generate.mode")


def keep_widget_state() -> None:
    """Re-assign the PERSISTENT widget values, which makes Streamlit keep them across pages."""
    for key in PERSISTENT:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
