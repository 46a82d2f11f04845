# dynadapt developer targets. The virtual environment is created on first use and reinstalled
# whenever pyproject.toml or constraints.txt change. Tested versions are pinned in constraints.txt.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP    := $(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt
DEMO_OUT ?= runs/demo-$(shell date +%Y%m%d-%H%M%S)

.PHONY: install demo test lint typecheck pytest docs docs-videos check-claims bench clean test-robosuite

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) torch==2.13.0
	$(PIP) -e ".[dev,ray,docs]"
	touch $(STAMP)

install: $(STAMP)

## The default experiment: continual model-based RL on three cart-pole tasks (pole lengths 0.6, 0.8, 0.4),
## HyperCRL and finetune side by side (the two runs in parallel, a few minutes on 2 cores), then a
## comparison table and plots in $(DEMO_OUT)/compare.
demo: $(STAMP)
	$(BIN)/dynadapt run demo-hypercrl --out $(DEMO_OUT)/hypercrl --quiet & pid=$$!; \
	$(BIN)/dynadapt run demo-finetune --out $(DEMO_OUT)/finetune; s=$$?; \
	wait $$pid && test $$s -eq 0
	$(BIN)/dynadapt compare $(DEMO_OUT)/hypercrl $(DEMO_OUT)/finetune --out $(DEMO_OUT)/compare

## Lint, type check, the test suite (well under 5 minutes on 2 cores) and the documentation site.
test: lint typecheck pytest docs

lint: $(STAMP)
	$(BIN)/ruff check dynadapt tests benchmarks
	$(BIN)/ruff format --check dynadapt tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -n 2 -q

## The documentation site in build/site (MkDocs): any warning fails it, and its examples are executed
## (with this environment's `dynadapt` on PATH).
docs: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m mkdocs build --strict

## Re-make the videos in docs/videos (one short run per task family: tens of minutes on 2 cores).
docs-videos: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash docs/videos/make.sh

## The learning-to-threshold tests (marked slow; the README's learning claims at test scale): tens of minutes.
check-claims: $(STAMP)
	$(BIN)/pytest -m slow -q

## The robosuite extra (panda_pusher, panda_door) in its own environment with its own pins
## (constraints-robosuite.txt: mujoco 3, numpy 1): the Panda tests and every env family's tests under them.
RS_VENV  ?= build/venv-robosuite
RS_STAMP := $(RS_VENV)/.installed
RS_PIP   := $(RS_VENV)/bin/pip install --quiet --disable-pip-version-check -c constraints-robosuite.txt

$(RS_STAMP): pyproject.toml constraints-robosuite.txt
	test -x $(RS_VENV)/bin/python || $(PYTHON) -m venv $(RS_VENV)
	$(RS_PIP) torch==2.13.0
	$(RS_PIP) -e ".[dev,robosuite]"
	touch $(RS_STAMP)

test-robosuite: $(RS_STAMP)
	$(RS_VENV)/bin/pytest -n 2 -q -p no:cacheprovider tests/envs

bench: $(STAMP)
	$(BIN)/python benchmarks/mbrl.py

clean:
	rm -rf $(VENV) $(RS_VENV) .pytest_cache .mypy_cache .ruff_cache build/site
