# One entry point for set-up, the main job, tests and benchmarks.
# Every target installs what it needs first, so each works on a fresh machine.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
STAMP := .setup-done

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml .ci/constraints.txt
	@command -v ffmpeg >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg; }
	@# Headless Chromium and its Selenium driver for the browser tests of the report and the app (Debian packages).
	@{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }
	$(PIP) install -q -c .ci/constraints.txt torch torchvision
	$(PIP) install -q -c .ci/constraints.txt -e ".[dev]"
	@touch $(STAMP)

demo: setup
	$(PYTHON) training/demo.py

# pytest's own exit code (1 failures, 2 interrupted, 5 no tests) is kept in outputs/pytest-exit-code for CI.
# Tests run in parallel processes (pytest-xdist, one per core, at most 4): many of them wait on subprocesses that use
# one core (CLI runs, launched training), so two workers on two cores finish the suite in about 60 % of the time.
# `make test PYTEST_ARGS=` runs them in one process.
PYTEST_ARGS ?= -n auto --maxprocesses=4
test: setup
	@mkdir -p outputs
	@$(PYTHON) -m pytest tests $(PYTEST_ARGS); code=$$?; echo $$code > outputs/pytest-exit-code; exit $$code

bench: setup
	$(PYTHON) bench/run_all.py

clean:
	rm -rf $(STAMP) outputs .pytest_cache build *.egg-info
