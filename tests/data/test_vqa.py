import shutil
import subprocess

import datasets
import numpy as np
import pytest

from qclip_hf.data.labels import read_label_file
from qclip_hf.data.vqa import LIVE_QUALCOMM_RAW_FORMAT, VQA_DATASETS, MissingVideosWarning, load_vqa_dataset
from qclip_hf.models.qclip.video_processing_qclip import QClipVideoProcessor


@pytest.fixture(scope="module")
def tiny_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("vqa") / "tiny.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=30", "-t", "0.5", str(path)],
        check=True,
    )
    return path


@pytest.mark.parametrize("name", list(VQA_DATASETS))
def test_every_dataset_loads_from_standard_lists(name, labels_dir, tmp_path):
    spec = VQA_DATASETS[name]
    rows = read_label_file(labels_dir / spec.label_file)
    with pytest.warns(MissingVideosWarning, match=rf"{len(rows)} of {len(rows)} videos of {name}"):
        ds = load_vqa_dataset(name, tmp_path, labels_dir=labels_dir)
    assert ds.num_rows == len(rows)
    assert ds.column_names == ["video", "relative_path", "mos", "mos_normalized", "duration", "fps"]
    assert ds[0]["video"] == str(tmp_path / rows[0].path) and ds[0]["mos"] == rows[0].mos
    normalized = np.asarray(ds["mos_normalized"])
    assert normalized.min() >= 0.0 and normalized.max() <= 1.0


def test_missing_videos_warn_drop_raise(labels_dir, tmp_path, tiny_video):
    rows = read_label_file(labels_dir / "CVD2014/labels.txt")
    for row in rows[:3]:
        (tmp_path / row.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tiny_video, tmp_path / row.path)
    with pytest.warns(MissingVideosWarning, match=rf"231 of 234 .*first: {rows[3].path}.*kept"):
        kept = load_vqa_dataset("CVD2014", tmp_path, labels_dir=labels_dir)
    assert kept.num_rows == 234
    with pytest.warns(MissingVideosWarning, match="dropped"):
        dropped = load_vqa_dataset("CVD2014", tmp_path, labels_dir=labels_dir, on_missing="drop")
    assert dropped["relative_path"] == [row.path for row in rows[:3]]
    with pytest.raises(FileNotFoundError, match="231 of 234"):
        load_vqa_dataset("CVD2014", tmp_path, labels_dir=labels_dir, on_missing="raise")
    with pytest.raises(ValueError, match="on_missing must be one of"):
        load_vqa_dataset("CVD2014", tmp_path, labels_dir=labels_dir, on_missing="ignore")

    # the path column feeds the processor directly, and a Video feature is available on request
    processor = QClipVideoProcessor(num_frames=4, size={"height": 16, "width": 16})
    assert processor(dropped["video"])["pixel_values_videos"].shape == (3, 4, 3, 16, 16)


def test_video_feature_and_explicit_label_file(labels_dir, tmp_path, tiny_video):
    label_file = tmp_path / "my_labels.txt"
    label_file.write_text("a.mp4, -1, -1, 3.0\n")
    shutil.copy(tiny_video, tmp_path / "a.mp4")
    ds = load_vqa_dataset("KoNViD-1k", tmp_path, label_file=label_file, video_feature=True)
    assert isinstance(ds.features["video"], datasets.Video)
    assert ds[0]["mos_normalized"] == 0.5  # KoNViD scale 1-5
    with pytest.raises(ValueError, match="not possible for LIVE-Qualcomm"):
        load_vqa_dataset("LIVE-Qualcomm", tmp_path, labels_dir=labels_dir, video_feature=True)
    with pytest.raises(ValueError, match="unknown VQA dataset 'KoNViD'; allowed"):
        load_vqa_dataset("KoNViD", tmp_path, labels_dir=labels_dir)
    with pytest.raises(ValueError, match="pass labels_dir"):
        load_vqa_dataset("KoNViD-1k", tmp_path)


def test_live_qualcomm_raw_route(tmp_path):
    import av

    # a tiny stand-in for a 1920x1080 LIVE-Qualcomm file: same format, small geometry
    frames = [np.full((48, 64, 3), 20 * i, dtype=np.uint8) for i in range(6)]
    raw = b"".join(
        av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p").to_ndarray().tobytes() for f in frames
    )
    (tmp_path / "Focus").mkdir()
    (tmp_path / "Focus" / "clip.yuv").write_bytes(raw)
    label_file = tmp_path / "labels.txt"
    label_file.write_text("Focus/clip.yuv, -1, -1, 41.6\n")
    ds = load_vqa_dataset("LIVE-Qualcomm", tmp_path, label_file=label_file)
    assert LIVE_QUALCOMM_RAW_FORMAT.to_dict() == {
        "width": 1920,
        "height": 1080,
        "pixel_format": "yuv420p",
        "fps": 30.0,
    }
    processor = QClipVideoProcessor(
        num_frames=3, size={"height": 8, "width": 8}, raw_format={"width": 64, "height": 48}
    )
    out = processor(ds["video"], return_frame_indices=True)
    assert out["frame_indices"].tolist() == [[0, 2, 5]] and out["pixel_values_videos"].shape == (1, 3, 3, 8, 8)
