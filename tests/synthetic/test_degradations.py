import numpy as np
import pytest

from qclip_hf.synthetic.degradations import (
    DEGRADATIONS,
    IMPACT,
    REFERENCE_CRF,
    Degradation,
    apply_degradation,
    degradation_ladder,
    mos_for,
)


def test_ladder_parameters():
    ladder = degradation_ladder(DEGRADATIONS, levels=3, size=64)
    assert ladder[0] == Degradation("none", 0, 0.0, float(REFERENCE_CRF))
    assert len(ladder) == 16
    params = {name: [d.parameter for d in ladder if d.name == name] for name in DEGRADATIONS}
    assert params["crf"] == [29.0, 40.0, 51.0]
    assert params["stutter"] == [2.0, 3.0, 4.0]
    for values in params.values():
        assert values == sorted(values) and len(set(values)) == 3
    assert [d.crf for d in ladder if d.name == "blur"] == [REFERENCE_CRF] * 3


def test_mos_formula():
    assert mos_for("none", 0.0) == 5.0
    for name, impact in IMPACT.items():
        assert mos_for(name, 1.0) == pytest.approx(5 - 4 * impact)
    with pytest.raises(ValueError, match="allowed"):
        mos_for("jpeg", 0.5)


def test_apply_keeps_shape_and_dtype():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(6, 16, 16, 3), dtype=np.uint8)
    for degradation in degradation_ladder(DEGRADATIONS, levels=2, size=16):
        out = apply_degradation(frames, degradation, np.random.default_rng(1))
        assert out.shape == frames.shape and out.dtype == np.uint8


@pytest.mark.parametrize("levels", [0, 6, 2.5])
def test_levels_are_validated(levels):
    with pytest.raises(ValueError, match="levels"):
        degradation_ladder(DEGRADATIONS, levels=levels, size=64)


def test_degradation_names_are_validated():
    with pytest.raises(ValueError, match="distinct"):
        degradation_ladder(("blur", "blur"), levels=2, size=64)
