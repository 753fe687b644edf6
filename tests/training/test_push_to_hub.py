"""`train.py --push_to_hub` against a local Hub-protocol server with the real huggingface_hub client, then
`QClipModel.from_pretrained(repo, revision=...)` from an empty cache, offline from that cache, and clear errors."""

from __future__ import annotations

import json
import re
import sys
import textwrap
from argparse import Namespace
from pathlib import Path

import pytest
import torch
import yaml
from huggingface_hub import HfApi, hf_hub_download
from safetensors.torch import load_file

from qclip_hf import QClipConfig
from qclip_hf.errors import QClipError
from qclip_hf.synthetic import generate_quality_dataset
from qclip_hf.testing.hub_server import LocalHubServer, run_with_hub
from qclip_hf.training.hub import check_hub_backbone, push_trained_model

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
            "--num_epochs", "2", "--batch_size", "3", "--seed", "0", "--checkpointing_steps", "none",
            "--output_dir", str(root / "run"), "--push_to_hub", "--hub_model_id", "user/qclip-tiny", "--hub_private"]
    proc = run_with_hub(server.endpoint, REPO / "training" / "train.py", root / "home-train", *args, timeout=600)
    # --push_to_hub uploads best/, the selected epoch. Two epochs, of which (with this data and seed) the first is
    # selected (held-out PLCC 0.33, then 0.27): best/ and last/ differ, so the push can be seen to take the right one
    # (test_the_hub_holds_best_not_last).
    yield {"root": root, "server": server, "api": api, "final": root / "run" / "best", "proc": proc}
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
    # The card: paper + BibTeX, limitations, eval-set sizes, selection stated, no local paths, no dataset ids.
    assert "arXiv:2508.06092" in card and "@article{mi2025qclip" in card and "## Limitations" in card
    size = json.loads((pushed["root"] / "run" / "results.json").read_text())["eval_sizes"]["heldout"]
    assert f"| heldout | {size} |" in card and "selected on the test set, as the paper and release do" in card
    assert str(pushed["root"]) not in card and "datasets" not in metadata
    assert metadata["license"] == "other"  # org/tiny-clip's license is unknown: "other" with a note


def test_the_hub_holds_best_not_last(pushed, tmp_path):
    run = pushed["root"] / "run"
    results = json.loads((run / "results.json").read_text())
    best_epoch, last_epoch = results["best"]["epoch"], results["history"][-1]["epoch"]
    assert best_epoch != last_epoch, "the run must select an epoch before its last, or best/ and last/ are the same"
    differ = []
    for name in ("adapter_model.safetensors", "model.safetensors"):
        hub = load_file(hf_hub_download("user/qclip-tiny", name, endpoint=pushed["server"].endpoint,
                                        cache_dir=tmp_path, token=TOKEN))
        best, last = load_file(run / "best" / name), load_file(run / "last" / name)
        assert hub.keys() == best.keys() == last.keys()
        assert all(torch.equal(hub[k], best[k]) for k in best), (
            f"{name} on the Hub is not best/'s (epoch {best_epoch}); last/ (epoch {last_epoch}) has "
            f"{'it' if all(torch.equal(hub[k], last[k]) for k in last) else 'not it either'}")
        differ += [k for k in best if not torch.equal(best[k], last[k])]
    assert differ, "best/ and last/ hold the same weights: the test could not tell them apart"


def test_third_party_info_logs_are_off_by_default(pushed):
    stderr = pushed["proc"].stderr
    assert "HTTP Request" not in stderr and " INFO httpx" not in stderr
    assert "INFO __main__" in stderr  # our own INFO lines stay


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


# ---- a local backbone: refused, or pushed with --hub_backbone_id / --hub_push_backbone (in-process, no training)

ARGS = Namespace(train_data="videofolder:/somewhere/private/train", learning_rate=1e-3, weight_decay=1e-4,
                 num_epochs=2, warmup_epochs=1, batch_size=4, loss="plcc+rank", num_frames=4,
                 train_sampling="Mixed", eval_sampling="UNISampl")
SUMMARY = {"best": {"epoch": 1, "selected_on": "heldout", "rule": "best mean of SROCC and PLCC",
                    "metrics": {"heldout": {"srocc": 0.5, "plcc": 0.6, "krocc": 0.4, "rmse": 1.2}}},
           "eval_sizes": {"heldout": 7}, "fit": "logistic"}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    server = LocalHubServer(tmp_path_factory.mktemp("hub"))
    server.start()
    yield server, HfApi(endpoint=server.endpoint, token=TOKEN)
    server.stop()


