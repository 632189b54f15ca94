# lensguard — every target sets up what it needs first.
#   make run     set up, then start the embedded demo on https://127.0.0.1:8443
#   make test    set up, then run every test (in parallel: TEST_WORKERS, default 4)
#   make test-fast  unit and API tests on SQLite and the embedded bus (no services)
#   make soak-tests the media, signaling and e2e suites SOAK_RUNS (20) times in a row
#   make check   ruff + mypy (strict on src/ and tests/) + lint-imports (the layers, docs/architecture.md) + bandit
#                + semgrep (the project's rules, .semgrep/) + detect-secrets (against .secrets.baseline)
#   make sbom    a CycloneDX SBOM of the installed environment: var/sbom.cdx.json
#   make audit-deps  pip-audit of requirements.lock (needs advisory data from the network; not in CI)
#   make screenshots  desktop and phone screenshots of each console page in var/screenshots/
#   make bench   run the benchmarks in bench/
#   make mutate  mutation testing (mutmut) of access/ and identity/; MUTANTS='lensguard.access*' narrows
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TOOLS  := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed
CONFIG ?= config/lensguard.dev.yaml
MODEL  := src/lensguard/vision/models/face_detection_short_range.tflite

# pytest-xdist workers; a file's tests stay on one worker (module fixtures start once).
# The whole suite waits on servers and browsers, so it runs more workers than cores;
# the fast suite is all CPU and runs one per core.
TEST_WORKERS ?= 4
FAST_WORKERS ?= auto
XDIST   = -n $(TEST_WORKERS) --dist loadfile
SOAK_RUNS ?= 20
SOAK_SUITES ?= tests/media tests/signaling tests/e2e

.PHONY: setup tools run test test-fast soak-tests check bench mutate clean system-deps sbom audit-deps screenshots

setup: $(STAMP) $(MODEL)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

# Gate and supply-chain tools in their own virtualenv: their pins never meet the app's.
tools: $(TOOLS_STAMP)

$(TOOLS_STAMP): requirements-tools.lock
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-tools.lock
	@touch $(TOOLS_STAMP)

# BlazeFace ships inside the mediapipe wheel: download it (never install) and take
# out the one model file; idempotent, pinned by SHA-256.
$(MODEL): scripts/extract-models.py | $(STAMP)
	$(PY) scripts/extract-models.py

system-deps:
	@bash scripts/system-deps.sh

run: setup
	$(VENV)/bin/lensguard --config $(CONFIG) serve

test: setup tools system-deps
	$(PY) -m pytest $(XDIST) --durations=25 $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest --fast -n $(FAST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# Stops at the first red run and says which one it was (docs/testing.md).
soak-tests: setup system-deps
	@for i in $$(seq 1 $(SOAK_RUNS)); do \
	  echo "== soak run $$i of $(SOAK_RUNS)"; \
	  $(PY) -m pytest -q $(XDIST) -p no:cacheprovider $(SOAK_SUITES) $(PYTEST_ARGS) \
	    || { echo "soak run $$i of $(SOAK_RUNS) failed"; exit 1; }; \
	done; echo "$(SOAK_RUNS) runs of $(SOAK_SUITES): all passed"

SEMGREP = $(TOOLS)/bin/semgrep

check: setup tools
	$(VENV)/bin/ruff check src tests bench migrations
	$(VENV)/bin/ruff format --check src tests bench migrations
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache --no-logo
	$(VENV)/bin/bandit --quiet --recursive src --severity-level medium
	$(SEMGREP) --test --metrics=off --disable-version-check --config .semgrep/lensguard.yml .semgrep/lensguard.py
	$(SEMGREP) scan --metrics=off --disable-version-check --quiet --error --config .semgrep/lensguard.yml src tests bench
	TOOLS=$(TOOLS) scripts/check-secrets.sh

sbom: setup tools
	@mkdir -p var
	$(TOOLS)/bin/cyclonedx-py environment --output-reproducible --of JSON -o var/sbom.cdx.json $(PY)
	@echo "wrote var/sbom.cdx.json"

audit-deps: tools
	$(TOOLS)/bin/pip-audit --requirement requirements.lock --disable-pip --no-deps

# Desktop and phone screenshots of each console page under var/screenshots/ (for review).
screenshots: setup system-deps
	PYTHONPATH=$(CURDIR)/src $(PY) scripts/screenshots.py

bench: setup system-deps
	$(PY) bench/run.py

# Mutants live in ./mutants (ignored by git); `mutmut results` lists the survivors.
mutate: setup system-deps
	$(VENV)/bin/mutmut run $(MUTANTS)
	@$(VENV)/bin/mutmut results | awk '{print $$NF}' | sort | uniq -c

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache mutants
