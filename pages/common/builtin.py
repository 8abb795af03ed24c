"""The built-in corpus, loaded once per server process (the workspaces and every page need it)."""

from __future__ import annotations

import streamlit as st

from charlstm.text import corpus as corpus_mod
from charlstm.text.corpus import Corpus


@st.cache_resource(show_spinner="Loading the built-in corpus…")
def builtin_corpus() -> Corpus:
    return corpus_mod.builtin()  # immutable, so one copy serves every session
