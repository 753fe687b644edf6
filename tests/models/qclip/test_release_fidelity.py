"""qclip-hf with the release switches on equals the authors' release, and the release's checkpoints convert exactly.

A release-format checkpoint (`train.py`'s `{"state_dict", "validation_results"}`) is built here on a tiny PE-Core
geometry (both towers 32 wide, 4 blocks, adapters on blocks >= 2, rank 8, 2D RoPE with head width 16), converted
with the converter's command line, loaded with `QClipModel.from_pretrained` and `pipeline("video-quality")`, and
compared with `release_reference.ReleaseReference`, an independent float64 implementation of the release written
from its equations: scores within 1e-5, a training step's loss within 1e-5 relative, every trainable gradient within
1e-4 relative.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from qclip_hf import QClipModel
from qclip_hf.testing.tiny_backbones import save_tiny_pe_core_backbone, tiny_pe_core_config, tiny_pe_core_meta_state_dict
from qclip_hf.losses import build_loss

# ---------------------------------------------------------------------------------------------------------------
# The release, re-implemented independently (from its equations and tensor layouts, GitHub `xiao-mi-d/Q-CLIP`:
# `model/qclip.py`, its vendored Perception Encoder from before Meta's "Fix Rope bug when using cls token", and
# `train.py`'s losses): plain float64 tensor algebra over the release's own state-dict names, explicit attention (no
# fused kernels) and a rotary table built with Python loops. It imports nothing of qclip-hf's model code.


RELEASE_PROMPTS = tuple(f"X X X a video of {level} quality" for level in ("bad", "poor", "fair", "good", "excellent"))
TRAINABLE_PREFIXES = ("encoder_adapters.", "shared_core.", "proj_adapter.", "context_tokens", "score_proj",
                      "image_adapter_weight", "text_adapter_weight", "image_proj_adapter_weight",
                      "text_proj_adapter_weight")


def legacy_rotary_angles(grid: int, head_dim: int, theta: float = 10000.0) -> torch.Tensor:
    """The rotary angle of every (token, channel) in the pre-fix layout, by hand.

    Patch (row, col) sits at x = col + 1, y = row + 1 (0 is left for the class token). Band i has frequency
    theta^(-i / (head_dim / 4)); the first half of the channels rotates with x, the second with y, each band's angle
    shared by an interleaved channel pair. Pre-fix, the class token's zero row is appended after the patch rows while
    the class token is first in the sequence, so row t of the table rotates token t.
    """
    quarter = head_dim // 4
    frequencies = [theta ** (-(i / quarter)) for i in range(quarter)]
    rows = []
    for row in range(grid):
        for col in range(grid):
            x, y = col + 1, row + 1
            angles = []
            for f in frequencies:
                angles += [x * f, x * f]
            for f in frequencies:
                angles += [y * f, y * f]
            rows.append(angles)
    rows.append([0.0] * head_dim)
    return torch.tensor(rows, dtype=torch.float64)


def fixed_rotary_angles(grid: int, head_dim: int, theta: float = 10000.0) -> torch.Tensor:
    """The fixed layout: the class token's zero row first."""
    legacy = legacy_rotary_angles(grid, head_dim, theta)
    return torch.cat([legacy[-1:], legacy[:-1]])


