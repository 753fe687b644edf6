"""Start-up guard for PE-Core: what reading and validating a configuration imports (fresh interpreter, not timing).

`transformers.activations` pulls hub kernels, `torch.distributed.tensor`, sympy and dynamo (seconds of start-up);
a process that only builds or validates PE-Core configurations must not pay for it, nor for the modeling code.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

NOT_FOR_A_CONFIG = ("transformers.activations", "sympy", "torch.distributed.tensor", "torch._dynamo",
                    "transformers.modeling_utils", "qclip_hf.models.pe_core.modeling_pe_core", "open_clip", "timm")


def _imported_after(code: str) -> set[str]:
    script = textwrap.dedent(code) + "\nimport json, sys\nprint('@@' + json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return set(json.loads(done.stdout.rsplit("@@", 1)[1]))


def test_building_and_validating_a_config_imports_no_modeling_stack():
    modules = _imported_after("""
        from qclip_hf.models.pe_core import PECoreConfig, PECoreTextConfig
        config = PECoreConfig.from_preset("PE-Core-L14-336")
        assert PECoreConfig.from_dict(config.to_dict()).vision_config.hidden_size == 1024
        PECoreTextConfig(hidden_act="quick_gelu")
    """)
    assert "qclip_hf.models.pe_core.configuration_pe_core" in modules  # the listing is real
    leaked = {m for m in modules if m in NOT_FOR_A_CONFIG or m.startswith("kernels")}
    assert not leaked, sorted(leaked)


def test_unknown_activation_is_still_rejected():
    # Names outside the fast path are checked against transformers' full list (imported only then).
    import pytest

    from qclip_hf.models.pe_core import PECoreVisionConfig

    with pytest.raises(ValueError, match="hidden_act='not-an-activation' is not a known activation"):
        PECoreVisionConfig(hidden_act="not-an-activation")


def test_every_fast_path_activation_exists_in_transformers():
    from transformers.activations import ACT2FN

    from qclip_hf.models.pe_core.configuration_pe_core import _COMMON_ACTIVATIONS

    assert _COMMON_ACTIVATIONS <= set(ACT2FN)
