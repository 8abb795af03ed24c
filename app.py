"""charlstm in the browser: pick a corpus, train a character-level LSTM, look inside its gates, generate text."""

import streamlit as st

from pages.common import navigation

page = navigation.navigation()  # first, before the imports below: see pages/common/navigation.py

from pages.common import session
from pages.common.persist import keep_widget_state
from pages.common.sidebar import sidebar

keep_widget_state()
st.set_page_config(page_title="charlstm", page_icon="🔤", layout="wide")
session.follow_own_job()  # before any widget is drawn, on every page
sidebar()
navigation.run(page)
