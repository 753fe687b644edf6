"""QClipModel on tiny random backbones of each family (a transformers-style ModelTester)."""

from __future__ import annotations

import json

import pytest
import torch
from peft import PeftModel
from transformers import AutoConfig, AutoModel

import qclip_hf  # noqa: F401
from qclip_hf import QClipConfig, QClipModel
from qclip_hf.testing.tiny_backbones import build_tiny_backbone, build_tiny_tokenizer

FAMILIES = ["clip", "siglip", "metaclip_2"]


class QClipModelTester:
    """Builds tiny Q-CLIP models and inputs: 2 videos x 4 frames of 32x32 pixels, a 8-layer backbone."""

    def __init__(self, backbone_dir: str, batch_size: int = 2, num_frames: int = 4, image_size: int = 32):
        self.backbone_dir = backbone_dir
        self.batch_size, self.num_frames, self.image_size = batch_size, num_frames, image_size

    def get_config(self, **overrides) -> QClipConfig:
        scma = {"r": 4, "layers": 2, **overrides.pop("scma_config", {})}
        return QClipConfig(backbone=self.backbone_dir, num_frames=self.num_frames, scma_config=scma, **overrides)

    def prepare_inputs(self, seed: int = 0) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        return torch.randn(self.batch_size, self.num_frames, 3, self.image_size, self.image_size, generator=generator)

    def build(self, **overrides) -> QClipModel:
        torch.manual_seed(0)
        return QClipModel(self.get_config(**overrides))


@pytest.fixture(params=FAMILIES)
def tester(request, tiny_backbone_dir):
    return QClipModelTester(tiny_backbone_dir(request.param))


@pytest.fixture
def clip_tester(tiny_backbone_dir):
    return QClipModelTester(tiny_backbone_dir("clip"))


def _perturb_trainable(model: QClipModel, seed: int = 1) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn(p.shape, generator=generator) * 0.05)


def test_output_shapes(tester):
    model = tester.build().eval()
    with torch.no_grad():
        out = model(tester.prepare_inputs())
    b, t = tester.batch_size, tester.num_frames
    assert out.scores.shape == (b,)
    assert out.level_similarities.shape == out.level_probs.shape == (b, 5)
    torch.testing.assert_close(out.level_probs.sum(-1), torch.ones(b))
    assert out.video_embeds.shape == (b, 32) and out.text_embeds.shape == (5, 32)
    assert out.frame_embeds.shape == (b, t, 32)
    torch.testing.assert_close(out.video_embeds.norm(dim=-1), torch.ones(b))
    assert torch.isfinite(out.scores).all()


def test_gradients_reach_only_adapter_prompt_and_head(tester):
    model = tester.build().train()
    out = model(tester.prepare_inputs(), labels=torch.tensor([0.2, 0.8]))
    out.loss.backward()
    with_grad = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert with_grad == trainable
    assert "prompt_learner.context" in with_grad and "quality_head.proj.weight" in with_grad
    assert any(".scma_slots." in n for n in with_grad) and any(".scma_ffn." in n for n in with_grad)
    assert all(".scma_" in n or n.startswith(("prompt_learner.", "quality_head.")) for n in trainable)


def test_frozen_backbone_bit_identical_after_optimizer_step(tester):
    model = tester.build().train()
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen, "the backbone must stay registered as frozen parameters"
    trainable = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2, weight_decay=0.1)
    model(tester.prepare_inputs(), labels=torch.tensor([0.1, 0.9])).loss.backward()
    optimizer.step()
    for name, value in model.named_parameters():
        if name in frozen:
            assert torch.equal(value, frozen[name]), name
    assert any(not torch.equal(p, trainable[n]) for n, p in model.named_parameters() if n in trainable)


