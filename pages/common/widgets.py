"""Widgets more than one page draws: the page intro, the missing-characters warning, a setting's input, notes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

import streamlit as st

from charlstm.config import Setting
from charlstm.insight import gates
from charlstm.runs.store import Run
from charlstm.text import corpus as corpus_mod
from charlstm.views import insight_charts, tables


def intro(title: str, text: str) -> None:
    """A page's title and the line under it that says what the page is for."""
    st.title(title)
    st.markdown(text)


def missing_chars_ui(run: Run, text: str, key: str) -> bool:
    """Warn about characters of text the run never saw; returns whether the visitor chose to drop them."""
    missing = run.vocab.missing(corpus_mod.prepare(text, run.config.lowercase))
    if not missing:
        return False
    one = len(missing) == 1
    names = ", ".join(f"“{corpus_mod.char_label(c)}”" for c in missing)
    st.warning(f"The model never saw {'this character' if one else 'these characters'} in training: {names}. "
               f"It cannot read {'it' if one else 'them'}.", icon=":material/warning:")
    return st.checkbox("Drop the missing characters", key=key)


def lazy_tabs_ui(views: dict[str, Callable[[], None]], key: str) -> None:
    """Tabs whose view is computed only while the visitor has it open (each switch reruns the page)."""
    tabs = st.tabs(list(views), key=key, on_change="rerun")
    for tab, view in zip(tabs, views.values(), strict=True):
        if tab.open:
            with tab:
                view()


def traced_ui(run: Run, text: str, drop_key: str | None) -> gates.GateTrace | None:
    """The trace of text, or None (with a note) when there is nothing the model can read."""
    drop = missing_chars_ui(run, text, drop_key)
    if run.vocab.missing(corpus_mod.prepare(text, run.config.lowercase)) and not drop:
        return None
    tr = gates.trace(run, text, drop_unknown=drop) if text else None
    if tr is None or len(tr.text) < 2:
        st.info("Type at least two characters the model knows.", icon=":material/keyboard:")
        return None
    return tr


def setting_input(s: Setting, key: str) -> None:
    """The form widget a Config setting declares (charlstm/config.py); its value lands in session_state[key]."""
    if s.kind is bool:
        st.checkbox(s.label, key=key, help=s.help)
    elif s.choices:
        st.selectbox(s.label, s.choices, key=key, help=s.help)
    elif s.kind is str:
        st.text_input(s.label, key=key, help=s.help)
    elif s.widget == "slider":
        lo, hi = s.form_range or (s.min, s.max)
        st.slider(s.label, lo, hi, step=s.step, key=key, help=s.help)
    else:
        lo, hi = s.form_range or (s.min, s.max)
        st.number_input(s.label, min_value=lo, max_value=hi, step=s.step, format=s.format, key=key, help=s.help)


def settings_ui(settings: Iterable[Setting], key: Callable[[str], str]) -> None:
    """One widget per setting, each in the column (of three) that it declares."""
    columns = st.columns(3)
    for s in settings:
        with columns[s.column]:
            setting_input(s, key(s.name))


def note(key: str, kind: str, text: str, icon: str | None = None) -> None:
    """Leave a message (kind: success, info, warning, error) for show_note, e.g. from a callback."""
    st.session_state[key] = (kind, text, icon)


def show_note(key: str, keep: bool = False) -> None:
    """Show the message left under key, once unless keep."""
    found = st.session_state.get(key) if keep else st.session_state.pop(key, None)
    if found:
        kind, text, icon = found
        getattr(st, kind)(text, icon=icon)


def downloads_ui(name: str, table, chart, key: str, what: str = "the numbers") -> None:
    """A CSV of a view's numbers and its chart as files (SVG, PNG), in a row of buttons. Each file is made on click:
    `table` may be a DataFrame or a function that makes one (a trace of 512 units is a megabyte of CSV)."""
    cols = st.columns(4)
    csv = (lambda: tables.to_csv(table())) if callable(table) else tables.to_csv(table)
    cols[0].download_button("CSV", csv, file_name=f"{name}.csv", mime="text/csv", key=f"{key}.csv",
                            on_click="ignore", icon=":material/download:",
                            help=f"{what}: one row per character, with its position")
    for col, (label, ext, mime) in zip(cols[1:], insight_charts.chart_kinds(), strict=False):
        col.download_button(label, partial(insight_charts.chart_file, chart, ext), file_name=f"{name}.{ext}",
                            mime=mime, key=f"{key}.{ext}", on_click="ignore", icon=":material/image:",
                            help="the chart above, to put on a slide")
    if not insight_charts.can_draw_images():
        cols[3].caption("SVG and PNG need `vl-convert-python` on the server; the HTML page draws the chart.")
