"""PECoreModel: shapes, the block interface tuners rely on, text masking/padding, save/load and Auto classes."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import AutoConfig, AutoModel

from qclip_hf.models.pe_core import PECoreConfig, PECoreModel, register_pe_core_auto_classes
from qclip_hf.models.pe_core.modeling_pe_core import PECoreEncoderLayer

EOT = 49407


@pytest.fixture(scope="module")
def model(tiny_config):
    torch.manual_seed(0)
    return PECoreModel(tiny_config()).eval()


def _ids(rows: list[list[int]], length: int = 12, pad: int = EOT) -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.full((len(rows), length), pad)
    mask = torch.zeros(len(rows), length, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    return ids, mask


PROMPTS = [[49406, 320, 1400, 539, 886, 3027, EOT], [49406, 2103, EOT]]


def test_feature_shapes(model):
    config = model.config
    image = model.get_image_features(pixel_values=torch.randn(3, 3, 32, 32), output_hidden_states=True)
    assert image.pooler_output.shape == (3, config.projection_dim)
    assert image.last_hidden_state.shape == (3, 1 + 16, config.vision_config.hidden_size)
    assert len(image.hidden_states) == config.vision_config.num_hidden_layers + 1
    ids, mask = _ids(PROMPTS)
    text = model.get_text_features(input_ids=ids, attention_mask=mask)
    assert text.pooler_output.shape == (2, config.projection_dim)
    assert text.last_hidden_state.shape == (2, 12, config.text_config.hidden_size)


def test_blocks_are_module_lists_returning_tensors(model):
    for tower in (model.vision_model, model.text_model):
        layers = tower.encoder.layers
        assert isinstance(layers, nn.ModuleList) and all(isinstance(b, PECoreEncoderLayer) for b in layers)
        hidden = torch.randn(2, 5, layers[0].layer_norm1.normalized_shape[0])
        out = layers[0](hidden)
        assert isinstance(out, torch.Tensor) and out.shape == hidden.shape


def test_encoder_accepts_blocks_returning_tuples(model):
    class TupleBlock(nn.Module):
        def __init__(self, block):
            super().__init__()
            self.block = block

        def forward(self, hidden_states, **kwargs):
            return (self.block(hidden_states, **kwargs), None)

    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = model.get_image_features(pixel_values=pixels).pooler_output
        layers = model.vision_model.encoder.layers
        original = list(layers)
        try:
            for i, block in enumerate(original):
                layers[i] = TupleBlock(block)
            got = model.get_image_features(pixel_values=pixels).pooler_output
        finally:
            for i, block in enumerate(original):
                layers[i] = block
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_text_pools_first_eot_whatever_padding(model):
    ids_eot, mask = _ids(PROMPTS, pad=EOT)
    ids_zero, _ = _ids(PROMPTS, pad=0)
    with torch.no_grad():
        a = model.get_text_features(input_ids=ids_eot, attention_mask=mask).pooler_output
        b = model.get_text_features(input_ids=ids_zero).pooler_output
        c = model.get_text_features(input_ids=ids_eot).pooler_output
        single = model.get_text_features(input_ids=torch.tensor([PROMPTS[1]])).pooler_output
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a, c, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a[1:], single, rtol=1e-5, atol=1e-6)


def test_text_is_causal(model):
    ids, _ = _ids(PROMPTS)
    changed = ids.clone()
    changed[0, 3] = 2000  # after position 2: the first three hidden states must not move
    with torch.no_grad():
        a = model.text_model(input_ids=ids).last_hidden_state
        b = model.text_model(input_ids=changed).last_hidden_state
    torch.testing.assert_close(a[0, :3], b[0, :3], rtol=0, atol=1e-6)
    assert not torch.allclose(a[0, 3:], b[0, 3:])


def test_inputs_embeds_replace_token_lookup(model):
    ids, mask = _ids(PROMPTS)
    embeds = model.get_input_embeddings()(ids)
    with torch.no_grad():
        a = model.get_text_features(input_ids=ids, attention_mask=mask).pooler_output
        b = model.get_text_features(input_ids=ids, attention_mask=mask, inputs_embeds=embeds).pooler_output
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_input_validation(model):
    with pytest.raises(ValueError, match="image_size"):
        model.get_image_features(pixel_values=torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match="max_position_embeddings=32"):
        model.get_text_features(input_ids=torch.zeros(1, 40, dtype=torch.long))
    with pytest.raises(ValueError, match="input_ids is required"):
        model.text_model(input_ids=None, inputs_embeds=torch.randn(1, 4, 32))


def test_forward_logits_and_loss(model):
    ids, mask = _ids(PROMPTS)
    out = model(input_ids=ids, pixel_values=torch.randn(2, 3, 32, 32), attention_mask=mask, return_loss=True)
    assert out.logits_per_image.shape == (2, 2) and out.loss.ndim == 0
    torch.testing.assert_close(out.image_embeds.norm(dim=-1), torch.ones(2))


def test_save_and_from_pretrained_give_identical_embeddings(model, tmp_path):
    model.save_pretrained(tmp_path)
    loaded = PECoreModel.from_pretrained(tmp_path).eval()
    pixels = torch.randn(2, 3, 32, 32)
    ids, mask = _ids(PROMPTS)
    with torch.no_grad():
        for a, b in [
            (model.get_image_features(pixel_values=pixels), loaded.get_image_features(pixel_values=pixels)),
            (model.get_text_features(ids, mask), loaded.get_text_features(ids, mask)),
        ]:
            torch.testing.assert_close(a.pooler_output, b.pooler_output, rtol=0, atol=0)


def test_auto_classes(model, tmp_path):
    register_pe_core_auto_classes()
    register_pe_core_auto_classes()  # idempotent
    model.save_pretrained(tmp_path)
    assert type(AutoConfig.from_pretrained(tmp_path)).__name__ == "PECoreConfig"
    assert isinstance(AutoModel.from_pretrained(tmp_path), PECoreModel)


def test_paper_geometry_builds_on_meta_device():
    with torch.device("meta"):
        big = PECoreModel(PECoreConfig.from_preset("PE-Core-L14-336"))
    assert sum(p.numel() for p in big.parameters()) == 671_138_817  # open_clip's PE-Core-L-14-336 count
    assert len(big.vision_model.encoder.layers) == len(big.text_model.encoder.layers) == 24


def test_gradient_checkpointing_matches(model):
    ids, _ = _ids(PROMPTS)
    copy = PECoreModel(model.config)
    copy.load_state_dict(model.state_dict())
    copy.train().activation_checkpointing_enable()
    out = copy.get_text_features(input_ids=ids).pooler_output
    out.sum().backward()
    assert copy.text_model.encoder.layers[0].mlp.fc1.weight.grad is not None
    with torch.no_grad():
        torch.testing.assert_close(out, model.get_text_features(input_ids=ids).pooler_output, rtol=1e-5, atol=1e-6)


def test_new_model_follows_the_documented_initialisation(tiny_config, monkeypatch):
    # Construction skips torch's default `reset_parameters`: every parameter must still be set by `_init_weights`.
    # Uninitialised memory is made NaN so that a parameter nobody initialises cannot pass by luck.
    real_empty = torch.empty
    monkeypatch.setattr(torch, "empty", lambda *args, **kwargs: real_empty(*args, **kwargs).fill_(float("nan")))
    config = tiny_config()
    model = PECoreModel(config)
    monkeypatch.undo()
    vision_width = config.vision_config.hidden_size
    for name, param in model.named_parameters():
        assert torch.isfinite(param).all(), f"{name} was not initialised"
        leaf = name.rsplit(".", 1)[-1]
        if "layer_norm" in name or "layernorm" in name:
            assert torch.equal(param, torch.ones_like(param) if leaf == "weight" else torch.zeros_like(param)), name
        elif leaf == "bias":
            assert torch.equal(param, torch.zeros_like(param)), name
        elif "layer_scale" in name:
            assert torch.equal(param, torch.full_like(param, config.vision_config.layer_scale_init_value)), name
        elif name == "logit_scale":
            assert param.item() == pytest.approx(config.logit_scale_init_value)
        elif param.numel() >= 500:  # enough values to estimate a standard deviation within a few percent
            if name.startswith("vision_model.embeddings.") and "position" in name:
                std = vision_width**-0.5
            elif name == "text_model.embeddings.position_embedding":
                std = 0.01
            else:  # linear and convolution weights, the token embedding
                std = 0.02
            assert abs(param.mean().item()) < 0.2 * std, name
            assert param.std().item() == pytest.approx(std, rel=0.15), name
