"""Corpus: choose the text to train on and see how a character model reads it."""

from pages.common.navigation import through_app

through_app()  # first, before the heavy imports: see pages/common/navigation.py

import math

import pandas as pd
import streamlit as st

from charlstm.config import Config
from charlstm.text import corpus as corpus_mod
from charlstm.text.corpus import Corpus, CorpusError, Vocab
from charlstm.views import charts
from pages.common import session
from pages.common.navigation import link
from pages.common.persist import form_key
from pages.common.resources import builtin_corpus
from pages.common.server_limits import limits
from pages.common.text import md
from pages.common.widgets import intro

UPLOAD_TYPES = ["txt", "text", "md"]


def read_upload(data: bytes, name: str, max_bytes: int, seq_len: int, val_fraction: float) -> Corpus:
    """A corpus from uploaded bytes, or CorpusError saying what is wrong with them."""
    corpus = corpus_mod.from_bytes(data, name, max_bytes=max_bytes)
    corpus_mod.check_length(corpus.text, seq_len, val_fraction)
    return corpus


@st.cache_resource(show_spinner="Counting characters…", max_entries=8)
def vocab_of(sha: str, lowercase: bool, _text: str) -> Vocab:
    return Vocab.build(corpus_mod.prepare(_text, lowercase))


def form_config() -> Config:
    """The Train form's sequence length and validation share, to judge whether a text is long enough."""
    base = Config()
    seq_len = st.session_state.get(form_key("seq_len"), base.seq_len)
    return base.replace(seq_len=int(seq_len)) if isinstance(seq_len, int) and seq_len >= 2 else base


def take_upload(max_bytes: int) -> None:
    """Read a newly uploaded file once; a bad one leaves an error to show and the active corpus alone."""
    up = st.session_state.get("corpus.upload")
    if up is None:
        st.session_state.pop("corpus.error", None)
        st.session_state.pop("corpus.seen", None)
        return
    if st.session_state.get("corpus.seen") == up.file_id:
        return
    st.session_state["corpus.seen"] = up.file_id
    cfg = form_config()
    try:
        data = up.getvalue()
        corpus = read_upload(data, up.name, max_bytes, cfg.seq_len, cfg.val_fraction)
    except CorpusError as e:
        st.session_state["corpus.error"] = (up.name, str(e))
        return
    except OSError as e:
        st.session_state["corpus.error"] = (up.name, f"the file could not be read ({e.strerror or e})")
        return
    st.session_state.pop("corpus.error", None)
    session.set_active_corpus(corpus)


def use_builtin() -> None:
    session.set_active_corpus(builtin_corpus())
    st.session_state.pop("corpus.error", None)


def source_ui(max_mb: float) -> None:
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    with left:
        st.file_uploader(
            "Upload a text file (.txt)", type=UPLOAD_TYPES, key="corpus.upload",
            max_upload_size=max(1, math.ceil(2 * max_mb)),  # larger files reach the check below and its message
            help=f"Plain text in UTF-8, UTF-16 or Windows-1252, up to {max_mb:g} MB. "
                 "A bad file is refused and the current corpus stays.")
    with right:
        st.button("Use the built-in tiny Shakespeare", key="corpus.builtin", on_click=use_builtin,
                  icon=":material/menu_book:")
    failed = st.session_state.get("corpus.error")
    if failed:
        name, message = failed
        st.error(f"**{md(name)}** was not used: {md(message)}. The corpus stays "
                 f"**{md(session.active_corpus().name)}**.", icon=":material/error:")


def summary_ui(corpus: Corpus, vocab: Vocab, lower: Vocab) -> None:
    st.subheader(f"Active corpus: {md(corpus.name)}")
    a, b, c, d = st.columns(4)
    a.metric("Characters", f"{len(corpus):,}")
    b.metric("Vocabulary", f"{len(vocab)} characters")
    c.metric("Encoding", corpus.encoding)
    d.metric("Lines", f"{corpus.text.count(chr(10)) + (not corpus.text.endswith(chr(10))):,}")
    for note in corpus.notes:
        st.info(f"Note: {note}.", icon=":material/info:")
    if vocab.folded:
        rare = ", ".join(corpus_mod.char_label(ch) for ch in sorted(vocab.folded)[:20])
        more = f" and {len(vocab.folded) - 20} more" if len(vocab.folded) > 20 else ""
        st.warning(f"{len(vocab.folded)} rare characters ({sum(vocab.folded.values()):,} occurrences) are folded "
                   f"into one placeholder, {corpus_mod.char_label(corpus_mod.PLACEHOLDER)}: {rare}{more}.",
                   icon=":material/warning:")
    if len(lower) < len(vocab):
        st.caption(f"With the Train page's *Lowercase the text* option, the vocabulary shrinks from "
                   f"{len(vocab)} to {len(lower)} characters.")
    with st.expander("The first 1,000 characters"):
        st.code(corpus.text[:1000], language=None, wrap_lines=True)


def mapping_ui(vocab: Vocab) -> None:
    st.subheader("Characters become numbers")
    st.markdown("The model sees integers, not letters: each distinct character gets an id, in sorted order. "
                "Invisible characters are named (␣ space, ↵ newline, ⇥ tab).")
    rows = corpus_mod.char_table(vocab)
    left, right = st.columns([2, 3])
    with left:
        st.dataframe(pd.DataFrame(rows), hide_index=True, height=420, key="corpus.table",
                     column_config={
                         "char": st.column_config.TextColumn("character"),
                         "id": st.column_config.NumberColumn("id"),
                         "count": st.column_config.NumberColumn("count", format="localized"),
                         "share": st.column_config.NumberColumn("share", format="percent"),
                     })
    with right:
        st.altair_chart(charts.char_frequency(rows), width="stretch")


def pairs_ui(text: str) -> None:
    st.subheader("What the model learns from")
    st.markdown("Every position is a question: *given these characters, which comes next?* "
                "A few windows from the start of the text, each with the character that follows:")
    st.session_state.setdefault("corpus.window", 10)  # a first value as state: the key is also set as state
    window = st.slider("Window length", 3, 40, key="corpus.window")
    pairs = corpus_mod.training_pairs(text, window, n=8)
    st.dataframe(pd.DataFrame([{"input window": charts.visible(w), "next character": corpus_mod.char_label(n)}
                               for w, n in pairs]), hide_index=True, key="corpus.pairs")
    st.markdown("Training does this for a whole sequence at once: the target is the input shifted by one "
                "character, so every position is a training example.")
    x, y = corpus_mod.shifted(text, 48)
    st.code(f"input  {charts.visible(x)}\ntarget {charts.visible(y)}", language=None)


lim = limits()
take_upload(lim.max_corpus_bytes)
intro("Corpus", "Choose the text a model will learn from: the built-in tiny Shakespeare (1.1 million characters of "
                "plays) or a plain-text file of your own.")
source_ui(lim.max_corpus_mb)
corpus = session.active_corpus()
vocab = vocab_of(corpus.sha256, False, corpus.text)
summary_ui(corpus, vocab, vocab_of(corpus.sha256, True, corpus.text))
mapping_ui(vocab)
pairs_ui(corpus.text)
link("train", label="Next: train a model on this corpus", icon=":material/arrow_forward:")
