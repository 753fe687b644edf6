import csv
import hashlib
import json

import av
import numpy as np
import pytest

pytest.importorskip("skimage")

from qclip_hf.synthetic import DEGRADATIONS, METADATA_COLUMNS, generate_quality_dataset  # noqa: E402
from qclip_hf.synthetic.__main__ import main  # noqa: E402

SMALL = {
    "num_sources": 3,
    "levels": 2,
    "size": 32,
    "fps": 10,
    "seconds": 0.8,
    "seed": 3,
    "test_sources": 1,
    "progress": False,
}
VARIANTS = 1 + 2 * len(DEGRADATIONS)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return generate_quality_dataset(tmp_path_factory.mktemp("synthetic") / "vqa", **SMALL)


def _rows(root, split):
    with (root / split / "metadata.csv").open() as handle:
        return list(csv.DictReader(handle))


def _decode(path):
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def _digest(root):
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_layout(root):
    train, test = _rows(root, "train"), _rows(root, "test")
    assert tuple(train[0]) == METADATA_COLUMNS
    assert len(train) == 2 * VARIANTS and len(test) == VARIANTS
    assert {r["source"] for r in train}.isdisjoint({r["source"] for r in test})
    for split, rows in (("train", train), ("test", test)):
        for row in rows:
            assert (root / split / row["file_name"]).is_file()
    config = json.loads((root / "generation_config.json").read_text())
    assert config["num_frames"] == 8 and config["levels"] == 2
    assert "mos = 5 - 4 * impact" in (root / "README.md").read_text()


def test_labels_fall_with_the_level(root):
    rows = _rows(root, "train") + _rows(root, "test")
    for source in {r["source"] for r in rows}:
        pristine = [float(r["mos"]) for r in rows if r["source"] == source and r["degradation"] == "none"]
        assert pristine == [5.0]
        for name in DEGRADATIONS:
            ladder = sorted(
                (int(r["level"]), float(r["mos"])) for r in rows if r["source"] == source and r["degradation"] == name
            )
            assert [level for level, _ in ladder] == [1, 2]
            labels = [5.0] + [mos for _, mos in ladder]
            assert (np.diff(labels) < 0).all(), (name, labels)
            assert all(1.0 <= mos <= 5.0 for mos in labels)


def test_videos_decode_and_degradations_are_graded(root):
    rows = [r for r in _rows(root, "train") if r["source"] == "src00_astronaut"]
    clips = {(r["degradation"], int(r["level"])): _decode(root / "train" / r["file_name"]) for r in rows}
    pristine = clips[("none", 0)].astype(np.float32)
    for clip in clips.values():
        assert clip.shape == (8, 32, 32, 3)
    # Real photographic content that moves, not a flat or still picture.
    assert pristine.std() > 20 and np.abs(np.diff(pristine, axis=0)).mean() > 1

    def error(key):
        return float(np.abs(clips[key].astype(np.float32) - pristine).mean())

    def sharpness(clip):
        return float(np.abs(np.diff(clip.astype(np.float32), axis=2)).mean())

    for name in ("crf", "scale", "noise"):
        assert 0 < error((name, 1)) < error((name, 2)), name
    assert sharpness(pristine) > sharpness(clips[("blur", 1)]) > sharpness(clips[("blur", 2)])
    stutter = clips[("stutter", 2)]  # each kept frame held 3 frames
    assert np.array_equal(stutter[0], stutter[2]) and not np.array_equal(stutter[2], stutter[3])
    sizes = [
        (root / "train" / r["file_name"]).stat().st_size
        for r in sorted(rows, key=lambda r: r["level"])
        if r["degradation"] in ("none", "crf")
    ]
    assert sizes == sorted(sizes, reverse=True)


def test_deterministic_for_a_seed(root, tmp_path):
    again = generate_quality_dataset(tmp_path / "again", **SMALL)
    assert _digest(again) == _digest(root)
    other = generate_quality_dataset(tmp_path / "other", **{**SMALL, "seed": 4})
    assert _digest(other) != _digest(root)


def test_reuse_and_overwrite(tmp_path):
    args = {**SMALL, "num_sources": 1, "test_sources": 0, "degradations": ("blur",), "levels": 1}
    root = generate_quality_dataset(tmp_path / "d", **args)
    stamp = (root / "train" / "metadata.csv").stat().st_mtime_ns
    assert generate_quality_dataset(root, **args) == root
    assert (root / "train" / "metadata.csv").stat().st_mtime_ns == stamp
    assert not (root / "test").exists()
    with pytest.raises(ValueError, match="overwrite=True"):
        generate_quality_dataset(root, **{**args, "seed": 9})
    generate_quality_dataset(root, **{**args, "seed": 9, "overwrite": True})
    assert json.loads((root / "generation_config.json").read_text())["seed"] == 9
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a synthetic dataset"):
        generate_quality_dataset(tmp_path / "busy", **args)


@pytest.mark.parametrize(
    "override, message",
    [
        ({"num_sources": 0}, "num_sources"),
        ({"num_sources": 14}, "num_sources"),
        ({"test_sources": 3}, "test_sources"),
        ({"size": 33}, "even"),
        ({"fps": 0}, "fps"),
        ({"seconds": 0}, "seconds"),
        ({"levels": 6}, "levels"),
        ({"degradations": ("jpeg",)}, "crf, scale, blur, noise, stutter"),
    ],
)
def test_validation(tmp_path, override, message):
    with pytest.raises(ValueError, match=message):
        generate_quality_dataset(tmp_path / "x", **{**SMALL, **override})


def test_cli(tmp_path, capsys):
    main(
        [
            str(tmp_path / "cli"),
            "--num_sources",
            "2",
            "--test_sources",
            "1",
            "--levels",
            "1",
            "--size",
            "32",
            "--seconds",
            "0.4",
            "--degradations",
            "noise",
            "stutter",
            "--no_progress",
        ]
    )
    assert "Dataset ready" in capsys.readouterr().out
    assert len(_rows(tmp_path / "cli", "train")) == 3 and len(_rows(tmp_path / "cli", "test")) == 3


def test_loads_with_datasets_videofolder(root, tmp_path, monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    dataset = datasets.load_dataset("videofolder", data_dir=str(root), cache_dir=str(tmp_path / "cache"))
    assert set(dataset) == {"train", "test"}
    assert dataset["train"].num_rows == 2 * VARIANTS and dataset["test"].num_rows == VARIANTS
    assert set(dataset["train"].column_names) == {"video", *METADATA_COLUMNS} - {"file_name"}
    assert isinstance(dataset["train"].features["video"], datasets.Video)
    assert sorted(set(dataset["test"]["mos"]))[-1] == 5.0
