"""Navigation: the pages, and app.py's st.navigation serving every one of them, even on a fresh server.

Streamlit takes a folder named pages/ beside the entrypoint for its legacy multipage layout
(every file in it a page, run *without* app.py) until some session calls st.navigation,
which its documentation names as the way out: "as soon as any session of your app executes
the st.navigation command, your app will ignore the pages/ directory". There is no public
switch for it, and AppTest re-detects the folder before every run. So the first request of a
fresh server (a deep link to /gates, say), or any AppTest run, may start in a page file.
That file's first statement, through_app(), then runs app.py right here, in the same script
run (a rerun would lose a button click): its st.navigation resolves the same page (our url
paths are the file names, so the legacy and the new page hashes agree) and runs it, and the
first copy stops. A page file learns that app.py is serving it from a flag that run() sets
for the duration of the page: no private Streamlit state is read or written.

Streamlit sends the legacy list of files before any of our code runs. through_app() comes
before the page's imports and st.navigation before app.py's, so our list follows within a few
milliseconds (a busy machine may draw the first for a frame), not the seconds the imports took.
tests/test_app.py fails loudly, naming PagesManager.uses_pages_directory, if Streamlit changes this.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import NamedTuple

import streamlit as st

APP = Path(__file__).resolve().parents[2] / "app.py"


class PageSpec(NamedTuple):
    path: str  # relative to app.py; its stem is the url path
    title: str
    icon: str


PAGES = {
    "home": PageSpec("pages/home.py", "Home", ":material/home:"),
    "corpus": PageSpec("pages/corpus.py", "Corpus", ":material/description:"),
    "train": PageSpec("pages/train.py", "Train", ":material/model_training:"),
    "gates": PageSpec("pages/gates.py", "Gates", ":material/grid_on:"),
    "units": PageSpec("pages/units.py", "Units", ":material/neurology:"),
    "teach": PageSpec("pages/teach.py", "Teach", ":material/school:"),
    "insight": PageSpec("pages/insight.py", "Insight", ":material/insights:"),
    "generate": PageSpec("pages/generate.py", "Generate", ":material/edit_note:"),
}
HOME = "home"

_serving = threading.local()  # each session's script runs in its own thread


def navigation():
    """app.py's st.navigation over PAGES; returns the page to run."""
    return st.navigation([
        st.Page(p.path, title=p.title, icon=p.icon, default=name == HOME, url_path=None if name == HOME else name)
        for name, p in PAGES.items()])


def run(page) -> None:
    """Run the page st.navigation chose, marked as served by app.py for through_app()."""
    _serving.active = True
    try:
        page.run()
    finally:
        _serving.active = False


def through_app() -> None:
    """First thing in every page file: when Streamlit ran the file itself, run app.py instead (see above)."""
    if getattr(_serving, "active", False):
        return
    exec(compile(APP.read_text(encoding="utf-8"), str(APP), "exec"), {"__name__": "__main__", "__file__": str(APP)})
    st.stop()


def link(name: str, label: str | None = None, icon: str | None = None) -> None:
    """A link to one of PAGES."""
    spec = PAGES[name]
    st.page_link(spec.path, label=label or spec.title, icon=icon or spec.icon)
