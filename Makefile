# One entry point for set-up, the main job, tests and benchmarks.
# Every target installs what it needs first, so each works on a fresh machine.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
STAMP := .setup-done

.PHONY: setup demo test bench clean

setup: $(STAMP)

$(STAMP): setup.cfg pyproject.toml .ci/constraints.txt
	@command -v ffmpeg >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg; }
	$(PIP) install -q -c .ci/constraints.txt torch torchvision
	$(PIP) install -q -c .ci/constraints.txt -e ".[dev]"
	@touch $(STAMP)

demo: setup
	$(PYTHON) training/demo.py

test: setup
	$(PYTHON) -m pytest tests

bench: setup
	$(PYTHON) bench/run_all.py

clean:
	rm -rf $(STAMP) outputs .pytest_cache build *.egg-info