def test_save_load_gives_identical_scores(tester, tmp_path):
    model = tester.build().eval()
    _perturb_trainable(model)
    x = tester.prepare_inputs()
    with torch.no_grad():
        expected = model(x).scores
    model.save_pretrained(tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert {"config.json", "adapter_config.json", "adapter_model.safetensors", "model.safetensors"} <= set(files)
    # No frozen backbone weights anywhere: the files hold only the trainable parameters.
    from safetensors.torch import load_file

    saved = sum(v.numel() for f in ("adapter_model.safetensors", "model.safetensors")
                for v in load_file(tmp_path / f).values())
    assert saved == model.num_trainable_parameters()
    loaded = QClipModel.from_pretrained(tmp_path)
    with torch.no_grad():
        assert torch.equal(loaded(x).scores, expected)
    auto = AutoModel.from_pretrained(tmp_path)
    assert isinstance(auto, QClipModel)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), QClipConfig)


def test_adapter_dir_loads_with_plain_peft(tester, tmp_path):
    model = tester.build().eval()
    _perturb_trainable(model)
    pixels = tester.prepare_inputs()[0]
    with torch.no_grad():
        expected = model.dual_encoder.get_image_features(pixel_values=pixels).pooler_output
    model.save_pretrained(tmp_path)
    backbone = AutoModel.from_pretrained(tester.backbone_dir)
    peft_model = PeftModel.from_pretrained(backbone, tmp_path, is_trainable=True).eval()
    with torch.no_grad():
        assert torch.equal(peft_model.get_image_features(pixel_values=pixels).pooler_output, expected)


def test_disable_adapter_equals_unadapted_model(tester):
    model = tester.build().eval()
    _perturb_trainable(model)
    x = tester.prepare_inputs()
    bare = QClipModel(tester.get_config(use_adapter=False), backbone=AutoModel.from_pretrained(tester.backbone_dir))
    bare.prompt_learner.load_state_dict(model.prompt_learner.state_dict())
    bare.quality_head.load_state_dict(model.quality_head.state_dict())
    bare.eval()
    for p in model.parameters():  # same requires_grad state: torch's attention kernels depend on it
        p.requires_grad_(False)
    with torch.no_grad():
        adapted = model(x).scores
        with model.disable_adapter():
            disabled = model(x).scores
        assert torch.equal(disabled, bare(x).scores)
        assert not torch.equal(adapted, disabled)


def test_text_tower_runs_once_in_eval_and_again_after_a_step(clip_tester):
    model = clip_tester.build()
    calls = []
    model.dual_encoder.text_model.register_forward_hook(lambda *a: calls.append(1))
    model.eval()
    x = clip_tester.prepare_inputs()
    with torch.no_grad():
        first = model(x).scores
        for _ in range(3):
            model(x)
    assert len(calls) == 1
    model.train()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    model(x, labels=torch.tensor([0.0, 1.0])).loss.backward()
    optimizer.step()
    model.eval()
    calls.clear()
    with torch.no_grad():
        after = model(x).scores
        model(x)
    assert len(calls) == 1 and not torch.equal(first, after)
    with torch.no_grad(), model.disable_adapter():
        model(x)
    assert len(calls) == 2  # switching the adapter off invalidates the cache


def test_vision_tower_sees_one_batch_of_b_times_t_frames(clip_tester):
    model = clip_tester.build().eval()
    batches = []
    model.dual_encoder.vision_model.embeddings.register_forward_hook(lambda m, a, out: batches.append(out.shape[0]))
    with torch.no_grad():
        model(clip_tester.prepare_inputs())
    assert batches == [clip_tester.batch_size * clip_tester.num_frames]


@pytest.mark.parametrize("overrides", [
    dict(prompt_scheme="antonym"), dict(num_context_tokens=0), dict(context_init=None), dict(frame_pooling="max"),
    dict(context_init="low high", num_context_tokens=2), dict(scma_config={"placement": "parallel"}),
])
def test_config_variants_run(clip_tester, overrides):
    model = clip_tester.build(**overrides).eval()
    with torch.no_grad():
        out = model(clip_tester.prepare_inputs())
    assert out.level_probs.shape[1] == len(model.config.level_names)
    if model.config.num_context_tokens == 0:
        assert model.prompt_learner.context is None
    else:
        assert model.prompt_learner.context.shape == (model.config.num_context_tokens, 32)


