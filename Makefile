# AKS Backup Guard: the two set-up commands are `make demo` and `make test`.
# Each installs what it needs (a .venv from requirements-dev.txt, Azurite from package-lock.json).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
PIP_STAMP := $(VENV)/.installed
TOOLS_VENV := .venv-tools
TOOLS_STAMP := $(TOOLS_VENV)/.installed
NPM_STAMP := node_modules/.installed

.PHONY: setup test lint typecheck pytest infra-scan demo bench chaos clean chromium

setup: $(PIP_STAMP) $(NPM_STAMP)

$(PIP_STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version' 
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

# checkov's pins conflict with requirements-dev.txt (see requirements-tools.txt): its own venv.
$(TOOLS_STAMP): requirements-tools.txt
	@test -x $(TOOLS_VENV)/bin/python || $(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	@touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

lint: $(PIP_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(PIP_STAMP)
	$(VENV)/bin/mypy

# Headless Chromium from Debian's packages, for the tests and the demo that load the HTML report
# in a real browser (driven by the playwright package with executable_path=/usr/bin/chromium).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium (headless browser for the HTML report tests)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium; }

# pytest starts Azurite (in memory, free ports) and the ARM simulator itself, and stops them
# in its session teardown even when tests fail.
pytest: setup chromium
	$(PY) -m pytest $(PYTEST_ARGS)

# checkov over infra/: every Bicep check must pass or carry an inline `// checkov:skip=ID: reason`
# inside the resource it excuses; a file checkov cannot parse fails the target too (its Bicep
# parser reads no nested resource loops and no map(): infra/ avoids both). --skip-download keeps
# it offline (no Prisma Cloud metadata). Summary in .run/checkov.json.
CHECKOV_FLAGS := --directory infra --framework bicep --skip-download --compact --quiet --soft-fail \
	--output cli --output json --output-file-path console,.run/checkov.json
infra-scan: $(TOOLS_STAMP)
	@mkdir -p .run
	$(TOOLS_VENV)/bin/checkov $(CHECKOV_FLAGS)
	@$(PYTHON) -c 'import json,sys; s=json.load(open(".run/checkov.json"))["summary"]; print("checkov: passed %(passed)s, failed %(failed)s, skipped %(skipped)s, parsing errors %(parsing_errors)s, %(resource_count)s resources" % s); sys.exit(1 if s["failed"] or s["parsing_errors"] else 0)'

test: setup lint typecheck infra-scan pytest

demo: setup chromium
	$(PY) -m localdev.demo

bench: setup
	$(PY) -m bench

chaos: setup
	$(PY) -m pytest -m chaos tests/chaos $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(TOOLS_VENV) node_modules .mypy_cache .ruff_cache .pytest_cache .demo .run

# Regenerate infra/generated/*.json from the code's tables (role matrix, routes, ledger tables);
# tests/infra fails while they are stale.
.PHONY: docs
docs: $(PIP_STAMP)
	$(PY) -m shared.docs_export

.PHONY: infra-json
infra-json: $(PIP_STAMP)
	$(PY) -m shared.infra_export
