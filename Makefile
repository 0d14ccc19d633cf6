# Every install step of the project lives here; README's two commands call `make export` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= artifacts
VARIANT ?= meshpose_xs
# The pip config of the machine may point at a local torch CPU wheel; also look there explicitly.
PIP_FLAGS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)

.PHONY: setup export test test-fast lint params bench-cpu clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(PIP_FLAGS) -r requirements.txt -r requirements-dev.txt
	# onnx2tf hard-pins old tensorflow/numpy/onnx but runs on the set above (docs/design.md).
	$(BIN)/pip install -q --no-deps onnx2tf==1.29.24
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@

export: setup
	$(BIN)/meshpose-export --variant $(VARIANT) --target all --out $(OUT)

lint: setup
	$(BIN)/ruff check .

test: setup lint
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

params: setup
	$(BIN)/meshpose-params

bench-cpu: setup
	$(BIN)/python benchmarks/cpu_latency.py

clean:
	rm -rf $(VENV) $(OUT) build *.egg-info