def _config(folder: str) -> QClipConfig:
    return QClipConfig.from_pretrained(folder)


def test_check_refuses_a_local_backbone_before_any_work(tmp_path):
    with pytest.raises(QClipError, match="local path .*--hub_backbone_id .*--hub_push_backbone"):
        check_hub_backbone(str(tmp_path))
    with pytest.raises(QClipError, match="not a Hub repo id"):
        check_hub_backbone(str(tmp_path), hub_backbone_id=str(tmp_path))
    assert check_hub_backbone("org/clip") == "org/clip"
    assert check_hub_backbone(None) is None  # a built-in random architecture needs no backbone repo
    assert check_hub_backbone(str(tmp_path), push_backbone=True, repo_id="me/q") == "me/q-backbone"


def test_push_with_a_local_backbone_is_refused_and_uploads_nothing(hub, model_dir):
    server, api = hub
    with pytest.raises(QClipError, match="local path"):
        push_trained_model(model_dir, "me/refused", _config(model_dir), SUMMARY, ARGS, endpoint=server.endpoint,
                           token=TOKEN)
    assert not api.repo_exists("me/refused")
    with pytest.raises(QClipError, match="does not exist on the Hub"):
        push_trained_model(model_dir, "me/refused", _config(model_dir), SUMMARY, ARGS, endpoint=server.endpoint,
                           token=TOKEN, hub_backbone_id="org/never-uploaded")
    assert not api.repo_exists("me/refused")


def test_push_backbone_too_names_it_in_the_pushed_config_and_card(hub, model_dir, tmp_path):
    server, api = hub
    local_backbone = _config(model_dir).backbone
    push_trained_model(model_dir, "me/with-backbone", _config(model_dir), SUMMARY, ARGS, endpoint=server.endpoint,
                       token=TOKEN, push_backbone=True)
    assert api.repo_exists("me/with-backbone-backbone")
    config = json.loads(Path(hf_hub_download("me/with-backbone", "config.json", endpoint=server.endpoint,
                                             cache_dir=tmp_path, token=TOKEN)).read_text())
    assert config["backbone"] == "me/with-backbone-backbone"
    card = Path(hf_hub_download("me/with-backbone", "README.md", endpoint=server.endpoint, cache_dir=tmp_path,
                                token=TOKEN)).read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["base_model"] == "me/with-backbone-backbone"
    assert "/somewhere/private" not in card and "| heldout | 7 |" in card and "2508.06092" in card
    # The local folder still names its local backbone.
    assert _config(model_dir).backbone == local_backbone


def test_hub_backbone_id_pushed_model_loads_from_the_hub_alone(hub, model_dir, tmp_path):
    server, api = hub
    api.create_repo("org/tiny-clip-copy", exist_ok=True)
    api.upload_folder(folder_path=_config(model_dir).backbone, repo_id="org/tiny-clip-copy")
    push_trained_model(model_dir, "me/by-id", _config(model_dir), SUMMARY, ARGS, endpoint=server.endpoint,
                       token=TOKEN, hub_backbone_id="org/tiny-clip-copy", license="cc-by-4.0")
    code = textwrap.dedent("""
        from qclip_hf import QClipModel
        model = QClipModel.from_pretrained("me/by-id")
        print(model.config.backbone)
    """)
    proc = run_with_hub(server.endpoint, code, tmp_path / "home", timeout=300)
    assert proc.stdout.strip().splitlines()[-1] == "org/tiny-clip-copy"
    card = Path(hf_hub_download("me/by-id", "README.md", endpoint=server.endpoint, cache_dir=tmp_path,
                                token=TOKEN)).read_text()
    assert yaml.safe_load(card.split("---")[1])["license"] == "cc-by-4.0"


_LOGS = textwrap.dedent(
    """
    import logging, sys
    from huggingface_hub import HfApi
    from qclip_hf.training.logging_setup import quiet_third_party_logs
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    quiet_third_party_logs(verbose=sys.argv[1] == "verbose")
    HfApi().repo_exists("org/any-repo")
    logging.getLogger("qclip").info("own line")
    """
)


@pytest.mark.parametrize("mode", ["quiet", "verbose"])
def test_verbose_turns_third_party_request_logs_on(hub, tmp_path, mode):
    server, _ = hub
    proc = run_with_hub(server.endpoint, _LOGS, tmp_path / "home", mode, timeout=120)
    assert ("HTTP Request: " in proc.stderr) == (mode == "verbose"), proc.stderr[-2000:]
    assert "INFO qclip: own line" in proc.stderr
