# The two commands that matter: `make run` (the whole pipeline on this machine) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The first Python >= 3.11 found (3.12 is what Lambda runs).
PYTHON ?= $(shell for p in python3.12 python3.11 python3; do $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; done)
# sam build needs the Lambda runtime's own Python (3.12) on PATH.
PYTHON312 ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 /root/.pyenv/versions/3.12*/bin/python3.12; do $$p -V >/dev/null 2>&1 && { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
# checkov in a venv of its own (its pins clash with the project's); pinned, so that a new release's checks
# arrive by a commit, not by surprise in CI.
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.3.30
PORT ?= 3000
MODEL := models/ruian-default/weights.bin
# The date written into the bundled model's card, so that `make model` reproduces it byte for byte.
MODEL_DATE := 2026-11-28
export SAM_CLI_TELEMETRY := 0

.PHONY: help install run reset demo test test-unit test-integration lint checkov build bench model clean loadtest browser

help:
	@echo "make run     - start the whole pipeline at http://127.0.0.1:$(PORT) (installs and trains what is missing)"
	@echo "make test    - run the whole test suite (the pages in headless Chromium too: see make browser)"
	@echo "make browser - install what the browser tests need (chromium and a Chinese font as root, axe-core)"
	@echo "make reset   - forget the local stack's tickets and photos (kept in .local-state/ across restarts)"
	@echo "make demo    - send sample complaints to the local stack and show where they went"
	@echo "make lint    - ruff, cfn-lint, sam validate --lint, checkov, sam build"
	@echo "make model   - retrain the bundled model from the bootstrap corpus (byte-for-byte reproducible)"
	@echo "make bench   - benchmarks: classifier quality and speed, package size, photo processing, masking"
	@echo "make loadtest N=10000 C=50 FAULTS=… - submissions with faults against a fresh local stack (docs/LOCAL_STACK.md)"

$(BIN)/activate:
	@test -n "$(PYTHON)" || { echo "Python >= 3.11 is needed (python3.12, python3.11 or python3)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# Trained only when missing: the committed model is the one shipped.
$(MODEL): | $(VENV)/.installed
	MODEL_DATE=$(MODEL_DATE) $(BIN)/complaints train --out models/ruian-default

model: $(VENV)/.installed
	MODEL_DATE=$(MODEL_DATE) $(BIN)/complaints train --out models/ruian-default

# Tickets, photos and the Weibo cursor survive a restart in .local-state/ (`make reset` empties it).
# Template parameters as in sam deploy: make run PARAMETERS='PerIpRequestsPer5Min=100000 AutoDispatchThreshold=0.7'
PARAMETERS ?=
run: $(VENV)/.installed $(MODEL)
	PORT=$(PORT) $(BIN)/complaints run --state .local-state $(foreach p,$(PARAMETERS),--parameter '$(p)')

reset:
	rm -rf .local-state

demo: $(VENV)/.installed $(MODEL)
	@if curl -fsS -o /dev/null http://127.0.0.1:$(PORT)/_local/health 2>/dev/null; then \
		$(BIN)/complaints demo --url http://127.0.0.1:$(PORT); \
	else \
		PORT=$(PORT) $(BIN)/complaints run > .demo-stack.log 2>&1 & pid=$$!; \
		for i in $$(seq 1 120); do curl -fsS -o /dev/null http://127.0.0.1:$(PORT)/_local/health 2>/dev/null && break; sleep 0.5; done; \
		$(BIN)/complaints demo --url http://127.0.0.1:$(PORT); status=$$?; kill $$pid; exit $$status; \
	fi

# What the browser tests (tests/browser) and the page benchmark need besides Python: Debian's Chromium and a Chinese
# font (installed with apt-get when run as root and missing), and axe-core from npm, into tests/browser/node_modules.
# Where they cannot be installed, the browser tests skip and say why.
AXE := tests/browser/node_modules/axe-core/axe.min.js
browser:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		{ [ ! -x /usr/bin/chromium ] || [ -z "$$(fc-list :lang=zh 2>/dev/null)" ]; }; then \
		apt-get install -y --no-install-recommends chromium fonts-wqy-microhei >/dev/null || \
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends chromium fonts-wqy-microhei >/dev/null; } || \
		echo "could not install chromium: the browser tests will skip"; \
	fi
	@if [ ! -f $(AXE) ] && command -v npm >/dev/null; then \
		npm install --prefix tests/browser --no-save --no-audit --no-fund --loglevel=error axe-core@4 >/dev/null || \
		echo "could not install axe-core: the accessibility checks will skip"; \
	fi

test: $(VENV)/.installed $(MODEL) browser
	$(BIN)/python -m pytest -q

test-unit: $(VENV)/.installed $(MODEL)
	$(BIN)/python -m pytest -q -m "not integration and not lint"

test-integration: $(VENV)/.installed $(MODEL) browser
	$(BIN)/python -m pytest -q -m integration

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli
	touch $@

lint: $(VENV)/.installed $(SAM_VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/cfn-lint template.yaml
	$(SAM_VENV)/bin/sam validate --lint --region us-east-1
	$(MAKE) checkov
	$(MAKE) build

$(CHECKOV_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	touch $@

# The template's security checks; .checkov.yaml lists the skipped ones, each with its reason.
checkov: $(CHECKOV_VENV)/.installed
	$(CHECKOV_VENV)/bin/checkov --config-file .checkov.yaml

# What Lambda would get, in .aws-sam/build (arm64 wheels for the shared layer).
build: $(SAM_VENV)/.installed
	@test -n "$(PYTHON312)" || { echo "sam build needs python3.12 on PATH"; exit 1; }
	rm -rf .aws-sam && PATH=$(dir $(PYTHON312)):$$PATH $(SAM_VENV)/bin/sam build --region us-east-1

# Figures, each against a baseline measured in the same run; the last line is one JSON object.
bench: $(VENV)/.installed $(MODEL) build browser
	$(BIN)/python bench/run.py


# N submissions at concurrency C over HTTP against a fresh local stack, with injected FAULTS (see docs/LOCAL_STACK.md).
N ?= 10000
C ?= 50
FAULTS ?= sns_publish_fail=0.05,dynamodb_throttle=0.05,kill_classify=0.01
loadtest: $(VENV)/.installed $(MODEL)
	$(BIN)/complaints loadtest --n $(N) --concurrency $(C) --faults '$(FAULTS)'

clean:
	rm -rf .aws-sam build .pytest_cache .ruff_cache .demo-stack.log