def rotate_pairs(t: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate each channel pair (2i, 2i+1) of `t` (..., L, head_dim) by `angles[:, 2i]`."""
    a = angles[:, 0::2].to(t.dtype)
    even, odd = t[..., 0::2], t[..., 1::2]
    new_even = even * torch.cos(a) - odd * torch.sin(a)
    new_odd = odd * torch.cos(a) + even * torch.sin(a)
    return torch.stack([new_even, new_odd], dim=-1).flatten(-2)


class ReleaseReference:
    """The release's `QCLIP.forward` and `train.py` loss over a release state dict (names as the release saves them).

    Args:
        state: the release's `state_dict` (aliases `vit.*` / `text_encoder.*` are ignored).
        text_tokens: (5, L) token ids, bad -> excellent, as the release tokenises `RELEASE_PROMPTS`.
        start: `adapter_start_layer`.
        vision_heads, text_heads, pool_heads: attention heads (not stored in a state dict).
        legacy_rope: the pre-fix rotary layout (the release) or the fixed one.
    """

    def __init__(self, state, text_tokens, start, vision_heads, text_heads, pool_heads, legacy_rope=True,
                 dtype=torch.float64):
        # `clip_model.` is the release's attribute holding Meta's PE CLIP; its tensors keep Meta's names below it.
        self.p = {k.removeprefix("clip_model."): v.detach().to(dtype).clone() for k, v in state.items()
                  if not k.startswith(("vit.", "text_encoder."))}
        for name, tensor in self.p.items():
            if name.startswith(TRAINABLE_PREFIXES):
                tensor.requires_grad_(True)
        self.tokens = text_tokens
        self.start = start
        self.heads = {"vision": vision_heads, "text": text_heads, "pool": pool_heads}
        width = self.p["visual.conv1.weight"].shape[0]
        self.patch = self.p["visual.conv1.weight"].shape[-1]
        grid = math.isqrt(self.p["visual.positional_embedding"].shape[0] - 1)
        table = legacy_rotary_angles if legacy_rope else fixed_rotary_angles
        self.angles = table(grid, width // vision_heads)
        self.ls = "visual.transformer.resblocks.0.ls_1.gamma" in self.p
        self.dtype = dtype

    # -- pieces
    def ln(self, x, name):
        return F.layer_norm(x, x.shape[-1:], self.p[f"{name}.weight"], self.p[f"{name}.bias"], eps=1e-5)

    def linear(self, x, name):
        return x @ self.p[f"{name}.weight"].t() + self.p[f"{name}.bias"]

    def attention(self, xq, xkv, prefix, heads, mask=None, angles=None):
        weight, bias = self.p[f"{prefix}.in_proj_weight"], self.p[f"{prefix}.in_proj_bias"]
        d = weight.shape[1]
        q = xq @ weight[:d].t() + bias[:d]
        k = xkv @ weight[d:2 * d].t() + bias[d:2 * d]
        v = xkv @ weight[2 * d:].t() + bias[2 * d:]

        def split(t):
            return t.reshape(t.shape[0], t.shape[1], heads, d // heads).transpose(1, 2)

        q, k, v = split(q), split(k), split(v)
        if angles is not None:
            q, k = rotate_pairs(q, angles), rotate_pairs(k, angles)
        logits = q @ k.transpose(-1, -2) / math.sqrt(d // heads)
        if mask is not None:
            logits = logits + mask
        out = logits.softmax(-1) @ v
        out = out.transpose(1, 2).reshape(xq.shape[0], xq.shape[1], d)
        return self.linear(out, f"{prefix}.out_proj")

    def block(self, x, prefix, heads, mask=None, angles=None):
        update = self.attention(self.ln(x, f"{prefix}.ln_1"), self.ln(x, f"{prefix}.ln_1"), f"{prefix}.attn", heads,
                                mask, angles)
        if self.ls:
            update = update * self.p[f"{prefix}.ls_1.gamma"]
        x = x + update
        update = self.linear(F.gelu(self.linear(self.ln(x, f"{prefix}.ln_2"), f"{prefix}.mlp.c_fc")),
                             f"{prefix}.mlp.c_proj")
        if self.ls:
            update = update * self.p[f"{prefix}.ls_2.gamma"]
        return x + update

    def encoder_adapter(self, x, index, scale):
        a = self.linear(x, f"encoder_adapters.{index}.down_proj")
        a = self.linear(F.gelu(self.linear(a, "shared_core.0")), "shared_core.2")
        a = self.ln(self.linear(a, f"encoder_adapters.{index}.up_proj"), f"encoder_adapters.{index}.ln")
        return x + self.p[scale] * a

    def proj_adapter(self, x):
        return self.linear(F.gelu(self.linear(self.linear(x, "proj_adapter.0"), "proj_adapter.1")), "proj_adapter.3")

    def num_blocks(self, prefix):
        return 1 + max(int(k[len(prefix):].split(".")[0]) for k in self.p if k.startswith(prefix))

    # -- towers
    def image_features(self, pixels):
        x = F.conv2d(pixels.to(self.dtype), self.p["visual.conv1.weight"], stride=self.patch)
        x = x.flatten(2).transpose(1, 2)
        cls = self.p["visual.class_embedding"].reshape(1, 1, -1).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.p["visual.positional_embedding"]
        x = self.ln(x, "visual.ln_pre")
        prefix = "visual.transformer.resblocks."
        for i in range(self.num_blocks(prefix)):
            x = self.block(x, f"{prefix}{i}", self.heads["vision"], angles=self.angles)
            if i >= self.start:
                x = self.encoder_adapter(x, i, "image_adapter_weight")
        x = self.ln(x, "visual.ln_post")
        probe = self.p["visual.attn_pool.probe"].expand(x.shape[0], -1, -1)
        pooled = self.attention(probe, x, "visual.attn_pool.attn", self.heads["pool"])
        pooled = pooled + self.linear(F.gelu(self.linear(self.ln(pooled, "visual.attn_pool.layernorm"),
                                                         "visual.attn_pool.mlp.c_fc")), "visual.attn_pool.mlp.c_proj")
        pooled = pooled[:, 0]
        return pooled @ self.p["visual.proj"] + self.p["image_proj_adapter_weight"] * self.proj_adapter(pooled)

    def text_features(self):
        prefix_emb, suffix_emb = self.p["prompt_prefix"], self.p["prompt_suffix"]
        context = self.p["context_tokens"].repeat(prefix_emb.shape[0], 1, 1)
        x = torch.cat([prefix_emb, context, suffix_emb], dim=1)
        length = x.shape[1]
        x = x + self.p["positional_embedding"][:length]
        mask = torch.full((length, length), float("-inf"), dtype=self.dtype).triu(1)
        prefix = "transformer.resblocks."
        for i in range(self.num_blocks(prefix)):
            x = self.block(x, f"{prefix}{i}", self.heads["text"], mask=mask)
            if i >= self.start:
                x = self.encoder_adapter(x, i, "text_adapter_weight")
        x = self.ln(x, "ln_final")
        pooled = x[torch.arange(x.shape[0]), self.tokens.argmax(-1)]
        return pooled @ self.p["text_projection"] + self.p["text_proj_adapter_weight"] * self.proj_adapter(pooled)

    def __call__(self, video):
        batch, frames = video.shape[:2]
        frame_features = self.image_features(video.reshape(batch * frames, *video.shape[2:]))
        video_features = frame_features.reshape(batch, frames, -1).mean(1)
        video_features = video_features / video_features.norm(dim=-1, keepdim=True)
        text = self.text_features()
        text = text / text.norm(dim=-1, keepdim=True)
        return (video_features @ text.t() @ self.p["score_proj"]).reshape(-1)


def release_loss(pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """`plcc_loss + 0.3 * rank_loss` of the release's train.py, from its equations."""
    pred, label = pred.reshape(-1), label.reshape(-1).to(pred.dtype)
    zp = (pred - pred.mean()) / (pred.std(unbiased=False) + 1e-8)
    zl = (label - label.mean()) / (label.std(unbiased=False) + 1e-8)
    rho = (zp * zl).mean()
    plcc = (((zp - zl) ** 2).mean() / 4 + ((rho * zp - zl) ** 2).mean() / 4) / 2
    n = pred.numel()
    pairs = torch.relu((pred[:, None] - pred[None, :]) * torch.sign(label[None, :] - label[:, None]))
    rank = pairs.sum() / n / (n - 1) / (1 + pairs.max())
    return plcc + 0.3 * rank

# ---------------------------------------------------------------------------------------------------------------

GEOMETRY = dict(width=32, num_layers=4, num_heads=2, image_size=32, patch_size=8, pooling_heads=4)
START, RANK, LEVELS = 2, 8, 5
VALIDATION = {"srocc": 0.9123, "plcc": 0.9234, "krocc": 0.7345, "rmse": 0.3456}


def release_tokens() -> torch.Tensor:
    """The release's text tokens: CLIP BPE, context 32, zero padding after the end-of-text token."""
    from qclip_hf.models.pe_core import build_pe_core_tokenizer

    ids = build_pe_core_tokenizer(32)(list(RELEASE_PROMPTS), padding="max_length", max_length=32,
                                      return_tensors="pt").input_ids
    first_eot = ids.argmax(-1, keepdim=True)
    return ids.masked_fill(torch.arange(32)[None] > first_eot, 0)


def build_release_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """What the release's `QCLIP.state_dict()` holds after training, at the tiny geometry."""
    config = tiny_pe_core_config(**GEOMETRY)
    pe = tiny_pe_core_meta_state_dict(config, seed)
    state = {f"clip_model.{k}": v for k, v in pe.items()}
    # `vit` and `text_encoder` are attributes aliasing the same modules: saved again under their names.
    state.update({f"vit.{k[len('visual.'):]}": v for k, v in pe.items() if k.startswith("visual.")})
    state.update({f"text_encoder.{k[len('transformer.'):]}": v for k, v in pe.items() if k.startswith("transformer.")})
    g = torch.Generator().manual_seed(seed + 100)
    width = GEOMETRY["width"]

    def rnd(*shape, scale=0.3):
        return scale * torch.randn(*shape, generator=g)

    for i in range(GEOMETRY["num_layers"]):  # one per block; only i >= START used
        state[f"encoder_adapters.{i}.down_proj.weight"] = rnd(RANK, width)
        state[f"encoder_adapters.{i}.down_proj.bias"] = rnd(RANK)
        state[f"encoder_adapters.{i}.up_proj.weight"] = rnd(width, RANK)
        state[f"encoder_adapters.{i}.up_proj.bias"] = rnd(width)
        state[f"encoder_adapters.{i}.ln.weight"] = 1 + rnd(width)
        state[f"encoder_adapters.{i}.ln.bias"] = rnd(width)
    for name in ("shared_core.0", "shared_core.2"):
        state[f"{name}.weight"], state[f"{name}.bias"] = rnd(RANK, RANK), rnd(RANK)
    for name, shape in (("proj_adapter.0", (RANK, width)), ("proj_adapter.1", (RANK, RANK)),
                        ("proj_adapter.3", (width, RANK))):
        state[f"{name}.weight"], state[f"{name}.bias"] = rnd(*shape), rnd(shape[0])
    # Four different scales, so a swapped tower or adapter kind shows.
    for name, value in (("image_adapter_weight", 0.31), ("text_adapter_weight", 0.17),
                        ("image_proj_adapter_weight", 0.23), ("text_proj_adapter_weight", 0.41)):
        state[name] = torch.tensor(value)
    state["context_tokens"] = rnd(1, 3, width, scale=0.5)
    state["score_proj"] = torch.tensor([[-1.3], [-0.4], [0.2], [0.7], [1.5]])  # bad -> excellent
    embedded = pe["token_embedding.weight"][release_tokens()]
    state["prompt_prefix"] = embedded[:, :1].clone()
    state["prompt_suffix"] = embedded[:, 4:].clone()
    return state


def reference(state, legacy_rope=True) -> ReleaseReference:
    return ReleaseReference(state, release_tokens(), START, vision_heads=GEOMETRY["num_heads"],
                            text_heads=GEOMETRY["num_heads"], pool_heads=GEOMETRY["pooling_heads"],
                            legacy_rope=legacy_rope)


def videos(batch: int = 4, frames: int = 2, seed: int = 3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    # Different contrast per video spreads the scores, so the PLCC loss's normalisation is well conditioned.
    scale = torch.linspace(0.5, 2.0, batch).reshape(batch, 1, 1, 1, 1)
    return scale * torch.randn(batch, frames, 3, 32, 32, generator=g)


def convert(checkpoint, output_dir, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qclip_hf.models.qclip.convert_release_checkpoint",
                           "--checkpoint", str(checkpoint), "--output_dir", str(output_dir),
                           "--adapter_start_layer", str(START), *args],
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """(state, checkpoint path) of a release checkpoint named as train.py names them."""
    state = build_release_state()
    path = tmp_path_factory.mktemp("release") / "qclip_tiny_val_best.pth"
    torch.save({"state_dict": state, "validation_results": VALIDATION}, path)
    return state, path


@pytest.fixture(scope="module")
def geometry_dir(tmp_path_factory):
    """A tiny PE-Core folder with other weights (seed 7): only its config.json, the geometry, is used."""
    return save_tiny_pe_core_backbone(tmp_path_factory.mktemp("geometry"), seed=7, **GEOMETRY)


@pytest.fixture(scope="module")
def converted_dir(release, geometry_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("converted") / "qclip-release"
    proc = convert(release[1], out, "--save_backbone", "--backbone", str(geometry_dir))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_converted_checkpoint_scores_equal_the_release(release, converted_dir):
    state, _ = release
    model = QClipModel.from_pretrained(converted_dir)
    assert model.config.head_bias is False and model.config.level_names[0] == "excellent"
    assert model.dual_encoder.config.vision_config.legacy_class_token_rope is True
    x = videos()
    with torch.no_grad():
        expected = reference(state)(x)
        torch.testing.assert_close(model(x).scores.double(), expected, atol=1e-5, rtol=0)
        # The switch matters: the fixed rotary layout is measurably different from the release's.
        fixed = reference(state, legacy_rope=False)(x)
    assert (fixed - expected).abs().max() > 1e-3


def test_training_step_equals_the_release(release, converted_dir):
    state, _ = release
    model = QClipModel.from_pretrained(converted_dir).train()
    ref = reference(state)
    x, labels = videos(), torch.tensor([1.2, 3.4, 2.1, 4.6])
    loss = model(x, labels=labels, loss_fn=build_loss("plcc+rank")).loss
    loss.backward()
    expected_loss = release_loss(ref(x), labels)
    expected_loss.backward()
    assert abs(loss.item() - expected_loss.item()) <= 1e-5 * abs(expected_loss.item())

    # Our trainable tensors <- the release's names, written out here (not taken from the converter).
    tuner = "backbone.base_model"
    pairs = {f"{tuner}.scma_ffn.default.ffn.fc1.{k}": f"shared_core.0.{k}" for k in ("weight", "bias")}
    pairs.update({f"{tuner}.scma_ffn.default.ffn.fc2.{k}": f"shared_core.2.{k}" for k in ("weight", "bias")})
    for ours, theirs in (("down", "0"), ("mid", "1"), ("up", "3")):
        pairs.update({f"{tuner}.scma_slots.default.projection.{ours}.{k}": f"proj_adapter.{theirs}.{k}"
                      for k in ("weight", "bias")})
    for position in range(GEOMETRY["num_layers"] - START):
        for ours, theirs in (("down", "down_proj"), ("up", "up_proj"), ("norm", "ln")):
            pairs.update({f"{tuner}.scma_slots.default.layer{position}.{ours}.{k}":
                          f"encoder_adapters.{START + position}.{theirs}.{k}" for k in ("weight", "bias")})
    grads = {name: p.grad for name, p in model.named_parameters() if p.requires_grad}
    release_grads = {name: t.grad for name, t in ref.p.items() if t.requires_grad}
    compared = []
    for ours, theirs in pairs.items():
        compared.append((ours, grads[ours].double(), release_grads[theirs]))
    scales = grads[f"{tuner}.scma_scales.default.values"].double()
    for index, theirs in enumerate(("image_adapter_weight", "text_adapter_weight", "image_proj_adapter_weight",
                                    "text_proj_adapter_weight")):
        compared.append((theirs, scales[index], release_grads[theirs]))
    compared.append(("context", grads["prompt_learner.context"].double(), release_grads["context_tokens"][0]))
    compared.append(("head", grads["quality_head.proj.weight"].double()[0],
                     release_grads["score_proj"][:, 0].flip(0)))  # ours excellent -> bad
    assert len(compared) == len(grads) + 3  # every trainable tensor (the scale vector counted per entry)
    for name, ours, theirs in compared:
        error = (ours - theirs).norm() / theirs.norm().clamp_min(1e-12)
        assert error <= 1e-4, f"{name}: relative gradient error {error.item():.2e}"
    # The release's trainable count at this geometry: 2 adapters' Down/Up/LN, the FFN, P-SCMA, 4 scales, context,
    # score_proj — and no head bias.
    assert model.num_trainable_parameters() == sum(t.numel() for n, t in ref.p.items() if t.requires_grad
                                                    and not (n.startswith("encoder_adapters.")
                                                             and int(n.split(".")[1]) < START))


def test_converted_folder_loads_with_pipeline_and_processor(release, converted_dir):
    from transformers import pipeline

    from qclip_hf.models.qclip.video_processing_qclip import QClipVideoProcessor

    state, _ = release
    video = (np.random.default_rng(0).random((6, 48, 40, 3)) * 255).astype(np.uint8)
    scorer = pipeline("video-quality", model=str(converted_dir))
    result = scorer(video)
    processor = QClipVideoProcessor.from_pretrained(converted_dir)
    assert processor.size.height == processor.size.width == 32 and list(processor.image_mean) == [0.5, 0.5, 0.5]
    pixels = processor(video, return_tensors="pt")["pixel_values_videos"]
    with torch.no_grad():
        expected = reference(state)(pixels)
    assert abs(result["score"] - expected.item()) <= 1e-5


def test_converted_folder_records_validation_results_and_notes(converted_dir):
    record = json.loads((converted_dir / "release_validation_results.json").read_text())
    assert record["validation_results"] == VALIDATION and record["validation_set"] == "val"
    assert any("encoder_adapters.0..1 ignored" in note for note in record["notes"])
    card = (converted_dir / "README.md").read_text()
    assert "0.9123" in card and "qclip_tiny_val_best.pth" in card and "legacy_class_token_rope" in card
    config = json.loads((converted_dir / "config.json").read_text())
    assert config["backbone"] == "./backbone" and config["head_bias"] is False
    backbone_config = json.loads((converted_dir / "backbone" / "config.json").read_text())
    assert backbone_config["vision_config"]["legacy_class_token_rope"] is True


def test_convert_onto_named_backbone_checks_its_weights(release, geometry_dir, tmp_path):
    state, checkpoint = release
    same = save_tiny_pe_core_backbone(tmp_path / "same", **GEOMETRY)
    proc = convert(checkpoint, tmp_path / "out", "--backbone", str(same))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    model = QClipModel.from_pretrained(tmp_path / "out")
    assert model.config.backbone == str(same.resolve())  # a folder outside the model: absolute
    x = videos()
    with torch.no_grad():
        torch.testing.assert_close(model(x).scores.double(), reference(state)(x), atol=1e-5, rtol=0)
    proc = convert(checkpoint, tmp_path / "out2", "--backbone", str(geometry_dir))
    assert proc.returncode == 2 and "frozen PE weights differ from backbone" in proc.stderr
    assert "--save_backbone" in proc.stderr


def _write(path, state, results=VALIDATION):
    torch.save({"state_dict": state, "validation_results": results}, path)
    return path


@pytest.mark.parametrize("case, message", [
    ("missing", "missing key(s) [shared_core.0.weight, score_proj"),
    ("rank", "do not share one rank r=8"),
    ("layers", "encoder adapters for 3 layers but its backbone has 4 blocks"),
    ("not_release", "not a checkpoint of the Q-CLIP release"),
])
def test_converter_names_what_is_wrong(release, tmp_path, case, message):
    state = dict(release[0])
    if case == "missing":
        del state["shared_core.0.weight"], state["score_proj"]
    elif case == "rank":
        state["encoder_adapters.3.down_proj.weight"] = torch.zeros(4, GEOMETRY["width"])
    elif case == "layers":
        state = {k: v for k, v in state.items() if not k.startswith("encoder_adapters.3.")}
    else:
        state = {"visual.conv1.weight": torch.zeros(1)}
    proc = convert(_write(tmp_path / "bad.pth", state), tmp_path / "out")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


class Payload:  # a class: unpickling it would need code
    pass


def test_converter_refuses_pickled_code(tmp_path):
    path = tmp_path / "code.pth"
    torch.save({"state_dict": {"x": torch.zeros(1)}, "extra": Payload()}, path)
    proc = convert(path, tmp_path / "out")
    assert proc.returncode == 2 and "needs unpickling" in proc.stderr and "refused" in proc.stderr
    assert not (tmp_path / "out").exists()
