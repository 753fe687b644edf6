"""Meta's `facebook/PE-Core-*` release (a `.pt` state dict) as a Q-CLIP backbone, served by a local Hub.

A user with internet runs `QClipModel(QClipConfig.from_preset("paper"))` unchanged; here the repo is a random
PE-Core-T16-384 in Meta's layout on the test server, and the same code downloads, converts once and loads it.
"""

from __future__ import annotations

import json
import textwrap

import pytest
import torch
from huggingface_hub import HfApi

from qclip_hf.models.pe_core import PECoreConfig, PECoreModel, build_pe_core_tokenizer
from qclip_hf.models.pe_core.hub_pe_core import is_pe_core_release
from qclip_hf.testing.hub_server import LocalHubServer, run_with_hub
from qclip_hf.testing.pe_core import to_meta_format

open_clip = pytest.importorskip("open_clip")

_SCORE = textwrap.dedent(
    """
    import json, sys, torch
    from qclip_hf import QClipConfig, QClipModel
    config = QClipConfig.from_preset("paper", backbone="facebook/PE-Core-T16-384", num_frames=2)
    torch.manual_seed(0)
    model = QClipModel(config).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 2, 3, 384, 384))
    print(json.dumps({"backbone": type(model.dual_encoder).__name__, "score": out.scores.item(),
                      "trainable": model.num_trainable_parameters(),
                      "ids": model.prompt_learner.input_ids.shape[-1]}))
    """
)


@pytest.mark.slow  # two fresh interpreters and a 280 MB checkpoint (the smallest published geometry, T16-384)
def test_pe_core_release_is_downloaded_converted_and_cached(tmp_path):
    torch.manual_seed(0)
    reference = open_clip.create_model("PE-Core-T-16-384", pretrained=None)
    checkpoint = tmp_path / "PE-Core-T16-384.pt"
    torch.save(to_meta_format(reference), checkpoint)
    with LocalHubServer(tmp_path / "hub") as server:
        api = HfApi(endpoint=server.endpoint, token="hf_local_test_token")
        api.create_repo("facebook/PE-Core-T16-384")
        api.upload_file(path_or_fileobj=str(checkpoint), path_in_repo=checkpoint.name, repo_id="facebook/PE-Core-T16-384")
        online = run_with_hub(server.endpoint, _SCORE, tmp_path / "home", timeout=600)
    first = json.loads(online.stdout.strip().splitlines()[-1])
    assert first["backbone"] == "PECoreModel" and first["ids"] <= 32
    converted = list((tmp_path / "home" / "qclip_hf" / "pe_core").iterdir())
    assert len(converted) == 1 and (converted[0] / "model.safetensors").is_file()
    # The server is gone: offline, the cached download and the converted copy are enough.
    offline = run_with_hub("http://127.0.0.1:9", _SCORE, tmp_path / "home", offline=True, timeout=600)
    assert json.loads(offline.stdout.strip().splitlines()[-1]) == first


def test_release_ids():
    assert is_pe_core_release("facebook/PE-Core-L14-336")
    assert not is_pe_core_release("openai/clip-vit-base-patch16") and not is_pe_core_release(None)


def test_paper_preset_counts_0_14m_on_pe_core_l14_336():
    from qclip_hf import QClipConfig, QClipModel

    with torch.device("meta"):
        backbone = PECoreModel(PECoreConfig.from_preset("PE-Core-L14-336"))
    tokenizer = build_pe_core_tokenizer(context_length=32)
    model = QClipModel(QClipConfig.from_preset("paper", backbone_config=backbone.config.to_dict()),
                       backbone=backbone, tokenizer=tokenizer)
    count = model.num_trainable_parameters()
    assert abs(count - 140_000) <= 0.05 * 140_000, count
    assert model.prompt_learner.input_ids.shape[-1] <= 32
