# mmseg-attnkd: every target sets up what it needs, idempotently.
#   make demo   set-up + the quickstart
#   make test   set-up + the whole test suite
# Set-up builds a .venv with python3.11, torch 2.13.0, mmcv 2.1.0 built with
# ops (about 13 minutes once; pip's wheel cache makes later runs instant),
# the OpenMMLab stack and this package in editable mode. Stamp files make a
# warm set-up take seconds.

PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
TORCH_VERSION ?= 2.13.0
MMCV_VERSION  ?= 2.1.0
MAX_JOBS ?= 2
PYTEST_ARGS ?=
# pytest-xdist workers; most slow tests are single-threaded subprocesses
TEST_JOBS ?= 2

STAMP_TORCH := $(VENV)/.stamp-torch-$(TORCH_VERSION)
STAMP_MMCV  := $(VENV)/.stamp-mmcv-$(MMCV_VERSION)
STAMP_DEPS  := $(VENV)/.stamp-deps
STAMP_PKG   := $(VENV)/.stamp-pkg

.PHONY: setup test demo bench-quick bench clean-venv help

help:
	@echo "make demo | make test | make bench-quick | make setup | make clean-venv"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q "pip<25"

$(STAMP_TORCH): $(PY) requirements/build.txt
	$(PIP) install -q torch==$(TORCH_VERSION)
	@# torch pulls a setuptools that lacks pkg_resources; mmcv's setup needs it.
	$(PIP) install -q -r requirements/build.txt
	touch $@

$(STAMP_MMCV): $(STAMP_TORCH)
	@if $(PY) -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$(MMCV_VERSION)'" 2>/dev/null; then \
		echo "mmcv $(MMCV_VERSION) with ops already installed"; \
	else \
		echo "Installing mmcv $(MMCV_VERSION) with compiled ops (about 13 min the first time; cached afterwards)"; \
		MMCV_WITH_OPS=1 MAX_JOBS=$(MAX_JOBS) $(PIP) install --no-build-isolation mmcv==$(MMCV_VERSION); \
	fi
	$(PY) -c "import mmcv.ops"
	touch $@

$(STAMP_DEPS): $(STAMP_MMCV) requirements/runtime.txt requirements/tests.txt requirements/optional.txt
	$(PIP) install -q -r requirements/runtime.txt -r requirements/tests.txt -r requirements/optional.txt
	touch $@

$(STAMP_PKG): $(STAMP_DEPS) setup.py
	$(PIP) install -q --no-deps --no-build-isolation -e .
	touch $@

setup: $(STAMP_PKG)

test: setup
	$(PY) -m pytest tests -n $(TEST_JOBS) --durations=15 $(PYTEST_ARGS)

demo: setup
	$(PY) tools/demo.py

bench-quick: setup
	$(PY) bench/quick/run.py

clean-venv:
	rm -rf $(VENV)
