"""The torch-free checks of a saved model say what `from_pretrained` says, without importing the model stack."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from qclip_hf.errors import ModelLoadError
from qclip_hf.models.qclip import QClipModel
from qclip_hf.models.qclip.checks_qclip import ADAPTER_WEIGHTS_FILE, HEAD_WEIGHTS_FILE, check_saved_model


def _broken(model_dir, root):
    """Saved folders broken one way each (the ways users break them)."""
    cases = {}
    for kind in ("missing_config", "broken_json", "not_qclip", "missing_backbone", "missing_head",
                 "truncated_head", "truncated_adapter"):
        cases[kind] = root / kind
        shutil.copytree(model_dir, cases[kind])
    (cases["missing_config"] / "config.json").unlink()
    (cases["broken_json"] / "config.json").write_text('{"model_type": "qclip", ')
    config = json.loads((cases["not_qclip"] / "config.json").read_text())
    (cases["not_qclip"] / "config.json").write_text(json.dumps({**config, "model_type": "clip"}))
    config = json.loads((cases["missing_backbone"] / "config.json").read_text())
    (cases["missing_backbone"] / "config.json").write_text(json.dumps({**config, "backbone": "./moved_away"}))
    (cases["missing_head"] / HEAD_WEIGHTS_FILE).unlink()
    for kind, name in (("truncated_head", HEAD_WEIGHTS_FILE), ("truncated_adapter", ADAPTER_WEIGHTS_FILE)):
        data = (cases[kind] / name).read_bytes()
        (cases[kind] / name).write_bytes(data[: len(data) // 2])
    return cases


def test_file_names_are_the_ones_save_pretrained_writes(model_dir):
    from qclip_hf.models.qclip.modeling_qclip import HEAD_WEIGHTS_NAME

    assert HEAD_WEIGHTS_FILE == HEAD_WEIGHTS_NAME
    assert {HEAD_WEIGHTS_FILE, ADAPTER_WEIGHTS_FILE} <= {p.name for p in __import__("pathlib").Path(model_dir).iterdir()}


def test_a_good_folder_passes(model_dir):
    assert check_saved_model(model_dir) is not None


def test_same_message_as_from_pretrained(model_dir, tmp_path):
    cases = {**_broken(model_dir, tmp_path), "missing_folder": tmp_path / "no_such_model",
             "file_not_folder": tmp_path / "missing_config" / HEAD_WEIGHTS_FILE}
    for kind, folder in cases.items():
        with pytest.raises(ModelLoadError) as early:
            check_saved_model(folder)
        with pytest.raises(ModelLoadError) as loader:
            QClipModel.from_pretrained(folder)
        assert str(early.value) == str(loader.value), kind
        assert " — " in str(early.value)


def test_offline_hub_id_not_in_cache(monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError, match="HF_HUB_OFFLINE=1 forbids downloading"):
        check_saved_model("someone/qclip-not-in-cache")


def test_a_name_that_is_no_folder_here_says_so_before_torch_is_imported(tmp_path):
    """`--model my-qclip` (the README's name) with no such folder: the Hub is asked at once (not after the model
    stack is imported), and the message starts with what the user most likely meant, a folder (papercut 2)."""
    code = ("import sys; from qclip_hf.models.qclip.checks_qclip import check_saved_model\n"
            "try:\n    check_saved_model('my-qclip')\n"
            "except Exception as error:\n    print(type(error).__name__, error)\n"
            "print(sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "HF_HUB_OFFLINE": "0"})
    message, imported = done.stdout.strip().splitlines()
    assert message.startswith(f"ModelLoadError there is no folder 'my-qclip' here ('{tmp_path / 'my-qclip'}' does "
                              "not exist), and as a Hub id: "), message
    assert "pass the model folder's path" in message
    assert imported == "[]"


def test_checks_import_no_torch(model_dir):
    code = ("import sys; from qclip_hf.models.qclip.checks_qclip import check_saved_model; "
            f"check_saved_model({str(model_dir)!r}); "
            "print(sorted(m for m in ('torch', 'transformers', 'peft', 'av') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
