"""charlstm in the browser: pick a corpus, train a character-level LSTM, look inside its gates, generate text."""

import streamlit as st

from pages._common import keep_widget_state, sidebar, use_navigation

use_navigation(entrypoint=True)
keep_widget_state()
st.set_page_config(page_title="charlstm", page_icon="🔤", layout="wide")

page = st.navigation([
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/corpus.py", title="Corpus", icon=":material/description:", url_path="corpus"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page("pages/gates.py", title="Gates", icon=":material/grid_on:", url_path="gates"),
    st.Page("pages/units.py", title="Units", icon=":material/neurology:", url_path="units"),
    st.Page("pages/generate.py", title="Generate", icon=":material/edit_note:", url_path="generate"),
])
sidebar()
page.run()
