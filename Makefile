# Two commands: `make run` (the whole portal on embedded defaults) and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench e2e clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): $(PY) requirements.txt requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $(STAMP)

run: $(STAMP)
	$(PY) scripts/run.py

# The real OpenID Connect provider and SAML identity provider the sign-in tests start (npm
# registry only).
tests/oidc/node_modules/.package-lock.json: tests/oidc/package-lock.json
	npm ci --no-audit --no-fund --prefix tests/oidc

tests/saml/node_modules/.package-lock.json: tests/saml/package-lock.json
	npm ci --no-audit --no-fund --prefix tests/saml

# axe-core, which the browser and e2e tests run on each page (npm registry only).
tests/a11y/node_modules/.package-lock.json: tests/a11y/package-lock.json
	npm ci --no-audit --no-fund --prefix tests/a11y

test: $(STAMP) tests/oidc/node_modules/.package-lock.json tests/saml/node_modules/.package-lock.json tests/a11y/node_modules/.package-lock.json
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest $(PYTEST_ARGS)

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(PY) -m pytest tests/bench -s -p no:randomly --override-ini addopts= $(PYTEST_ARGS)

e2e: $(STAMP) tests/a11y/node_modules/.package-lock.json
	$(PY) -m pip install -q -r requirements-e2e.txt
	$(PY) -m pytest tests/e2e -p no:randomly --override-ini addopts= $(PYTEST_ARGS)

clean:
	rm -rf var/*
