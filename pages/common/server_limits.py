"""This server's caps: st.secrets over environment variables, handed to the library as plain values."""

from __future__ import annotations

import os

import streamlit as st

from charlstm.serve import limits as limits_mod
from charlstm.serve import settings as settings_mod


def secret_overrides() -> dict:
    """Every CHARLSTM_* key of st.secrets (and the [charlstm] table's keys), for the library to read."""
    try:
        if not st.secrets.load_if_toml_exists():
            return {}
        out = {k: v for k, v in st.secrets.items() if isinstance(k, str) and k.upper().startswith("CHARLSTM_")}
        section = st.secrets.get("charlstm")
        if section is not None:
            out.update({str(k): v for k, v in dict(section).items()})
        return out
    except (FileNotFoundError, KeyError, TypeError, ValueError):  # unreadable secrets: the environment decides
        return {}


def limits() -> limits_mod.Limits:
    """The server's caps; a misconfigured value stops the page with a message naming it."""
    try:
        return settings_mod.from_env(os.environ, secret_overrides())
    except ValueError as e:
        st.error(f"This server's limits are misconfigured: {e}. Ask whoever runs it to fix the setting.")
        st.stop()


def capped(key: str, field: str) -> int:
    """Before its widget is drawn: the text kept under key cut to this server's cap (a Limits field, e.g.
    max_gates_text), saying so, so the box shows what is read. Returns the cap, for max_chars and clip.

    Streamlit cuts to max_chars what the browser sends, but not a text already in state (a preset, a deep link, a
    visitor's text kept while the cap was lowered), and a modified client sends what it likes.
    """
    cap = getattr(limits(), field)
    text = st.session_state.get(key)
    note = limits_mod.cut_note(len(text), cap) if isinstance(text, str) else None
    if note:
        st.session_state[key] = text[:cap]
        st.warning(note, icon=":material/content_cut:")
    return cap
