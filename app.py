"""charlstm in the browser: pick a corpus, train a character-level LSTM, look inside its gates, generate text."""

import streamlit as st

from pages.common import navigation

page = navigation.navigation()  # first, before the imports below: see pages/common/navigation.py

from pages.common import session, workspace
from pages.common.persist import keep_widget_state
from pages.common.resources import manager
from pages.common.sidebar import sidebar

keep_widget_state()
st.set_page_config(page_title="charlstm", page_icon="🔤", layout="wide")
workspace.keep_in_url()  # public mode: this visitor's workspace token, in the URL on every page
workspace.housekeeping(manager())  # idle workspaces expire, quotas hold: at most once a minute
session.follow_own_job()  # before any widget is drawn, on every page
sidebar()
navigation.run(page)
