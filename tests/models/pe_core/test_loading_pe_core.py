"""Loading a saved PE-Core: no random initialisation of weights that are then overwritten, every buffer set, and the
on-disk layout (separate q/k/v projections, which `from_pretrained` fuses) readable by earlier versions."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from qclip_hf.models.pe_core import PECoreModel

RANDOM_FILLS = ("normal_", "uniform_", "random_", "bernoulli_", "exponential_", "cauchy_", "log_normal_",
                "geometric_")


@pytest.fixture(scope="module")
def saved(tiny_config, tmp_path_factory):
    torch.manual_seed(0)
    model = PECoreModel(tiny_config()).eval()
    path = tmp_path_factory.mktemp("pe_core") / "model"
    model.save_pretrained(path)
    return model, path


def test_from_pretrained_draws_no_random_weights(saved, monkeypatch):
    _, path = saved
    drawn = []
    for name in RANDOM_FILLS:
        original = getattr(torch.Tensor, name)

        def record(self, *args, _original=original, _name=name, **kwargs):
            if not self.is_meta:  # filling a meta tensor costs nothing
                drawn.append((_name, tuple(self.shape)))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, record)
    loaded = PECoreModel.from_pretrained(path)
    assert drawn == []
    assert not any(t.is_meta for t in [*loaded.parameters(), *loaded.buffers()])


def test_every_buffer_is_set_after_from_pretrained(saved):
    model, path = saved
    loaded = PECoreModel.from_pretrained(path)
    buffers = dict(model.named_buffers())
    assert set(buffers) == {"vision_model.rotary_emb.cos", "vision_model.rotary_emb.sin"}
    for name, buffer in loaded.named_buffers():
        torch.testing.assert_close(buffer, buffers[name], rtol=0, atol=0, msg=name)


def test_saved_layout_keeps_separate_qkv_and_reloads_exactly(saved):
    model, path = saved
    keys = set(load_file(str(path / "model.safetensors")))
    assert "vision_model.encoder.layers.0.self_attn.q_proj.weight" in keys and not any(".qkv." in k for k in keys)
    loaded = PECoreModel.from_pretrained(path)
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], tensor, rtol=0, atol=0, msg=name)
