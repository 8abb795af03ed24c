"""This server's caps: st.secrets over environment variables, handed to the library as plain values."""

from __future__ import annotations

import os

import streamlit as st

from charlstm import limits as limits_mod


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
        return limits_mod.from_env(os.environ, secret_overrides())
    except ValueError as e:
        st.error(f"This server's limits are misconfigured: {e}. Ask whoever runs it to fix the setting.")
        st.stop()


def capped(text: object, field: str) -> str:
    """A visitor's text cut to this server's cap on it (a Limits field, e.g. max_gates_text), said when it was cut.

    Whatever the browser sent: a text area's max_chars holds only in the browser.
    """
    cap = getattr(limits(), field)
    text = "" if text is None else str(text)
    note = limits_mod.cut_note(len(text), cap)
    if note:
        st.warning(note, icon=":material/content_cut:")
    return limits_mod.clip(text, cap)
