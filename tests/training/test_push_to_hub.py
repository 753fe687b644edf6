"""`train.py --push_to_hub` against a local Hub-protocol server with the real huggingface_hub client, then
`QClipModel.from_pretrained(repo, revision=...)` from an empty cache, offline from that cache, and clear errors."""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import yaml
from huggingface_hub import HfApi
from safetensors.torch import load_file

from qclip_hf.synthetic import generate_quality_dataset
from qclip_hf.testing.hub_server import LocalHubServer, run_with_hub

REPO = Path(__file__).resolve().parents[2]
TOKEN = "hf_local_test_token"

_SCORE = textwrap.dedent(
    """
    import json, sys, torch
    from qclip_hf import QClipModel
    model = QClipModel.from_pretrained(sys.argv[1], revision=sys.argv[2] if sys.argv[2] != "-" else None)
    with torch.no_grad():
        scores = model(torch.load(sys.argv[3])).scores
    print(json.dumps({"scores": scores.tolist(), "backbone": model.config.backbone}))
    """
)


def _last_json(proc) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def pushed(tmp_path_factory, tiny_backbone_dir):
    root = tmp_path_factory.mktemp("push")
    data = generate_quality_dataset(root / "data", num_sources=3, levels=1, test_sources=1,
                                    degradations=("crf", "blur"), progress=False)
    server = LocalHubServer(root / "hub")
    server.start()
    api = HfApi(endpoint=server.endpoint, token=TOKEN)
    api.create_repo("org/tiny-clip")
    api.upload_folder(folder_path=tiny_backbone_dir("clip"), repo_id="org/tiny-clip")
    args = ["--backbone", "org/tiny-clip", "--scma", '{"r": 4, "layers": 2}', "--num_frames", "2",
            "--train_data", f"videofolder:{data}/train", "--eval_data", f"heldout=videofolder:{data}/test",
            "--num_epochs", "1", "--batch_size", "3", "--checkpointing_steps", "none",
            "--output_dir", str(root / "run"), "--push_to_hub", "--hub_model_id", "user/qclip-tiny", "--hub_private"]
    run_with_hub(server.endpoint, REPO / "training" / "train.py", root / "home-train", *args, timeout=600)
    yield {"root": root, "server": server, "api": api, "final": root / "run" / "final"}
    server.stop()


def test_push_uploads_trained_parts_and_a_model_card(pushed):
    api = pushed["api"]
    files = set(api.list_repo_files("user/qclip-tiny"))
    assert {"config.json", "adapter_config.json", "adapter_model.safetensors", "model.safetensors",
            "video_preprocessor_config.json", "README.md"} <= files
    assert api.model_info("user/qclip-tiny").private
    # Never the frozen backbone: every uploaded tensor is a trained one.
    local = pushed["final"]
    uploaded = {**load_file(local / "adapter_model.safetensors"), **load_file(local / "model.safetensors")}
    assert all("scma_" in k or k.startswith(("prompt_learner", "quality_head")) for k in uploaded)
    card = (local / "README.md").read_text()
    metadata = yaml.safe_load(card.split("---")[1])
    assert metadata["library_name"] == "qclip-hf" and metadata["base_model"] == "org/tiny-clip"
    assert metadata["pipeline_tag"] == "video-classification" and "video-quality-assessment" in metadata["tags"]
    results = metadata["model-index"][0]["results"]
    assert {m["type"] for r in results for m in r["metrics"]} >= {"srocc", "plcc"}
    assert 'from_pretrained("user/qclip-tiny")' in card


def test_download_into_empty_cache_then_offline_gives_the_same_scores(pushed, tmp_path):
    x = torch.randn(2, 2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    torch.save(x, tmp_path / "x.pt")
    server, api = pushed["server"], pushed["api"]
    commit = api.model_info("user/qclip-tiny").sha
    local = run_with_hub(server.endpoint, _SCORE, tmp_path / "home-local", str(pushed["final"]), "-",
                         str(tmp_path / "x.pt"))
    online = run_with_hub(server.endpoint, _SCORE, tmp_path / "home", "user/qclip-tiny", commit,
                          str(tmp_path / "x.pt"))
    assert _last_json(online) == _last_json(local)
    assert _last_json(online)["backbone"] == "org/tiny-clip"
    # Only the adapter repo's own files were fetched for it (the backbone came from its own repo).
    cached = {p.name for p in (tmp_path / "home" / "hub").iterdir()}
    assert cached >= {"models--user--qclip-tiny", "models--org--tiny-clip"}
    offline = run_with_hub("http://127.0.0.1:9", _SCORE, tmp_path / "home", "user/qclip-tiny", commit,
                           str(tmp_path / "x.pt"), offline=True)
    assert _last_json(offline) == _last_json(online)


_AUTO_AND_PIPELINE = textwrap.dedent(
    """
    import json, sys, torch
    import qclip_hf
    from transformers import AutoModel, pipeline
    model = AutoModel.from_pretrained("user/qclip-tiny")
    scorer = pipeline("video-quality", model="user/qclip-tiny")
    print(json.dumps({"auto": type(model).__name__, "pipeline": type(scorer.model).__name__,
                      "score": scorer(sys.argv[1])["score"]}))
    """
)


def test_auto_model_and_pipeline_load_qclip_from_a_hub_id(pushed, tmp_path):
    video = next((pushed["root"] / "data" / "test").rglob("*.mp4"))
    proc = run_with_hub(pushed["server"].endpoint, _AUTO_AND_PIPELINE, tmp_path / "home", str(video))
    out = _last_json(proc)
    assert out["auto"] == out["pipeline"] == "QClipModel" and isinstance(out["score"], float)


@pytest.mark.parametrize("repo, revision, pattern", [
    ("user/does-not-exist", "-", r"user/does-not-exist"),
    ("user/qclip-tiny", "no-such-branch", r"no-such-branch"),
    ("user/half-uploaded", "-", r"model\.safetensors|adapter"),
])
def test_missing_repo_revision_or_file_gives_a_clear_error(pushed, tmp_path, repo, revision, pattern):
    api = pushed["api"]
    if repo == "user/half-uploaded":
        api.create_repo(repo, exist_ok=True)
        api.upload_file(path_or_fileobj=str(pushed["final"] / "config.json"), path_in_repo="config.json", repo_id=repo)
    proc = run_with_hub(pushed["server"].endpoint, _SCORE, tmp_path / "home", repo, revision, "unused", check=False)
    assert proc.returncode != 0
    error = proc.stderr[proc.stderr.rindex("Traceback"):]
    error = error[error.index("\nOSError") if "\nOSError" in error else 0:]
    assert re.search(pattern, error), error[-2000:]


def test_model_card_usage_snippet_runs(pushed, tmp_path):
    card = (pushed["final"] / "README.md").read_text()
    snippet = [block for block in re.findall(r"```python\n(.*?)```", card, re.S) if "QClipModel" in block][0]
    video = next((pushed["root"] / "data" / "test").rglob("*.mp4"))
    code = snippet.replace('"my_video.mp4"', repr(str(video)))
    proc = run_with_hub(pushed["server"].endpoint, code, tmp_path / "home", timeout=300)
    assert re.search(r"tensor\(\[-?\d", proc.stdout), proc.stdout
    assert sys.executable
