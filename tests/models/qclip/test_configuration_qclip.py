"""QClipConfig validation, presets and serialisation."""

from __future__ import annotations

import pytest
from transformers import AutoConfig

import qclip_hf  # noqa: F401
from qclip_hf import QClipConfig
from qclip_hf.models.qclip.configuration_qclip import DEFAULT_BACKBONE


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_frames=0), r"QClipConfig\.num_frames=0 must be a positive int"),
        (dict(num_frames=True), r"QClipConfig\.num_frames"),
        (dict(prompt_scheme="three_level"), r"QClipConfig\.prompt_scheme='three_level'.*\['five_level', 'antonym'\]"),
        (dict(prompt_template="a video of quality"), r"QClipConfig\.prompt_template"),
        (dict(num_context_tokens=-1), r"QClipConfig\.num_context_tokens"),
        (dict(context_init="  "), r"QClipConfig\.context_init"),
        (dict(frame_pooling="median"), r"QClipConfig\.frame_pooling='median'.*\['mean', 'max'\]"),
        (dict(head_init_std=0), r"QClipConfig\.head_init_std"),
        (dict(use_adapter="yes"), r"QClipConfig\.use_adapter"),
        (dict(quality_head="mlp"), r"QClipConfig\.quality_head=.mlp.*\[.linear., .expected_level.\]"),
        (dict(scma_config={"rank": 8}), r"QClipConfig\.scma_config has unknown keys \['rank'\]"),
        (dict(scma_config={"placement": "inside"}), r"SCMAConfig\.placement='inside'.*\['serial', 'parallel'\]"),
        (dict(scma_config=[1]), r"QClipConfig\.scma_config must be a dict"),
        (dict(backbone=""), r"QClipConfig\.backbone"),
        (dict(backbone="x/y", backbone_config={"model_type": "clip"}), r"both backbone='x/y' and backbone_config"),
        (dict(backbone_config={"hidden_size": 4}), r"backbone_config needs a 'model_type'"),
        (dict(backbone_config=3), r"backbone_config must be a dict or a PretrainedConfig"),
        (dict(head_bias="no"), r"QClipConfig\.head_bias='no' must be a bool"),
        (dict(backbone_config_overrides=[1]), r"QClipConfig\.backbone_config_overrides=\[1\] must be a dict"),
    ],
)
def test_invalid_values_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        QClipConfig(**kwargs)


def test_defaults_and_prompts():
    config = QClipConfig()
    assert config.backbone == DEFAULT_BACKBONE and config.num_frames == 8
    assert config.prompts()[0] == "X X X a video of excellent quality"
    assert config.scma_config["r"] == 128 and config.scma_config["placement"] == "serial"
    assert QClipConfig(num_context_tokens=0).prompts()[-1] == "a video of bad quality"
    assert QClipConfig(prompt_scheme="antonym").level_names == ("good", "bad")


def test_presets_and_overrides():
    paper = QClipConfig.from_preset("paper", scma_config={"layers": 4})
    assert (paper.scma_config["r"], paper.scma_config["layers"], paper.scma_config["placement"]) == (8, 4, "parallel")
    assert QClipConfig.from_preset("zero_shot").get_scma_config() is None
    with pytest.raises(ValueError, match=r"Unknown Q-CLIP preset 'best'; allowed: \['paper', 'reference', 'zero_shot'\]"):
        QClipConfig.from_preset("best")


def test_round_trip(tmp_path):
    config = QClipConfig(backbone_config={"model_type": "clip", "projection_dim": 16}, tokenizer="tok",
                         scma_config={"r": 4, "layers": [0, -1]})
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, QClipConfig)
    assert loaded.backbone is None and loaded.backbone_config.projection_dim == 16
    assert loaded.scma_config == config.scma_config and loaded.get_scma_config().layers == [0, -1]


def test_head_bias_defaults_and_presets():
    # A bare config keeps the biased head (models saved before the field existed); both presets follow the paper's
    # equation and the release's `similarities @ score_proj`: no bias.
    assert QClipConfig().head_bias is True
    assert QClipConfig.from_preset("reference").head_bias is False
    assert QClipConfig.from_preset("paper").head_bias is False
    assert QClipConfig.from_preset("reference", head_bias=True).head_bias is True


def test_backbone_config_overrides_apply_and_name_unknown_fields():
    from qclip_hf.models.pe_core import PECoreConfig

    config = QClipConfig(backbone_config_overrides={"vision_config": {"legacy_class_token_rope": True}})
    backbone = config.apply_backbone_overrides(PECoreConfig.from_preset("PE-Core-L14-336"))
    assert backbone.vision_config.legacy_class_token_rope is True
    bad = QClipConfig(backbone_config_overrides={"vision_config": {"legacy_rope": True}})
    with pytest.raises(ValueError, match=r"sets vision_config\.legacy_rope, which the backbone's PECoreVisionConfig"):
        bad.apply_backbone_overrides(PECoreConfig.from_preset("PE-Core-L14-336"))
