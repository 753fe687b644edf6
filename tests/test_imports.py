"""Start-up guard: which modules an import pulls in (checked in a fresh interpreter, never by timing).

`qclip-vqa --help` and argument errors must not import torch; `import qclip_hf` must stay free of the heavy stack
while its registrations (PEFT type, Auto classes, video processor, pipeline) still happen automatically.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import pytest

HEAVY = ("torch", "transformers", "numpy", "av", "peft", "accelerate")
NEVER_AT_IMPORT = ("transformers.activations", "sympy", "torch.distributed.tensor", "av", "matplotlib", "gradio",
                   "open_clip", "timm")


def imported_after(code: str) -> set[str]:
    """The module names in `sys.modules` after running `code` in a fresh interpreter."""
    script = textwrap.dedent(code) + "\nimport json, sys\nprint('@@' + json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.rsplit("@@", 1)[1]))


def imported_by_command(*args: str) -> tuple[set[str], subprocess.CompletedProcess]:
    """The modules a command imports, read from `python -X importtime` (works for `-m` and console scripts)."""
    done = subprocess.run([sys.executable, "-X", "importtime", *args], capture_output=True, text=True, timeout=300)
    modules = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    return modules, done


def test_import_qclip_hf_pulls_in_nothing_heavy():
    modules = imported_after("import qclip_hf")
    assert not modules & set(HEAVY + NEVER_AT_IMPORT), sorted(modules & set(HEAVY + NEVER_AT_IMPORT))


def test_building_the_cli_parser_imports_no_torch():
    modules = imported_after("""
        from qclip_hf.cli import build_parser
        parser = build_parser()
        assert {"score", "report", "app", "calibrate"} <= set(parser._subparsers._group_actions[0].choices)
    """)
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


@pytest.mark.parametrize("argv", [["--help"], ["score", "--help"], ["report", "--help"], ["app", "--help"],
                                  ["calibrate", "--help"],
                                  ["score"], ["score", "x.mp4", "--batch_size", "many"], ["nope"]],
                         ids=lambda argv: " ".join(argv))
def test_help_and_argument_errors_import_no_torch(argv):
    modules, done = imported_by_command("-m", "qclip_hf.cli", *argv)
    assert done.returncode == (0 if "--help" in argv else 2), done.stderr[-2000:]
    assert "qclip_hf.cli" in modules  # the listing is real
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))
    if "--help" in argv:
        assert "usage: qclip-vqa" in done.stdout


@pytest.mark.skipif(shutil.which("qclip-vqa") is None, reason="console script not installed (pip install -e .)")
def test_console_script_help_imports_no_torch():
    modules, done = imported_by_command(shutil.which("qclip-vqa"), "--help")
    assert done.returncode == 0 and "usage: qclip-vqa" in done.stdout
    assert "qclip_hf.cli" in modules and not modules & set(HEAVY), sorted(modules & set(HEAVY))


CHECK_REGISTERED = textwrap.dedent("""
    import sys
    from transformers import AutoConfig, AutoModel, AutoVideoProcessor
    from transformers.models.auto.video_processing_auto import VIDEO_PROCESSOR_MAPPING
    from transformers.pipelines import PIPELINE_REGISTRY
    from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING, PEFT_TYPE_TO_TUNER_MAPPING
    import qclip_hf

    assert type(AutoConfig.for_model("qclip")) is qclip_hf.QClipConfig
    assert type(AutoConfig.for_model("pe_core")) is qclip_hf.PECoreConfig
    assert AutoModel._model_mapping[qclip_hf.QClipConfig] is qclip_hf.QClipModel
    assert AutoModel._model_mapping[qclip_hf.PECoreConfig] is qclip_hf.PECoreModel
    assert qclip_hf.QClipVideoProcessor in dict(VIDEO_PROCESSOR_MAPPING[qclip_hf.QClipConfig]).values()
    assert PIPELINE_REGISTRY.supported_tasks["video-quality"]["impl"] is qclip_hf.VideoQualityPipeline
    assert PEFT_TYPE_TO_CONFIG_MAPPING["SCMA"] is qclip_hf.SCMAConfig
    assert PEFT_TYPE_TO_TUNER_MAPPING["SCMA"] is qclip_hf.SCMAModel
    assert not any(type(f).__name__ == "DeferredRegistrationFinder" for f in sys.meta_path)  # it removed itself
""")


@pytest.mark.parametrize("first", [
    "import qclip_hf\nfrom transformers import pipeline",  # deferred: registered when transformers' pipelines load
    "import qclip_hf\nimport peft",  # deferred: PEFT first
    "import qclip_hf\nfrom transformers import PreTrainedModel",  # deferred, inside transformers' own imports
    "from transformers import AutoModel\nimport qclip_hf",  # transformers first: registered at once
], ids=["pipeline-after", "peft-after", "pretrainedmodel-after", "transformers-before"])
def test_registration_stays_automatic(first):
    # `first` runs before anything else touches transformers; CHECK_REGISTERED would itself trigger a deferred
    # registration, so each case also checks that the registration had happened when `first` finished.
    imported_after(first + "\n" + textwrap.dedent("""
        import sys
        assert not any(type(f).__name__ == "DeferredRegistrationFinder" for f in sys.meta_path), "not registered yet"
    """) + CHECK_REGISTERED)


def test_lazy_model_classes_register_and_pull_in_no_optional_extras():
    modules = imported_after("from qclip_hf import QClipModel, VideoQualityPipeline\n" + CHECK_REGISTERED)
    extras = {"matplotlib", "gradio", "open_clip", "timm"}
    assert not modules & extras, sorted(modules & extras)


def test_lazy_attributes_list_and_fail_like_modules():
    done = imported_after("""
        import qclip_hf, qclip_hf.video
        assert "QClipModel" in dir(qclip_hf) and "QClipModel" in qclip_hf.__all__
        assert qclip_hf.video.sampling.UNISampl(10, 2).tolist() == [0, 9]  # a submodule reached as an attribute
        try:
            qclip_hf.NoSuchThing
        except AttributeError as error:
            assert "NoSuchThing" in str(error)
        else:
            raise AssertionError("no AttributeError")
    """)
    assert "torch" not in done
