"""The vision tower's rotary table in both class-token layouts, pinned against tables written out by hand.

Geometry: 16 px images of 8 px patches (a 2 x 2 grid), a class token, head width 8 (two frequency bands per axis),
rope_theta 100, so the bands are 1 and 100 ** -0.5 = 0.1 and every angle below is readable.
Channel layout per head: [x*b0, x*b0, x*b1, x*b1, y*b0, y*b0, y*b1, y*b1] (interleaved pairs, x first); patch p sits
at column x = p % 2 + 1 and row y = p // 2 + 1 (grid offset 1).
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from qclip_hf.models.pe_core import PECoreConfig, PECoreModel, PECoreVisionConfig

P0 = [1.0, 1.0, 0.1, 0.1, 1.0, 1.0, 0.1, 0.1]  # x=1, y=1
P1 = [2.0, 2.0, 0.2, 0.2, 1.0, 1.0, 0.1, 0.1]  # x=2, y=1
P2 = [1.0, 1.0, 0.1, 0.1, 2.0, 2.0, 0.2, 0.2]  # x=1, y=2
P3 = [2.0, 2.0, 0.2, 0.2, 2.0, 2.0, 0.2, 0.2]  # x=2, y=2
ZERO = [0.0] * 8
# Row i = angles applied to sequence position i (position 0 is the class token).
FIXED_TABLE = [ZERO, P0, P1, P2, P3]  # Meta's current code, timm, open_clip
LEGACY_TABLE = [P0, P1, P2, P3, ZERO]  # Meta's code before "Fix Rope bug when using cls token", vendored by Q-CLIP


def _vision_config(legacy: bool) -> dict:
    return dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=16,
                patch_size=8, rope_theta=100.0, pooling_num_attention_heads=2, pooling_intermediate_size=32,
                legacy_class_token_rope=legacy)


def _model(legacy: bool, seed: int = 0) -> PECoreModel:
    config = PECoreConfig(
        vision_config=_vision_config(legacy),
        text_config=dict(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=8, pad_token_id=63, bos_token_id=62,
                         eos_token_id=63),
        projection_dim=8,
    )
    torch.manual_seed(seed)
    model = PECoreModel(config).eval()
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for tensor in model.parameters():
            tensor.add_(0.5 * torch.randn(tensor.shape, generator=generator))
    return model


@pytest.mark.parametrize("legacy, table", [(False, FIXED_TABLE), (True, LEGACY_TABLE)], ids=["fixed", "legacy"])
def test_rotary_table_matches_hand_written_angles(legacy, table):
    rotary = _model(legacy).vision_model.rotary_emb(torch.device("cpu"))
    cos, sin, rotation = rotary.cos, rotary.sin, rotary.rotation
    expected_cos = torch.tensor([[math.cos(a) for a in row] for row in table])
    expected_sin = torch.tensor([[math.sin(a) for a in row] for row in table])
    torch.testing.assert_close(cos, expected_cos, rtol=0, atol=1e-6)
    torch.testing.assert_close(sin, expected_sin, rtol=0, atol=1e-6)
    # One complex factor per channel pair (the pair's shared angle).
    expected_rotation = torch.tensor([[complex(math.cos(a), math.sin(a)) for a in row[::2]] for row in table])
    torch.testing.assert_close(rotation, expected_rotation.to(torch.complex64), rtol=0, atol=1e-6)


def _reference_attention(attention, x: torch.Tensor, table: list[list[float]]) -> torch.Tensor:
    """Self-attention written out: per-pair rotations with `math`, softmax over scaled dot products."""
    width, heads = x.shape[-1], attention.num_heads
    head_dim = width // heads
    q, k, v = torch.nn.functional.linear(x, attention.qkv.weight, attention.qkv.bias).double().split(width, dim=-1)

    def rotate(t: torch.Tensor) -> torch.Tensor:
        out = t.clone()
        for pos, row in enumerate(table):
            for h in range(heads):
                for pair in range(head_dim // 2):
                    c = h * head_dim + 2 * pair
                    angle = row[2 * pair]
                    a, b = t[:, pos, c], t[:, pos, c + 1]
                    out[:, pos, c] = a * math.cos(angle) - b * math.sin(angle)
                    out[:, pos, c + 1] = b * math.cos(angle) + a * math.sin(angle)
        return out

    q, k = rotate(q), rotate(k)
    split = lambda t: t.unflatten(-1, (heads, head_dim)).transpose(1, 2)  # noqa: E731
    scores = split(q) @ split(k).transpose(-1, -2) / math.sqrt(head_dim)
    out = (scores.softmax(-1) @ split(v)).transpose(1, 2).flatten(2)
    return torch.nn.functional.linear(out.float(), attention.out_proj.weight, attention.out_proj.bias)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
@pytest.mark.parametrize("legacy, table", [(False, FIXED_TABLE), (True, LEGACY_TABLE)], ids=["fixed", "legacy"])
def test_block_attention_rotates_queries_and_keys_as_written(legacy, table, dtype):
    # float32 rotates through complex multiplication, bfloat16 through cos/sin: both must follow the table.
    model = _model(legacy)
    x = torch.randn(2, 5, 16, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = _reference_attention(model.vision_model.encoder.layers[0].self_attn, x, table)
        model.to(dtype)
        got = model.vision_model.encoder.layers[0].self_attn(
            x.to(dtype), rotary_embeddings=model.vision_model.rotary_emb(x.device))
    # bfloat16 keeps 8 bits of mantissa: allow 2% of the output's scale (a wrong table is off by about its scale).
    tolerance = 1e-5 if dtype == torch.float32 else 0.02 * expected.abs().max().item()
    torch.testing.assert_close(got.float(), expected, rtol=0, atol=tolerance)


def test_layouts_differ_and_default_is_fixed():
    assert PECoreVisionConfig().legacy_class_token_rope is False
    fixed, legacy = _model(False), _model(True)
    legacy.load_state_dict(fixed.state_dict())  # identical weights, only the layout differs
    pixels = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        a = fixed.get_image_features(pixel_values=pixels).pooler_output
        b = legacy.get_image_features(pixel_values=pixels).pooler_output
    assert (a - b).abs().max() > 1e-3 * a.abs().max()


def test_switch_is_saved_and_reloaded(tmp_path):
    model = _model(True)
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["vision_config"]["legacy_class_token_rope"] is True
    loaded = PECoreModel.from_pretrained(tmp_path).eval()
    assert loaded.config.vision_config.legacy_class_token_rope is True
    # The table is a non-persistent buffer: from_pretrained (built on the meta device) must recompute it.
    for got, expected in zip(loaded.vision_model.rotary_emb(), model.vision_model.rotary_emb(), strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    pixels = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        # Not bit-exact: loaded weights may sit unaligned in the memory-mapped file, so BLAS may round differently.
        torch.testing.assert_close(loaded.get_image_features(pixel_values=pixels).pooler_output,
                                   model.get_image_features(pixel_values=pixels).pooler_output, rtol=0, atol=1e-5)


def test_meta_built_model_given_weights_computes_its_table():
    model = _model(True)
    with torch.device("meta"):
        skeleton = PECoreModel(model.config)
    skeleton.load_state_dict(model.state_dict(), assign=True)
    pixels = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(skeleton.eval().get_image_features(pixel_values=pixels).pooler_output,
                                   model.get_image_features(pixel_values=pixels).pooler_output, rtol=0, atol=0)


def test_legacy_layout_needs_a_class_token():
    with pytest.raises(ValueError, match="legacy_class_token_rope=True needs use_class_token=True"):
        PECoreVisionConfig(use_class_token=False, rope_grid_offset=0.0, legacy_class_token_rope=True)


def test_complex_rotation_has_the_gradients_of_the_cos_sin_formula():
    from qclip_hf.models.pe_core.rotary_pe_core import apply_rotary_embeddings, apply_rotary_table

    table = _model(True).vision_model.rotary_emb()
    x = torch.randn(2, 2, 5, 8, dtype=torch.float32, requires_grad=True)
    weights = torch.randn(2, 2, 5, 8)
    (apply_rotary_table(x, table) * weights).sum().backward()
    complex_grad, x.grad = x.grad, None
    (apply_rotary_embeddings(x, table.cos, table.sin) * weights).sum().backward()
    torch.testing.assert_close(complex_grad, x.grad, rtol=0, atol=1e-6)


def test_vision_tower_with_activation_checkpointing_matches():
    model = _model(True).train()
    pixels = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    out = model.get_image_features(pixel_values=pixels).pooler_output
    out.sum().backward()
    grad = model.vision_model.encoder.layers[0].self_attn.qkv.weight.grad.clone()
    model.zero_grad()
    model.activation_checkpointing_enable()
    again = model.get_image_features(pixel_values=pixels).pooler_output
    again.sum().backward()
    torch.testing.assert_close(again, out, rtol=0, atol=0)
    torch.testing.assert_close(model.vision_model.encoder.layers[0].self_attn.qkv.weight.grad, grad, rtol=0, atol=0)


def test_table_stays_exact_float32_in_a_bfloat16_model():
    model = _model(True)
    exact = model.vision_model.rotary_emb()
    model.to(torch.bfloat16)
    table = model.vision_model.rotary_emb()
    assert table.cos.dtype == table.sin.dtype == torch.float32
    torch.testing.assert_close(table.cos, exact.cos, rtol=0, atol=0)
    torch.testing.assert_close(table.rotation, exact.rotation, rtol=0, atol=0)
    pixels = torch.randn(1, 3, 16, 16, dtype=torch.bfloat16)
    with torch.no_grad():
        assert model.get_image_features(pixel_values=pixels).pooler_output.dtype == torch.bfloat16


@pytest.mark.parametrize("rotate", [True, False], ids=["vision-rotated", "text-plain"])
@pytest.mark.parametrize("used", [(0, 1, 2), (0,), (2,)], ids=["qkv", "q-only", "v-only"])
def test_split_rotate_qkv_matches_slicing_in_values_and_gradients(rotate, used):
    # The fused split's hand-written backward against autograd through slices and the table rotation, in float64.
    from qclip_hf.models.pe_core.rotary_pe_core import RotaryTable, apply_rotary_table, split_rotate_qkv

    table = _model(True).vision_model.rotary_emb()  # 5 positions, head width 8, 2 heads
    table = RotaryTable(table.cos.double(), table.sin.double(), table.rotation.to(torch.complex128))
    qkv = torch.randn(3, 5, 3 * 16, dtype=torch.float64, requires_grad=True)
    weights = [torch.randn(3, 2, 5, 8, dtype=torch.float64) for _ in range(3)]

    parts = qkv.unflatten(-1, (3, 2, 8)).permute(2, 0, 3, 1, 4)
    expected = [apply_rotary_table(parts[0], table), apply_rotary_table(parts[1], table), parts[2]] if rotate \
        else list(parts.unbind(0))
    got = split_rotate_qkv(qkv, 2, table if rotate else None)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    expected_grad, = torch.autograd.grad(sum((expected[i] * weights[i]).sum() for i in used), qkv)
    got_grad, = torch.autograd.grad(sum((got[i] * weights[i]).sum() for i in used), qkv)
    torch.testing.assert_close(got_grad, expected_grad, rtol=0, atol=1e-12)
    assert torch.autograd.gradcheck(lambda x: split_rotate_qkv(x, 2, table if rotate else None), (qkv,))
