"""This visitor's workspace: the server's mode, the token in the URL, and the runs this visitor may see.

The token lives in the URL's `?ws=` query parameter rather than a cookie: Streamlit has no
public API to set a cookie, a URL survives reloads and deep links, and a visitor can copy or
bookmark it to come back later (or open it on another machine). Its weakness, that whoever
has the link has the workspace, is the point of a link and is said next to it. The session
keeps it too, so a page switch (which clears the query string) puts it straight back.
"""

from __future__ import annotations

import os

import streamlit as st

from charlstm.runs.store import default_home
from charlstm.serve import settings as settings_mod
from charlstm.serve import workspace as ws_mod
from charlstm.serve.settings import ServerSettings
from charlstm.serve.workspace import Shelf, Workspaces
from pages.common.builtin import builtin_corpus
from pages.common.server_limits import secret_overrides

TOKEN = "ws.token"  # this session's workspace token (public mode)
NOTICE = "ws.notice"  # what to tell a visitor who came with a bad or unknown link
PARAM = "ws"


def settings() -> ServerSettings:
    """The server's mode and caps (st.secrets over the environment); a bad value stops the page, naming it."""
    try:
        return settings_mod.settings_from(os.environ, secret_overrides())
    except ValueError as e:
        st.error(f"This server's settings are misconfigured: {e}. Ask whoever runs it to fix the setting.")
        st.stop()


@st.cache_resource(show_spinner=False)
def _spaces(home: str, key: str, _s: ServerSettings) -> Workspaces:
    return Workspaces(home, _s, builtin_sha=builtin_corpus().sha256)  # locks its own sweep: safe to share


def spaces() -> Workspaces:
    s = settings()
    return _spaces(str(default_home()), repr(s), s)


def public() -> bool:
    return settings().public


def token() -> str | None:
    """This visitor's token (None in personal mode): from the session, else the URL, else a new one."""
    if not public():
        return None
    t = st.session_state.get(TOKEN)
    if t is None:
        given = st.query_params.get(PARAM)
        ws = spaces()
        if given is not None and not ws_mod.valid_token(given):
            st.session_state[NOTICE] = ("That workspace link is not valid (it must be the whole link, as copied); "
                                        "this is a fresh, empty workspace.")
        elif given is not None and not ws.issued(given):
            st.session_state[NOTICE] = ("That workspace link was not issued by this server, so it opens nothing; "
                                        "this is a fresh, empty workspace with a link of its own.")
        elif given is not None and not ws.exists(given):
            st.session_state[NOTICE] = ("Nothing is stored under this workspace link yet, or it was unused for more "
                                        f"than {settings().workspace_ttl_hours:g} h and deleted. This is a fresh, "
                                        "empty workspace under the same link.")
        t = given if ws.issued(given) else ws.new_token()
        st.session_state[TOKEN] = t
    return t


def keep_in_url() -> None:
    """app.py, every run: the token into the URL (a page switch clears the query string)."""
    t = token()
    if t is not None and st.query_params.get(PARAM) != t:
        st.query_params[PARAM] = t


def owner() -> str | None:
    """The job owner of this visitor: the workspace id in public mode, None (everything) in personal mode."""
    t = token()
    return ws_mod.workspace_id(t) if t is not None else None


def shelf() -> Shelf:
    return spaces().shelf(token())


def notice() -> None:
    text = st.session_state.pop(NOTICE, None)
    if text:
        st.warning(text, icon=":material/link_off:")


def housekeeping(manager, force: bool = False) -> None:
    """Expire idle workspaces and keep the disk within its caps (rate-limited inside; jobs' runs are left).

    Public mode only: in personal mode the store is the one user's, and nothing is evicted behind their back.
    """
    if not public():
        return
    paths, shas = manager.busy()
    spaces().sweep(busy=paths, keep_corpora=shas, force=force)


def link_ui() -> None:
    """The workspace link, with a copy button, and what it is for (sidebar, public mode)."""
    t = token()
    if t is None:
        return
    with st.expander("Your workspace link", icon=":material/link:"):
        base = st.context.url or ""
        st.code(f"{base}?{PARAM}={t}", language=None, wrap_lines=True)
        st.caption(f"Everything you upload, train or import lives in your own workspace; only this link opens it. "
                   f"Copy it (the button at the box's corner) to come back later or from another browser. "
                   f"Unused for {settings().workspace_ttl_hours:g} h, a workspace is deleted with its runs.")
