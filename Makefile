# The single front door. Every target sets up the environments it needs on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
TOOLS := .venv-tools
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TOOLS_STAMP := $(TOOLS)/.installed
CHECKOV_VERSION := 3.3.30

UC ?= retail-catalog
PYTEST_ARGS ?=
PYTEST_WORKERS ?= 2

TEMPLATES = $(shell $(PY) -m scripts.catalog templates)

.PHONY: help setup lock lock-layers lint format typecheck pytest test bench package deploy delete demo invoke replay-dlq clean search

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	touch $@

$(TOOLS_STAMP):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	touch $@

setup: $(STAMP) $(TOOLS_STAMP) ## Create .venv (project) and .venv-tools (checkov) and install pinned dependencies

lock: $(STAMP) ## Re-pin the transitive dependency set into requirements.lock
	$(VENV)/bin/pip freeze --exclude-editable --disable-pip-version-check | sort > requirements.lock

lock-layers: $(STAMP) ## Resolve each layer for Lambda and pin every wheel by hash into <uc>/requirements.lock (UC=<name> for one)
	$(PY) -m scripts.packaging $(if $(filter command line,$(origin UC)),$(UC),all) --lock

lint: $(STAMP) $(TOOLS_STAMP) ## ruff; cfn-lint (serverless rules), checkov and ASL checks on every effective template
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@if [ -n "$(TEMPLATES)" ]; then $(PY) -m scripts.lint_templates; else echo "no templates yet"; fi

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: $(STAMP) ## mypy, strict on shared/, scripts/ and every function (one run per function folder)
	$(VENV)/bin/mypy
	@# Every function's module is named handler, as Lambda loads it: one mypy run per folder avoids
	@# the duplicate-module clash, and the shared cache keeps the runs after the first fast.
	@set -e; for handler in */functions/*/handler.py; do \
	  echo "mypy $$handler"; $(VENV)/bin/mypy --strict --no-error-summary $$handler; \
	done

pytest: $(STAMP) $(TOOLS_STAMP) ## Run the test suite only
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

test: lint typecheck pytest ## Lint, type-check, then run every test

bench: $(STAMP) ## Run the benchmarks and print measured ratios
	$(PY) -m scripts.bench

package: $(STAMP) ## Build deterministic function zips and a packaged template (UC=<name>|all)
	$(PY) -m scripts.deploy package $(UC)

deploy: $(STAMP) ## Deploy UC=<name> [STACK=…] [REGION=…] [PARAMS="K=V …"] [PREVIEW=1: show the change set only]
	$(PY) -m scripts.deploy deploy $(UC) $(if $(STACK),--stack $(STACK)) $(if $(REGION),--region $(REGION)) --params '$(subst ','"'"',$(PARAMS))' $(if $(filter 1 yes true,$(PREVIEW)),--preview)

delete: $(STAMP) ## Delete the stack of UC=<name> and empty its own buckets (asks first; YES=1 off a terminal)
	$(PY) -m scripts.deploy delete $(UC) $(if $(STACK),--stack $(STACK)) $(if $(REGION),--region $(REGION)) $(if $(filter 1 yes true,$(YES)),--yes)

demo: $(STAMP) ## Run UC=<name> (or UC=all, every use case on one cloud) end to end on the embedded local cloud
	$(PY) -m scripts.localcloud demo $(UC) --files $(if $(FILES),$(FILES),50)

invoke: $(STAMP) ## Run one function on the embedded cloud: UC=… FN=… EVENT=path
	$(PY) -m scripts.localcloud invoke $(UC) $(FN) $(if $(EVENT),--event $(EVENT),)

replay-dlq: $(STAMP) ## Re-put dead letters and OnFailure ranges of UC=<name> [DRY_RUN=1]
	$(PY) -m scripts.replay_dlq $(UC) $(if $(STACK),--stack $(STACK)) $(if $(REGION),--region $(REGION)) $(if $(DRY_RUN),--dry-run)

clean: ## Remove build output and caches (keeps the environments)
	rm -rf build .pytest_cache .mypy_cache .ruff_cache .hypothesis

search: $(STAMP) ## Query UC=<name>'s search index (UC13): Q="…" [STACK=<deployed stack>] [INDEX=<file>] [REFRESH=1]
	$(PY) -m scripts.search $(UC) "$(Q)" $(if $(STACK),--stack $(STACK)) $(if $(INDEX),--index $(INDEX)) $(if $(REFRESH),--refresh)
