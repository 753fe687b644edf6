"""`--verbose`: third-party logs, warnings and progress bars are off in a normal run and on with the flag."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import json, logging, sys, warnings
from qclip_hf.cli.score_setup import configure_third_party_output
configure_third_party_output(verbose=sys.argv[1] == "1")
import huggingface_hub.utils, transformers
warnings.warn("a deprecation", FutureWarning)
print(json.dumps({
    "transformers_level": transformers.utils.logging.get_verbosity(),
    "transformers_bars": transformers.utils.logging.is_progress_bar_enabled(),
    "hub_bars": not huggingface_hub.utils.are_progress_bars_disabled(),
    "httpx_level": logging.getLogger("httpx").getEffectiveLevel(),
}))
"""


@pytest.mark.parametrize("verbose", [False, True])
def test_third_party_output_switch(verbose):
    done = subprocess.run([sys.executable, "-c", PROBE, "1" if verbose else "0"], capture_output=True, text=True,
                          check=True)
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["transformers_bars"] is verbose and state["hub_bars"] is verbose
    assert (state["transformers_level"] <= 20) is verbose and (state["httpx_level"] <= 20) is verbose
    assert ("FutureWarning" in done.stderr) is verbose
