"""Saved Q-CLIP folders that travel: portable backbone paths, the processor and model card saved with the model,
and one clear `ModelLoadError` for each way loading can fail (issue 13 items 1, 2, 4; contract 5)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from transformers import AutoVideoProcessor

from qclip_hf import QClipConfig, QClipModel
from qclip_hf.errors import ModelLoadError
from qclip_hf.models.qclip.loading_qclip import hub_error, portable_backbone_reference
from qclip_hf.models.qclip.video_processing_qclip import QClipVideoProcessor
from qclip_hf.testing.hub_server import LocalHubServer, run_with_hub

PIXELS = torch.randn(2, 4, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def _scores(model_dir) -> list[float]:
    with torch.no_grad():
        return QClipModel.from_pretrained(model_dir)(PIXELS).scores.tolist()


@pytest.fixture
def self_contained(tiny_backbone_dir, tmp_path):
    """A saved model whose backbone folder lives inside it (`<dir>/backbone`), and its expected scores."""
    folder = tmp_path / "qclip"
    shutil.copytree(tiny_backbone_dir("clip"), folder / "backbone")
    torch.manual_seed(0)
    model = QClipModel(QClipConfig(backbone=str(folder / "backbone"), scma_config={"r": 4, "layers": 2}, num_frames=4))
    model.save_pretrained(folder)
    with torch.no_grad():
        return folder, model.eval()(PIXELS).scores.tolist()


def _load_in_subprocess(model_dir, cwd) -> list[float]:
    code = textwrap.dedent("""
        import json, sys, torch
        from qclip_hf import QClipModel
        pixels = torch.randn(2, 4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            print(json.dumps(QClipModel.from_pretrained(sys.argv[1])(pixels).scores.tolist()))
    """)
    proc = subprocess.run([sys.executable, "-c", code, str(model_dir)], cwd=cwd, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    # No "Writing model shards" / "Loading weights" progress bars for a tiny model.
    assert "Loading weights" not in proc.stderr and "%|" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_backbone_inside_the_folder_is_stored_relative_and_loads_from_anywhere(self_contained, tmp_path):
    folder, expected = self_contained
    assert json.loads((folder / "config.json").read_text())["backbone"] == "./backbone"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # From another working directory, by absolute and by relative path.
    assert _load_in_subprocess(folder, cwd=elsewhere) == pytest.approx(expected, abs=0)
    assert _load_in_subprocess("../qclip", cwd=elsewhere) == pytest.approx(expected, abs=0)
    # After `mv` of the whole folder.
    moved = tmp_path / "moved" / "renamed-qclip"
    moved.parent.mkdir()
    shutil.move(str(folder), moved)
    assert _scores(moved) == pytest.approx(expected, abs=0)


def test_backbone_outside_the_folder_is_stored_relative_with_an_absolute_fallback(tiny_backbone_dir, tmp_path,
                                                                                  monkeypatch):
    backbone = tiny_backbone_dir("clip")
    monkeypatch.chdir(tmp_path)
    relative = shutil.copytree(backbone, tmp_path / "backbones" / "tiny").relative_to(tmp_path)
    model = QClipModel(QClipConfig(backbone=str(relative), scma_config={"r": 4, "layers": 2}, num_frames=4))
    model.save_pretrained(tmp_path / "saved")
    stored = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert stored["backbone"] == "../backbones/tiny"
    assert stored["local_path_fallbacks"] == {"backbone": str(tmp_path / "backbones" / "tiny")}
    assert portable_backbone_reference("facebook/PE-Core-L14-336", tmp_path) == "facebook/PE-Core-L14-336"
    assert len(_load_in_subprocess(tmp_path / "saved", cwd="/")) == 2


@pytest.fixture
def demo_layout(tiny_backbone_dir, tmp_path):
    """The demo's layout: `demo/run/best` (the model) beside `demo/tiny_backbone` (its backbone), with its scores."""
    root = tmp_path / "place" / "demo"
    shutil.copytree(tiny_backbone_dir("clip"), root / "tiny_backbone")
    torch.manual_seed(0)
    model = QClipModel(QClipConfig(backbone=str(root / "tiny_backbone"), scma_config={"r": 4, "layers": 2},
                                   num_frames=4))
    model.save_pretrained(root / "run" / "best")
    with torch.no_grad():
        return root, model.eval()(PIXELS).scores.tolist()


def test_moving_or_copying_the_demo_folder_keeps_the_model_loading(demo_layout, tmp_path):
    root, expected = demo_layout
    stored = json.loads((root / "run" / "best" / "config.json").read_text())
    assert stored["backbone"] == "../../tiny_backbone"
    # A copy elsewhere loads the copy's own backbone, even while the original still exists.
    copy = shutil.copytree(root, tmp_path / "copy" / "demo")
    assert QClipConfig.from_pretrained(copy / "run" / "best").backbone == str(copy / "tiny_backbone")
    # `mv outputs/demo elsewhere` (another machine, another home): the original path is gone.
    moved = tmp_path / "elsewhere" / "demo2"
    moved.parent.mkdir()
    shutil.move(str(root), moved)
    assert not root.exists()
    assert _load_in_subprocess(moved / "run" / "best", cwd="/") == pytest.approx(expected, abs=0)


def test_a_model_folder_moved_without_its_backbone_uses_the_saved_absolute_path(demo_layout, tmp_path):
    root, expected = demo_layout
    alone = tmp_path / "alone" / "best"
    shutil.move(str(root / "run" / "best"), alone)
    assert QClipConfig.from_pretrained(alone).backbone == str(root / "tiny_backbone")
    assert _scores(alone) == pytest.approx(expected, abs=0)


def test_a_backbone_found_nowhere_is_one_error_naming_both_places_and_the_fix(demo_layout, tmp_path):
    root, _ = demo_layout
    alone = tmp_path / "alone" / "best"
    shutil.move(str(root / "run" / "best"), alone)
    shutil.rmtree(root / "tiny_backbone")
    with pytest.raises(ModelLoadError) as caught:
        QClipModel.from_pretrained(alone)
    message = str(caught.value)
    assert "'../../tiny_backbone'" in message and str(alone.parent.parent / "tiny_backbone") in message
    assert str(root / "tiny_backbone") in message and "move or copy the backbone folder" in message
    # The CLI checks it before loading anything: one error line with the same words.
    (tmp_path / "clip.mp4").write_bytes(b"not decoded: the model check comes first")
    done = subprocess.run([sys.executable, "-m", "qclip_hf.cli", "score", str(tmp_path / "clip.mp4"), "--model",
                           str(alone), "--output", str(tmp_path / "out.csv")], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: ") and str(root / "tiny_backbone") in done.stderr


def test_missing_backbone_names_the_path_and_the_fix(self_contained):
    folder, _ = self_contained
    shutil.rmtree(folder / "backbone")
    with pytest.raises(ModelLoadError, match=r"backbone folder './backbone' named in .*config.json does not exist") as err:
        QClipModel.from_pretrained(folder)
    assert "move the backbone folder back" in str(err.value)
    config = json.loads((folder / "config.json").read_text())
    config["backbone"] = str(folder / "gone")
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="backbone folder '.*gone'.* does not exist"):
        QClipConfig.from_pretrained(folder)


def test_processor_and_model_card_travel_with_the_model(model_dir):
    config = QClipConfig.from_pretrained(model_dir)
    for processor in (QClipVideoProcessor.from_pretrained(model_dir), AutoVideoProcessor.from_pretrained(model_dir)):
        assert isinstance(processor, QClipVideoProcessor)
        assert (processor.size.height, processor.size.width) == (32, 32)  # the tiny backbone's, not 336
        assert processor.num_frames == config.num_frames == 4
    readme = (Path(model_dir) / "README.md").read_text()
    assert "2508.06092" in readme and "Q-CLIP" in readme
    assert "More Information Needed" not in readme  # PEFT's boilerplate card is gone


@pytest.mark.parametrize("name", ["/definitely/not/here", "./not-here", "outputs/demo/final"])
def test_missing_local_path(name):
    with pytest.raises(ModelLoadError, match="does not exist") as err:
        QClipModel.from_pretrained(name)
    assert name in str(err.value) and "check the path" in str(err.value)


def test_broken_config_and_corrupt_weights(model_dir, tmp_path):
    broken = shutil.copytree(model_dir, tmp_path / "broken-config")
    (broken / "config.json").write_text('{"model_type": "qclip", "backbone": ')
    with pytest.raises(ModelLoadError, match="config.json is not valid JSON"):
        QClipModel.from_pretrained(broken)
    (broken / "config.json").write_text(json.dumps({"model_type": "qclip", "num_frames": 0}))
    with pytest.raises(ModelLoadError, match="not a valid Q-CLIP configuration: .*num_frames"):
        QClipConfig.from_pretrained(broken)
    for name in ("model.safetensors", "adapter_model.safetensors"):
        corrupt = shutil.copytree(model_dir, tmp_path / f"corrupt-{name}")
        data = (corrupt / name).read_bytes()
        (corrupt / name).write_bytes(data[: len(data) // 2])  # truncated by a failed copy
        with pytest.raises(ModelLoadError, match=f"weights file '.*{name}' is corrupt or truncated") as err:
            QClipModel.from_pretrained(corrupt)
        assert "download it again" in str(err.value)


def test_gated_repo_error_says_how_to_get_access():
    from huggingface_hub.errors import GatedRepoError

    gated = GatedRepoError.__new__(GatedRepoError)
    Exception.__init__(gated, "401 Client Error: access to this repo is restricted")
    wrapped = OSError("You are trying to access a gated repo.")
    wrapped.__cause__ = gated
    error = hub_error(wrapped, "meta/gated-model")
    assert isinstance(error, ModelLoadError)
    assert "'meta/gated-model' is a gated Hub repository" in str(error) and "hf auth login" in str(error)


@pytest.fixture(scope="module")
def hub():
    with LocalHubServer() as server:
        yield server


HUB_CHECKS = textwrap.dedent("""
    import json, sys
    from qclip_hf import QClipConfig, QClipModel
    from qclip_hf.errors import ModelLoadError
    results = {}
    for label, call in [
        ("model", lambda: QClipModel.from_pretrained("local-user/no-such-model")),
        ("config", lambda: QClipConfig.from_pretrained("local-user/no-such-model")),
        ("backbone", lambda: QClipModel(QClipConfig(backbone="local-user/no-such-backbone"))),
    ]:
        try:
            call()
            results[label] = "loaded"
        except ModelLoadError as err:
            results[label] = str(err)
    print(json.dumps(results))
""")


def test_missing_hub_repo_and_offline_id_not_in_cache(hub, tmp_path):
    online = json.loads(run_with_hub(hub.endpoint, HUB_CHECKS, tmp_path / "online").stdout.strip().splitlines()[-1])
    assert "model 'local-user/no-such-model' is neither a local folder nor a Hub repository" in online["model"]
    assert "hf auth login" in online["model"] and online["config"] == online["model"]
    assert "backbone 'local-user/no-such-backbone'" in online["backbone"]
    offline = json.loads(run_with_hub(hub.endpoint, HUB_CHECKS, tmp_path / "offline", offline=True)
                         .stdout.strip().splitlines()[-1])
    assert ("model 'local-user/no-such-model' is not in the local Hugging Face cache and HF_HUB_OFFLINE=1"
            in offline["model"])
    assert "hf download local-user/no-such-model" in offline["model"]
    assert "backbone 'local-user/no-such-backbone' is not in the local Hugging Face cache" in offline["backbone"]


def _count_random_draws(monkeypatch) -> list[int]:
    """Patch torch's in-place random initialisers to record the size of every tensor drawn (off the meta device)."""
    drawn: list[int] = []
    for method in ("normal_", "uniform_"):  # torch.nn.init's kaiming/xavier/trunc_normal all end in these
        original = getattr(torch.Tensor, method)

        def counting(self, *args, _original=original, **kwargs):
            if not self.is_meta:
                drawn.append(self.numel())
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, method, counting)
    return drawn


def test_from_pretrained_draws_no_random_backbone_weights(tmp_path, monkeypatch):
    """Loading builds the backbone on the meta device: only Q-CLIP's own small modules are initialised (then
    overwritten by the saved adapter, context and head), never the backbone's weights."""
    from qclip_hf.testing.tiny_backbones import save_tiny_pe_core_backbone

    backbone = save_tiny_pe_core_backbone(tmp_path / "backbone")
    QClipModel(QClipConfig.from_preset("reference", backbone=str(backbone), scma_config={"r": 8, "layers": 2})
               ).save_pretrained(tmp_path / "model")
    drawn = _count_random_draws(monkeypatch)
    model = QClipModel.from_pretrained(tmp_path / "model")
    monkeypatch.undo()
    backbone_size = sum(p.numel() for p in model.dual_encoder.parameters() if not p.requires_grad)
    assert sum(drawn) <= model.num_trainable_parameters() < backbone_size / 10


def test_from_pretrained_assigns_the_saved_adapter_without_drawing_it(tmp_path, monkeypatch):
    """The SCMA weights are created empty (meta device) and the saved tensors assigned (PEFT's low_cpu_mem_usage):
    only the prompt context and the head are drawn, and the loaded adapter is the saved one, trainable."""
    from qclip_hf.testing.tiny_backbones import save_tiny_pe_core_backbone

    backbone = save_tiny_pe_core_backbone(tmp_path / "backbone")
    torch.manual_seed(0)
    original = QClipModel(QClipConfig.from_preset("reference", backbone=str(backbone), scma_config={"r": 8, "layers": 2}))
    with torch.no_grad():
        for parameter in original.parameters():
            if parameter.requires_grad:
                parameter.add_(0.01)  # differs from any fresh initialisation
    original.save_pretrained(tmp_path / "model")
    drawn = _count_random_draws(monkeypatch)
    model = QClipModel.from_pretrained(tmp_path / "model")
    monkeypatch.undo()
    adapter = model.backbone.base_model.scma_trainable_parameters()
    assert adapter and sum(drawn) <= model.num_trainable_parameters() - sum(p.numel() for p in adapter.values())
    saved = original.backbone.base_model.scma_trainable_parameters()
    for name, parameter in adapter.items():
        assert not parameter.is_meta and parameter.requires_grad, name
        assert torch.equal(parameter, saved[name]), name
    size = original.dual_encoder.config.vision_config.image_size
    frames = torch.rand(1, original.config.num_frames, 3, size, size)
    with torch.no_grad():
        assert torch.equal(model(pixel_values_videos=frames).scores, original.eval()(pixel_values_videos=frames).scores)


def test_adapter_of_another_size_names_the_mismatch(model_dir, tmp_path):
    edited = tmp_path / "edited"
    shutil.copytree(model_dir, edited)
    config = json.loads((edited / "config.json").read_text())
    config["scma_config"]["r"] *= 2  # config.json edited after the save: the adapter file no longer fits
    (edited / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match=r"adapter weights in .*edited.* do not match its config.json: size "
                                             r"mismatch for .*scma_slots") as error:
        QClipModel.from_pretrained(edited)
    assert "must come from the same save" in str(error.value)


@pytest.mark.parametrize("name", ["model.safetensors", "adapter_model.safetensors"])
def test_missing_weights_file_is_reported_before_the_backbone_loads(model_dir, tmp_path, monkeypatch, name):
    incomplete = shutil.copytree(model_dir, tmp_path / "incomplete")
    (incomplete / name).unlink()

    def load_backbone(*args, **kwargs):
        raise AssertionError("the backbone was loaded before the folder's files were checked")

    monkeypatch.setattr(QClipModel, "_load_backbone", classmethod(load_backbone))
    with pytest.raises(ModelLoadError, match=f"model folder '.*incomplete' has no {name}") as err:
        QClipModel.from_pretrained(incomplete)
    assert "save the model again" in str(err.value)
