# liverseg: every target creates (or reuses) the virtual environment it needs.
#   make reproduce-gong                          phantom, cpu profile (2 CPU cores, minutes)
#   make reproduce-gong PROFILE=paper DATA_DIR=/data/lits DATASET=lits GPU=1   (DATASET: lits, msd, ircadb)
#   make reproduce-gong LITS_DIR=/data/lits      shorthand for DATA_DIR=... DATASET=lits (IRCADB_DIR: ircadb)
#   make reproduce-gong SPLIT=compare/split.json the common split of make compare (which then reuses the run)
#   make compare                                 every paper's default variant on one test set (phantom, cpu)
#   make compare PROFILE=paper LITS_DIR=/data/lits GPU=1   the same on LiTS (COMPARE_DIR: where it goes)
#   make compare PROTOCOL=lits                   its scores exactly as the official LiTS scorer computes them
#   make compare FOLDS=5                         five patient folds: every case scored once by every method, out of fold
#   make test                                    the test suite CI runs (then make test-process)
#   make readme                                  rewrite the READMEs' figures from the files that hold them
#   make venv / make dev                         the runtime / development environment in .venv (GPU=1: the CUDA build)
#   make test-fast / make bench / make clean     the quick tests / the throughput benchmarks / remove build leftovers
#   make help                                    this list
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= cpu
SEED ?= 0
PROTOCOL ?= liverseg
GPU ?= 0
REQS := $(if $(filter 1,$(GPU)),requirements-gpu.txt,requirements.txt)

export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED ?= 0

COMPARE_DIR ?= compare

.DEFAULT_GOAL := help

# the comment block at the top of this file, which lists every target with its variables
help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

.PHONY: help readme venv dev test test-process test-fast bench compare clean

$(VENV)/.runtime-$(GPU): requirements-base.txt $(REQS) setup.cfg
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r $(REQS)
	$(PY) -m pip install -q --no-deps --no-build-isolation -e . || $(PY) -m pip install -q --no-deps -e .
	@touch $@

$(VENV)/.dev-$(GPU): $(VENV)/.runtime-$(GPU) requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.runtime-$(GPU)
dev: $(VENV)/.dev-$(GPU)

# The suite, real-data tests included (they read ../shared/data), on two processes (one per test
# file); GPU tests are never run here. test-process: the whole-run tests (subprocess runs, the five-paper
# comparison), one test file per process so that a file's module fixture runs once (.ci/run runs both).
test: $(VENV)/.dev-$(GPU)
	$(PY) -m pytest -m "not gpu and not process" -q -n 2 --dist loadfile

test-process: $(VENV)/.dev-$(GPU)
	$(PY) -m pytest -m "process and not gpu" -q -n 2 --dist loadfile

test-fast: $(VENV)/.dev-$(GPU)
	$(PY) -m pytest -m "not gpu and not slow and not realdata" -q

DATA_ARGS = $(if $(LITS_DIR),--data-dir $(LITS_DIR) --dataset lits)$(if $(IRCADB_DIR),--data-dir $(IRCADB_DIR) --dataset ircadb)$(if $(DATA_DIR),--data-dir $(DATA_DIR))$(if $(DATASET), --dataset $(DATASET))
RUN_ARGS = $(if $(RUN_DIR),--run-dir $(RUN_DIR))$(if $(SPLIT), --split $(SPLIT))

# every method is a folder experiments/<name>/ with a spec.py (the list lives there, nowhere else)
reproduce-%: $(VENV)/.runtime-$(GPU)
	@test -f experiments/$*/spec.py || { echo "reproduce-$*: no method $* (methods: $(notdir $(patsubst %/spec.py,%,$(wildcard experiments/*/spec.py))))"; exit 2; }
	$(PY) -m liverseg.cli.main reproduce $* --profile $(PROFILE) --seed $(SEED) $(DATA_ARGS) $(RUN_ARGS)

update-expected-%: $(VENV)/.runtime-$(GPU)
	@test -f experiments/$*/spec.py || { echo "update-expected-$*: no method $*"; exit 2; }
	$(PY) -m liverseg.runner.record_expected $* --update

readme: $(VENV)/.runtime-$(GPU)
	$(PY) -m liverseg.runner.readme

compare: $(VENV)/.runtime-$(GPU)
	$(PY) -m liverseg.cli.main compare --profile $(PROFILE) --seed $(SEED) --protocol $(PROTOCOL) --out $(COMPARE_DIR) $(DATA_ARGS)$(if $(FOLDS), --folds $(FOLDS))

bench: $(VENV)/.dev-$(GPU)
	$(PY) benchmarks/pipeline.py
	$(PY) benchmarks/metrics.py
	$(PY) benchmarks/cache_format.py

clean:
	rm -rf .pytest_cache build *.egg-info
