import numpy as np
import pytest

from qclip_hf.video.sampling import (
    SAMPLING_STRATEGIES,
    STRATEGY_NAMES,
    Mixed,
    MSESortedUNI,
    RandSampl,
    SegMSEMean,
    SegMSEMedian,
    UNIRandStart,
    UNISampl,
    get_sampling_strategy,
    short_video_indices,
)

# 16 frames, 4 segments of 4: still, a rise, a burst, a small bump then still.
MOTION = np.array([0, 0, 0, 0, 0, 0, 2, 10, 8, 12, 9, 11, 3, 0, 0, 0], dtype=float)


def test_seven_strategies_registered():
    assert STRATEGY_NAMES == (
        "RandSampl",
        "UNISampl",
        "UNIRandStart",
        "MSESortedUNI",
        "SegMSEMean",
        "SegMSEMedian",
        "Mixed",
    )
    for name, fn in SAMPLING_STRATEGIES.items():
        assert fn.__doc__ and fn.__name__ == name
    assert isinstance(get_sampling_strategy("mixed"), Mixed)
    assert get_sampling_strategy("segmsemedian") is SegMSEMedian


def test_unknown_strategy_lists_allowed():
    with pytest.raises(ValueError, match="allowed: .*UNISampl"):
        get_sampling_strategy("Uniform")
    with pytest.raises(ValueError, match="only apply to the 'Mixed'"):
        get_sampling_strategy("UNISampl", weights=[1])


def test_unisampl_is_reference_linspace():
    assert UNISampl(16, 4).tolist() == [0, 5, 10, 15]
    assert UNISampl(300, 8).tolist() == [0, 43, 85, 128, 171, 214, 256, 299]


def test_msesorteduni_hand_computed():
    # stable ranking: zeros 0-5,13-15 | 6(2) 12(3) 8(8) 10(9) 7(10) 11(11) 9(12); ranks 0,5,10,15 -> 0,5,12,9
    assert MSESortedUNI(16, 4, motion=MOTION).tolist() == [0, 5, 9, 12]


def test_segmsemean_hand_computed():
    # segment means 0, 3, 10, 0.75 -> closest frames 0, 6 (value 2), 10 (value 9, first of the 9/11 tie), 13
    assert SegMSEMean(16, 4, motion=MOTION).tolist() == [0, 6, 10, 13]


def test_segmsemedian_hand_computed():
    # lower median element of each segment's stable ranking
    assert SegMSEMedian(16, 4, motion=MOTION).tolist() == [1, 5, 10, 14]


def test_mse_strategies_differ_from_uniform_and_keep_extremes():
    uniform = set(UNISampl(16, 4).tolist())
    for fn in (MSESortedUNI, SegMSEMean, SegMSEMedian):
        assert set(fn(16, 4, motion=MOTION).tolist()) != uniform
    picks = MSESortedUNI(16, 4, motion=MOTION)
    assert int(np.argmax(MOTION)) in picks  # the most agitated frame is always chosen
    assert MOTION[picks].min() == 0  # and a still one


def test_unirandstart_uniform_stride_random_phase():
    seen = set()
    for seed in range(20):
        picks = UNIRandStart(16, 4, rng=seed)
        assert np.all(np.diff(picks) == 4)  # stride 16/4 exactly, one offset for all
        assert 0 <= picks[0] < 4
        seen.add(picks[0])
    assert len(seen) > 1
    assert UNIRandStart(16, 4, rng=7).tolist() == UNIRandStart(16, 4, rng=7).tolist()


def test_randsampl_distinct_sorted_deterministic_per_seed():
    a = RandSampl(100, 8, rng=3)
    assert len(set(a.tolist())) == 8 and np.all(np.diff(a) > 0)
    assert a.tolist() == RandSampl(100, 8, rng=3).tolist()
    assert a.tolist() != RandSampl(100, 8, rng=4).tolist()
    assert RandSampl(100, 8).tolist() == RandSampl(100, 8).tolist()  # rng=None is a fixed seed (eval)


@pytest.mark.parametrize("name", list(SAMPLING_STRATEGIES))
def test_short_video_rule(name):
    fn = SAMPLING_STRATEGIES[name]
    # the release's round(linspace(0, n - 1, k)); 5 -> 8: 0, .57, 1.14, 1.71, 2.29, 2.86, 3.43, 4
    assert fn(3, 8, motion=[1.0, 2.0, 3.0], rng=0).tolist() == [0, 0, 1, 1, 1, 1, 2, 2]
    assert fn(1, 4, motion=[0.0], rng=0).tolist() == [0, 0, 0, 0]
    assert short_video_indices(5, 8).tolist() == [0, 1, 1, 2, 2, 3, 3, 4]


@pytest.mark.parametrize("name", list(SAMPLING_STRATEGIES))
def test_contract_range_sorted_length(name):
    fn = SAMPLING_STRATEGIES[name]
    motion = np.random.default_rng(0).random(97)
    for k in (1, 8, 97):
        picks = fn(97, k, motion=motion, rng=1)
        assert picks.dtype == np.int64 and picks.shape == (k,)
        assert picks.min() >= 0 and picks.max() < 97 and np.all(np.diff(picks) >= 0)


def test_motion_validation():
    with pytest.raises(ValueError, match="needs the motion profile"):
        SegMSEMean(16, 4)
    with pytest.raises(ValueError, match="has 3 values but the video has 16"):
        MSESortedUNI(16, 4, motion=[1, 2, 3])
    with pytest.raises(ValueError, match="non-finite"):
        SegMSEMedian(2, 1, motion=[0.0, float("nan")])
    with pytest.raises(ValueError, match="num_samples must be a positive int"):
        UNISampl(10, 0)


def test_mixed_draws_per_sample_and_is_fixed_in_eval():
    mixed = Mixed(["RandSampl", "SegMSEMedian"], weights=[1, 3], eval_strategy="UNISampl")
    assert mixed.requires_motion
    rng = np.random.default_rng(0)
    drawn = [mixed.choose(rng, training=True).__name__ for _ in range(400)]
    assert set(drawn) == {"RandSampl", "SegMSEMedian"}
    assert 0.65 < drawn.count("SegMSEMedian") / 400 < 0.85
    assert mixed(16, 4, motion=MOTION, training=False).tolist() == [0, 5, 10, 15]
    assert mixed(16, 4, motion=MOTION, rng=5).tolist() == mixed(16, 4, motion=MOTION, rng=5).tolist()
    assert not Mixed(["RandSampl", "UNIRandStart"]).requires_motion


def test_mixed_validation():
    with pytest.raises(ValueError, match="unknown strategy 'Foo'"):
        Mixed(["Foo"])
    with pytest.raises(ValueError, match="non-negative numbers"):
        Mixed(["RandSampl"], weights=[-1])
    with pytest.raises(ValueError, match="must not be empty"):
        Mixed([])
