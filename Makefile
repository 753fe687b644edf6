# One entry point for set-up, the main job, tests and benchmarks.
# Every target installs what it needs first, so each works on a fresh machine.
#
# Two lanes of packages:
# - reproducible (`make setup`, `make demo`, `make test`, CI): every direct dependency pinned by .ci/constraints.txt
#   to the releases CI last passed with;
# - latest (`make test-latest`): a new virtual environment in .venv-latest/ with the newest release of every
#   dependency the package's own ranges allow (only torch/torchvision held, see .ci/latest-constraints.txt), so an
#   ecosystem change shows up as a red test here rather than as a user's bug report.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
STAMP := .setup-done
BROWSER_STAMP := .browsers-done
LATEST_VENV := .venv-latest
LATEST_PYTHON := $(LATEST_VENV)/bin/python

.PHONY: setup browsers demo test test-latest bench clean

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml .ci/constraints.txt
	@command -v ffmpeg >/dev/null 2>&1 || { echo "installing ffmpeg (apt) ..."; apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg; }
	@echo "installing torch and torchvision (pinned; about a minute from local disk on this project's machines) ..."
	$(PIP) install --progress-bar on -c .ci/constraints.txt torch torchvision
	@echo "installing qclip-hf and its pinned dependencies ..."
	$(PIP) install --progress-bar on -c .ci/constraints.txt -e ".[dev]"
	@touch $(STAMP)

# Headless Chromium and its Selenium driver, for the browser tests of the report and the app only (Debian packages).
browsers: $(BROWSER_STAMP)

$(BROWSER_STAMP):
	@{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || \
		{ echo "installing chromium and chromium-driver (apt) for the browser tests ..."; apt-get update -qq && \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }
	@touch $(BROWSER_STAMP)

demo: setup
	$(PYTHON) training/demo.py

# pytest's own exit code (1 failures, 2 interrupted, 5 no tests) is kept in outputs/pytest-exit-code for CI.
# Tests run in parallel processes (pytest-xdist, one per core, at most 4): many of them wait on subprocesses that use
# one core (CLI runs, launched training), so two workers on two cores finish the suite in about 60 % of the time.
# `make test PYTEST_ARGS=` runs them in one process.
PYTEST_ARGS ?= -n auto --maxprocesses=4
test: setup browsers
	@mkdir -p outputs
	@$(PYTHON) -m pytest tests $(PYTEST_ARGS); code=$$?; echo $$code > outputs/pytest-exit-code; exit $$code

# The latest lane: a new venv each time (nothing left from an earlier run decides what is tested), the newest
# releases, the versions tested written to outputs/latest/versions.txt, pytest's exit code to
# outputs/latest/pytest-exit-code.
test-latest: browsers
	@command -v ffmpeg >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg; }
	rm -rf $(LATEST_VENV) outputs/latest
	@mkdir -p outputs/latest
	$(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_PYTHON) -m pip install -q --upgrade pip
	@echo "installing torch and torchvision (held, see .ci/latest-constraints.txt) ..."
	$(LATEST_PYTHON) -m pip install --progress-bar on -c .ci/latest-constraints.txt torch torchvision
	@echo "installing qclip-hf with the newest release of every dependency ..."
	$(LATEST_PYTHON) -m pip install --progress-bar on --upgrade --upgrade-strategy eager \
		-c .ci/latest-constraints.txt -e ".[dev]"
	@$(LATEST_PYTHON) .ci/direct_versions.py > outputs/latest/versions.txt
	@echo "latest lane, direct dependencies:"; cat outputs/latest/versions.txt
	@# The venv's console scripts (qclip-vqa) first on PATH, as in an activated venv.
	@PATH="$(CURDIR)/$(LATEST_VENV)/bin:$$PATH" $(LATEST_PYTHON) -m pytest tests $(PYTEST_ARGS); code=$$?; \
		echo $$code > outputs/latest/pytest-exit-code; exit $$code

bench: setup
	$(PYTHON) bench/run_all.py

clean:
	rm -rf $(STAMP) $(BROWSER_STAMP) $(LATEST_VENV) outputs .pytest_cache build *.egg-info
