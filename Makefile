# segment-usage — every developer and CI entry point. Each target installs what it needs on first run.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov
ARCH ?= arm64
RUNTIME ?= python3.13
# Parallel pytest workers: most of the Terraform tests' time is the provider waiting, not CPU.
TEST_WORKERS ?= 4

.PHONY: help venv test lint fmt checkov package package-check bundle lock demo bench release clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# checkov pins many libraries of its own, so it lives in a virtualenv apart from the test tools.
$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet 'checkov>=3.2,<4'
	touch $@

venv: $(VENV)/.installed $(CHECKOV_VENV)/.installed ## Create the virtualenvs

lint: $(VENV)/.installed ## ruff over Python, terraform fmt over HCL
	$(VENV)/bin/ruff check lambda tests bench examples tools
	$(VENV)/bin/ruff format --check lambda tests bench examples tools
	terraform fmt -check -recursive modules examples

fmt: $(VENV)/.installed ## Format Python and Terraform in place
	$(VENV)/bin/ruff format lambda tests bench examples tools
	$(VENV)/bin/ruff check --fix lambda tests bench examples tools
	terraform fmt -recursive modules examples

package: $(VENV)/.installed ## Rebuild every artifact the module ships (modules/segment-usage/artifacts)
	$(PY) lambda/build_package.py

package-check: $(VENV)/.installed ## Rebuild in a temp dir; fail if a committed artifact differs
	$(PY) lambda/build_package.py --check

bundle: $(VENV)/.installed ## Your own self-contained zip: dist/segment-usage-$(ARCH)-$(RUNTIME).zip
	$(PY) lambda/build_package.py --bundle --arch $(ARCH) --runtime $(RUNTIME)

lock: $(VENV)/.installed ## Re-pin lambda/requirements.lock (with hashes) from pyproject.toml
	$(PY) lambda/lock.py

test: venv lint ## Everything: unit, property, Terraform apply against moto, checkov, end to end
	CHECKOV_BIN=$(CURDIR)/$(CHECKOV_VENV)/bin/checkov $(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

demo: $(VENV)/.installed ## The whole product on a local AWS emulator, no account needed (KEEP=1: leave it running)
	$(PY) examples/local/demo.py $(if $(KEEP),--keep)

bench: $(VENV)/.installed ## Cost, CPU, cold start and package size against baselines
	$(PY) bench/run.py

release: ## Check the tree is ready to tag modules/segment-usage/VERSION; print the tag to push
	$(PYTHON) tools/release.py

clean: ## Remove virtualenvs, builds and caches
	rm -rf $(VENV) $(CHECKOV_VENV) dist build .pytest_cache .ruff_cache .hypothesis .tf
