"""Data checked before the model loads: missing/unreadable/partial-raw files, `on_missing`, raw geometry."""

from __future__ import annotations

import os

import numpy as np
import pytest

from qclip_hf.data.checks import check_data_files, file_problem
from qclip_hf.data.raw_format import parse_raw_format, spec_raw_format
from qclip_hf.errors import QClipError
from qclip_hf.models.qclip.video_processing_qclip import QClipVideoProcessor
from qclip_hf.training.data import VideoQualityDataset
from qclip_hf.video.sources import RawVideoFormat


def _write_yuv(path, width, height, frames, extra_bytes=0):
    """A yuv420p file whose luma is a gradient that brightens frame by frame (chroma neutral)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        for t in range(frames):
            luma = (np.add.outer(np.arange(height), np.arange(width)) * 255 // (width + height) + 40 * t) % 256
            handle.write(luma.astype(np.uint8).tobytes())
            handle.write(np.full(width * height // 2, 128, np.uint8).tobytes())
        handle.write(b"\0" * extra_bytes)


def _videofolder(root, names, mos=None):
    root.mkdir(parents=True, exist_ok=True)
    mos = mos or [1.0 + i for i in range(len(names))]
    rows = "".join(f"{n},{m}\n" for n, m in zip(names, mos, strict=True))
    (root / "metadata.csv").write_text("file_name,mos\n" + rows)
    return root


def test_parse_raw_format_and_dataset_geometry():
    assert parse_raw_format("640x360:yuv420p:25") == RawVideoFormat(640, 360, "yuv420p", 25.0)
    assert parse_raw_format("32x16") == RawVideoFormat(32, 16)
    for bad in ("640", "640x", "axb", "1x2:yuv420p:fast", "640x360:nope"):
        with pytest.raises(ValueError, match="640|1x2|axb|nope|WIDTH"):
            parse_raw_format(bad)
    assert spec_raw_format("LIVE-Qualcomm:/data/LQ") == RawVideoFormat(1920, 1080, "yuv420p", 30.0)
    assert spec_raw_format("KoNViD-1k:/data/K") is None
    assert spec_raw_format("LIVE-Qualcomm:/data/LQ", "64x32") == RawVideoFormat(64, 32)


def test_missing_files_are_all_reported_before_any_model_with_count_and_names(tmp_path):
    train = _videofolder(tmp_path / "train", ["a.yuv", "gone1.yuv", "gone2.yuv"])
    _write_yuv(train / "a.yuv", 32, 16, 2)
    test = _videofolder(tmp_path / "test", ["b.yuv", "gone3.yuv"])
    _write_yuv(test / "b.yuv", 32, 16, 2)
    specs = {"train": f"videofolder:{train}", "test": f"videofolder:{test}"}
    with pytest.raises(QClipError) as info:
        check_data_files(specs, raw_format="32x16", on_missing="error")
    message = str(info.value)
    assert message.startswith("3 of 5 listed videos cannot be read")
    assert "gone1.yuv (missing) in 'train'" in message and "gone3.yuv (missing) in 'test'" in message
    assert "--on_missing skip" in message


def test_skip_drops_and_records_what_was_skipped(tmp_path):
    train = _videofolder(tmp_path / "train", ["a.yuv", "gone.yuv", "empty.yuv", "b.yuv"])
    _write_yuv(train / "a.yuv", 32, 16, 2)
    _write_yuv(train / "b.yuv", 32, 16, 3)
    (train / "empty.yuv").write_bytes(b"")
    check = check_data_files({"train": f"videofolder:{train}"}, raw_format="32x16", on_missing="skip",
                             label_column="mos")
    kept = [os.path.basename(v["path"]) for v in check.datasets["train"]["video"]]
    assert kept == ["a.yuv", "b.yuv"] and check.datasets["train"]["mos"] == [1.0, 4.0]
    record = check.to_json()
    assert record["on_missing"] == "skip" and record["num_skipped"] == 2 and record["checked"] == {"train": 4}
    assert record["skipped"]["train"] == [{"file": "gone.yuv", "reason": "missing"},
                                          {"file": "empty.yuv", "reason": "empty (0 bytes)"}]


def test_a_set_left_empty_and_a_missing_label_column_are_errors(tmp_path):
    train = _videofolder(tmp_path / "train", ["gone.yuv"])
    with pytest.raises(QClipError, match="no readable video left"):
        check_data_files({"train": f"videofolder:{train}"}, raw_format="32x16", on_missing="skip")
    ok = _videofolder(tmp_path / "ok", ["a.yuv"])
    _write_yuv(ok / "a.yuv", 32, 16, 1)
    with pytest.raises(QClipError, match="'quality'"):
        check_data_files({"train": f"videofolder:{ok}"}, raw_format="32x16", label_column="quality")
    with pytest.raises(ValueError, match="error"):
        check_data_files({"train": f"videofolder:{ok}"}, on_missing="drop")


def test_a_raw_file_with_a_partial_frame_is_named_at_the_check(tmp_path):
    train = _videofolder(tmp_path / "train", ["whole.yuv", "partial.yuv"])
    _write_yuv(train / "whole.yuv", 32, 16, 2)
    _write_yuv(train / "partial.yuv", 32, 16, 2, extra_bytes=100)
    with pytest.raises(QClipError) as info:
        check_data_files({"train": f"videofolder:{train}"}, raw_format="32x16")
    message = str(info.value)
    assert "1 of 2" in message and "partial.yuv" in message and "whole.yuv" not in message
    assert "not a whole number of 32x16 yuv420p frames (768 bytes each; 2 whole frames + 100 bytes)" in message
    # The same file under a geometry it fits is fine.
    assert file_problem(str(train / "whole.yuv"), RawVideoFormat(16, 16)) is None  # 1536 = 4 frames of 384


def test_live_qualcomm_works_out_of_the_box_through_the_loader_and_processor(tmp_path):
    """`LIVE-Qualcomm:ROOT` knows its 1920x1080 yuv420p geometry: check, load and process real raw frames."""
    labels = tmp_path / "labels" / "LIVE_Qualcomm"
    labels.mkdir(parents=True)
    (labels / "labels.txt").write_text("Focus/a.yuv, -1, -1, 41.5\nExposure/b.yuv, -1, -1, 60.25\n")
    root = tmp_path / "LQ"
    _write_yuv(root / "Focus" / "a.yuv", 1920, 1080, 2)
    _write_yuv(root / "Exposure" / "b.yuv", 1920, 1080, 3)
    check = check_data_files({"train": f"LIVE-Qualcomm:{root}"}, labels_dir=tmp_path / "labels")
    assert check.raw_formats["train"] == RawVideoFormat(1920, 1080, "yuv420p", 30.0)
    assert check.num_skipped == 0
    processor = QClipVideoProcessor(num_frames=2, size={"height": 32, "width": 32})
    dataset = VideoQualityDataset(check.datasets["train"], processor, "mos", sampling_strategy="UNISampl",
                                  raw_format=check.raw_formats["train"], name="LIVE-Qualcomm")
    first, second = dataset[0], dataset[1]
    assert first["pixel_values_videos"].shape == (2, 3, 32, 32)
    assert float(first["labels"]) == pytest.approx(41.5) and float(second["labels"]) == pytest.approx(60.25)
    # The frames are the written ones: luma brightens by 40 grey levels from frame 0 to frame 1.
    clip = first["pixel_values_videos"]
    assert float(clip[1].mean()) > float(clip[0].mean())
    # A truncated LIVE-Qualcomm file is named at the check.
    with open(root / "Focus" / "a.yuv", "ab") as handle:
        handle.write(b"\0" * 10)
    with pytest.raises(QClipError, match=r"Focus/a\.yuv .*1920x1080 yuv420p"):
        check_data_files({"train": f"LIVE-Qualcomm:{root}"}, labels_dir=tmp_path / "labels")
