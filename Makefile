# Two commands for a fresh machine:  `make run` (the app on the built-in corpus)  and  `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501

.PHONY: run test lint bench demo-model clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	CHARLSTM_MODE=personal $(VENV)/bin/streamlit run app.py --server.port $(PORT)  # one user: see README, "Two modes"

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

bench: $(VENV)/.installed
	$(PY) bench/run.py

# Retrain the small model that ships with the package (see README: "The shipped model").
demo-model: $(VENV)/.installed
	$(PY) bench/make_demo.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
