# Two commands for a fresh machine:  `make run` (the app on the built-in corpus)  and  `make test`.
# On Linux with an NVIDIA GPU:  `make run GPU=1`, `make test GPU=1`: TensorFlow's CUDA build
# (requirements-gpu.txt) in a virtual environment of its own, .venv-gpu.
PYTHON ?= python3
GPU    ?=
VENV   ?= $(if $(GPU),.venv-gpu,.venv)
PY     := $(VENV)/bin/python
PORT   ?= 8501
# requirements-dev.txt's own tools (pytest, ruff, playwright), without its -r requirements.txt
DEV_TOOLS := $(shell grep -v -e '^\#' -e '^-r' -e '^ *$$' requirements-dev.txt)

BENCH_VENV ?= .venv-bench

.PHONY: run test lint bench bench-peer demo-model mutate clean

$(VENV)/.installed: requirements.txt requirements-dev.txt $(if $(GPU),requirements-gpu.txt)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
ifeq ($(GPU),)
	$(PY) -m pip install --quiet -r requirements-dev.txt
else
	$(PY) -m pip install --quiet -r requirements-gpu.txt $(foreach r,$(DEV_TOOLS),'$(r)')
endif
	touch $@

run: $(VENV)/.installed
	CHARLSTM_MODE=personal $(VENV)/bin/streamlit run app.py --server.port $(PORT)  # one user: see docs/deploy.md, "Two modes"

# the suite in two processes, a test file each at a time (pytest-xdist): most tests wait on a worker process, a
# server or a browser, so two files at once fill both cores; TEST_JOBS=0 runs it in this process alone
TEST_JOBS ?= 2
test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(if $(filter 0,$(TEST_JOBS)),,-n $(TEST_JOBS) --dist loadfile)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

bench: $(VENV)/.installed
	$(PY) bench/run.py

# charlstm and its PyTorch reference side by side (bench/peer.py, about 40 minutes): PyTorch lives in its own venv.
$(BENCH_VENV)/.installed: requirements.txt requirements-bench.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -r requirements-bench.txt
	touch $@

bench-peer: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python bench/peer.py $(ARGS)

# A mutation run over the critical modules (bench/mutate.py; slow, not part of CI): each line it prints as
# SURVIVED is a flipped comparison, boolean or `not` that no test noticed (docs/mutation.md lists the last run's).
mutate: $(VENV)/.installed
	$(PY) bench/mutate.py charlstm/serve/limits.py tests/test_limits.py tests/test_caps.py
	$(PY) bench/mutate.py charlstm/runs/bounded.py tests/test_bundles.py
	$(PY) bench/mutate.py charlstm/serve/workspace.py tests/test_workspace_edges.py tests/test_workspace.py
	$(PY) bench/mutate.py charlstm/runs/store.py tests/test_store_edges.py tests/test_store.py tests/test_bundles.py
	$(PY) bench/mutate.py charlstm/serve/worker.py tests/test_worker_protocol.py
	$(PY) bench/mutate.py charlstm/serve/protocol.py tests/test_worker_protocol.py
	$(PY) bench/mutate.py charlstm/serve/job.py --defs death_message,ending,read_queue tests/test_worker_protocol.py \
		tests/test_jobs.py

# Retrain the small model that ships with the package (see docs/shipped-model.md).
demo-model: $(VENV)/.installed
	$(PY) bench/make_demo.py --minutes 70 --out /tmp/charlstm-demo --no-install --keep-epochs /tmp/charlstm-demo-epochs
	$(PY) bench/choose_demo.py /tmp/charlstm-demo /tmp/charlstm-demo-epochs

clean:
	rm -rf .venv .venv-gpu $(BENCH_VENV) .pytest_cache .ruff_cache
