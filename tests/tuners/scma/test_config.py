"""SCMAConfig validation and serialisation."""

from __future__ import annotations

import pytest
from peft import PeftConfig

import qclip_hf  # noqa: F401
from qclip_hf.tuners.scma import SCMAConfig


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("r", 0, "positive int"),
        ("r", 2.5, "positive int"),
        ("layers", 0, ">= 1"),
        ("layers", [], "non-empty list"),
        ("layers", [1, 1], "twice"),
        ("layers", "last", "positive int or a list"),
        ("towers", "audio", r"allowed values: \['both', 'vision', 'text'\]"),
        ("placement", "sideways", r"\['serial', 'parallel'\]"),
        ("projection_adapter_style", "x", r"\['reference', 'paper'\]"),
        ("scale_granularity", "block", r"\['tower', 'layer'\]"),
        ("share_across_towers", "yes", "must be a bool"),
        ("scale_init", "0.1", "must be a number"),
    ],
)
def test_invalid_values_raise_naming_the_field(field, value, message):
    with pytest.raises(ValueError, match=rf"SCMAConfig\.{field}") as error:
        SCMAConfig(**{field: value})
    assert error.match(message)


def test_round_trip_through_peft_config(tmp_path):
    config = SCMAConfig(r=16, layers=[0, -1], placement="parallel", scale_granularity="layer")
    config.save_pretrained(tmp_path)
    loaded = PeftConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, SCMAConfig)
    assert (loaded.peft_type, loaded.r, loaded.layers, loaded.placement) == ("SCMA", 16, [0, -1], "parallel")


def test_block_indices():
    assert SCMAConfig(layers=3).block_indices(8, "vision") == [5, 6, 7]
    assert SCMAConfig(layers=[0, -1]).block_indices(8, "text") == [0, 7]