def test_context_initialised_from_token_embeddings(clip_tester):
    model = clip_tester.build()
    table = model.dual_encoder.text_model.embeddings.token_embedding.weight
    x_id = build_tiny_tokenizer().convert_tokens_to_ids("x")
    assert torch.equal(model.prompt_learner.context.detach(), table[[x_id] * 3])
    # Untrained context equals the placeholder tokens: the text features are those of the plain prompt.
    ids = model.prompt_learner.input_ids
    with torch.no_grad():
        plain = model.dual_encoder.get_text_features(input_ids=ids, attention_mask=model.prompt_learner.attention_mask)
        torch.testing.assert_close(model.eval().get_text_features(),
                                   torch.nn.functional.normalize(plain.pooler_output, dim=-1))


def test_bad_inputs_raise(clip_tester, tmp_path):
    model = clip_tester.build()
    with pytest.raises(ValueError, match="pixel_values_videos must be shaped"):
        model(torch.randn(2, 3, 32, 32))
    with pytest.raises(ValueError, match="tokenises into 1 tokens but num_context_tokens=3"):
        clip_tester.build(context_init="X")
    with pytest.raises(OSError):
        QClipModel.from_pretrained(tmp_path / "missing")
    model.save_pretrained(tmp_path / "saved")
    (tmp_path / "saved" / "model.safetensors").unlink()
    with pytest.raises(OSError, match="model.safetensors"):
        QClipModel.from_pretrained(tmp_path / "saved")


def test_backbone_config_with_explicit_tokenizer(clip_tester):
    backbone_config = build_tiny_backbone("clip").config.to_dict()
    config = QClipConfig(backbone_config=backbone_config, scma_config={"r": 4, "layers": 2})
    with pytest.raises(ValueError, match="needs a tokenizer"):
        QClipModel(config)
    model = QClipModel(config, tokenizer=clip_tester.backbone_dir)
    assert json.loads(config.to_json_string())["backbone_config"]["model_type"] == "clip"
    assert model.num_trainable_parameters() > 0


def test_zero_shot_preset_has_nothing_to_train_and_scores_expected_level(clip_tester, tmp_path):
    config = QClipConfig.from_preset("zero_shot", backbone=clip_tester.backbone_dir, num_frames=clip_tester.num_frames)
    model = QClipModel(config).eval()
    assert model.num_trainable_parameters() == 0 and not isinstance(model.backbone, PeftModel)
    assert model.config.prompts()[0] == "a video of excellent quality"
    x = clip_tester.prepare_inputs()
    with torch.no_grad():
        out = model(x)
    torch.testing.assert_close(out.scores, out.level_probs @ torch.tensor([5.0, 4.0, 3.0, 2.0, 1.0]))
    assert ((out.scores >= 1) & (out.scores <= 5)).all()
    model.save_pretrained(tmp_path)
    with torch.no_grad():
        assert torch.equal(QClipModel.from_pretrained(tmp_path)(x).scores, out.scores)
    with pytest.raises(ValueError, match="has no adapter"):
        model.disable_adapter()


def test_head_bias_switch_and_folders_saved_before_it(clip_tester, model_dir, tmp_path):
    import shutil

    model = clip_tester.build(head_bias=False)
    assert "quality_head.proj.bias" not in dict(model.named_parameters())
    assert model.quality_head.proj.bias is None
    # A folder written before `head_bias` and `prompt_tokens.json` existed: no key, no file, a biased head.
    old = shutil.copytree(model_dir, tmp_path / "old")
    config = json.loads((old / "config.json").read_text())
    del config["head_bias"]
    (old / "config.json").write_text(json.dumps(config))
    (old / "prompt_tokens.json").unlink()
    x = clip_tester.prepare_inputs()
    with torch.no_grad():
        expected = QClipModel.from_pretrained(model_dir)(x).scores
        loaded = QClipModel.from_pretrained(old)
        assert loaded.config.head_bias is True and loaded.quality_head.proj.bias is not None
        assert torch.equal(loaded(x).scores, expected)
