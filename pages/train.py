"""Train: configure a model, train it in the background, watch it learn, manage stored runs."""

from pages.common.navigation import through_app

through_app()  # first, before the heavy imports: see pages/common/navigation.py

from pages.common import navigation, session
from pages.common.server_limits import limits
from pages.common.text import md
from pages.common.widgets import intro
from pages.training.form import config_form_ui
from pages.training.jobs import jobs_ui
from pages.training.runs import runs_ui

lim = limits()
session.adopt_job_from_url()
corpus = session.active_corpus()
intro("Train", f"Corpus: **{md(corpus.name)}**, {len(corpus):,} characters. Training runs in the background, one job "
               "at a time; the same corpus and settings are never trained twice.")
navigation.link("corpus", label="Change the corpus")
config_form_ui(lim)
jobs_ui()
runs_ui(lim)
