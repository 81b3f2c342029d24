# The AI-Ready Data Platform Workbench. Two commands on a fresh machine: `make labs`, `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export IPYTHONDIR := $(CURDIR)/.workbench/ipython
export JUPYTER_RUNTIME_DIR := $(CURDIR)/.workbench/jupyter-runtime
export JUPYTER_DATA_DIR := $(CURDIR)/.venv/share/jupyter
export MPLCONFIGDIR := $(CURDIR)/.workbench/matplotlib
export SPARK_LOCAL_IP := 127.0.0.1
export PYTHONDONTWRITEBYTECODE := 1

LABS ?=
JOBS ?= 1
SCALE ?= tiny
PYTEST_ARGS ?=

.PHONY: help install check-java labs test lint jupyter bench lock build-labs up down status doctor reset clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

check-java:
	@java -version >/dev/null 2>&1 || { \
	  echo "ERROR: Spark needs a Java 17+ runtime and 'java' is not on PATH."; \
	  echo "  fix (Debian/Ubuntu): sudo apt-get install -y openjdk-17-jre-headless"; \
	  echo "  fix (macOS):         brew install openjdk@17"; \
	  echo "  fix (conda):         conda install -c conda-forge openjdk=17"; \
	  exit 1; }

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "ERROR: $(PYTHON) not found; install Python 3.11 (e.g. pyenv install 3.11)"; exit 1; }
	@mkdir -p .workbench
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[labs,compose,jupyter,dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (workbench)" >/dev/null
	@touch $(STAMP)

install: check-java $(STAMP)  ## create .venv and install the pinned stack
	@mkdir -p .workbench

labs: install  ## run every lab headlessly on the embedded profile and write a report under runs/
	$(BIN)/workbench run $(LABS) --jobs $(JOBS) --scale $(SCALE)

test: install lint  ## lint, then run the whole test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install  ## ruff over the package, tests and benchmarks (rules in pyproject.toml)
	$(BIN)/ruff check platform_kit tests bench

jupyter: install  ## JupyterLab on labs/ with the embedded stack running
	$(BIN)/workbench up
	$(BIN)/jupyter lab --notebook-dir=labs --ip=127.0.0.1 --no-browser $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

bench: install  ## run benchmarks, JSON under bench/results/
	$(BIN)/python -m bench

build-labs: install  ## regenerate learner notebooks in labs/ from solutions/
	$(BIN)/workbench build-labs

up down status doctor reset: install
	$(BIN)/workbench $@

lock:  ## re-resolve the pinned set into constraints.txt (needs network)
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet -e '.[labs,compose,jupyter,dev]'
	.lock-venv/bin/pip freeze --exclude-editable | grep -v '^-e' > constraints.txt
	rm -rf .lock-venv

clean:  ## remove the venv and all lab state
	rm -rf $(VENV) .workbench runs
