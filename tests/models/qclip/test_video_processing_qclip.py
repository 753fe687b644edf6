import io
import json
import subprocess

import datasets
import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoVideoProcessor, CLIPImageProcessor, PreTrainedConfig

from qclip_hf.models.qclip.video_processing_qclip import QClipVideoProcessor, register_qclip_video_processor
from qclip_hf.video.errors import VideoDecodeError


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("proc") / "clip.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=96x64:rate=30",
            "-t",
            "1",
            "-c:v",
            "libx264",
            "-g",
            "10",
            str(path),
        ],
        check=True,
    )
    return path


def test_defaults_follow_reference_release(clip):
    processor = QClipVideoProcessor()
    assert (
        processor.num_frames == 8 and processor.sampling_strategy == "UNISampl" and processor.resize_mode == "squash"
    )
    out = processor(str(clip), return_frame_indices=True)
    pixels = out["pixel_values_videos"]
    assert pixels.shape == (1, 8, 3, 336, 336) and pixels.dtype == torch.float32
    assert out["frame_indices"].tolist() == [[0, 4, 8, 12, 17, 21, 25, 29]]
    assert -1.0 - 1e-5 <= pixels.min() and pixels.max() <= 1.0 + 1e-5  # mean = std = 0.5


def test_batch_of_mixed_input_types(clip):
    processor = QClipVideoProcessor(num_frames=4, size={"height": 32, "width": 32})
    data = clip.read_bytes()
    decoded = np.stack([np.full((64, 96, 3), i * 8, dtype=np.uint8) for i in range(30)])
    decoder = datasets.Dataset.from_dict({"v": [str(clip)]}).cast_column("v", datasets.Video())[0]["v"]
    batch = [
        str(clip),
        data,
        io.BytesIO(data),
        {"path": str(clip), "bytes": None},
        decoder,
        decoded,
        torch.from_numpy(decoded),
        [Image.fromarray(f) for f in decoded],
    ]
    out = processor(batch)["pixel_values_videos"]
    assert out.shape == (8, 4, 3, 32, 32)
    for i in range(1, 5):
        assert torch.equal(out[0], out[i])
    assert torch.equal(out[5], out[6]) and torch.allclose(out[5], out[7])


def test_resize_modes(clip):
    frames = np.zeros((2, 40, 80, 3), dtype=np.uint8)
    frames[:, :, 20:60] = 255  # white centre square
    squash = QClipVideoProcessor(
        num_frames=2, size={"height": 20, "width": 20}, image_mean=[0, 0, 0], image_std=[1, 1, 1]
    )
    crop = QClipVideoProcessor.from_dict({**squash.to_dict(), "resize_mode": "shortest_edge_center_crop"})
    a = squash(frames)["pixel_values_videos"][0, 0, 0]
    b = crop(frames)["pixel_values_videos"][0, 0, 0]
    assert a.shape == b.shape == (20, 20)
    # the crop keeps only the white centre (the bilinear kernel blends the black sides into the edge columns)
    assert b.mean() > 0.98 and b[:, 1:-1].min() > 0.99 and b.min() > 0.8
    assert a[:, 0].max() < 0.05 and a[:, 10].min() > 0.95  # squash keeps the black sides, squeezed


def test_save_and_load_roundtrip(tmp_path, clip):
    processor = QClipVideoProcessor(
        num_frames=4,
        sampling_strategy="Mixed",
        mixed_strategies=["RandSampl", "SegMSEMean"],
        mixed_weights=[1.0, 2.0],
        resize_mode="shortest_edge_center_crop",
        size={"height": 224, "width": 224},
        image_mean=[0.1, 0.2, 0.3],
        image_std=[0.4, 0.5, 0.6],
        seed=11,
        raw_format={"width": 1920, "height": 1080, "pixel_format": "yuv420p", "fps": 30.0},
    )
    processor.train()
    processor.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "video_preprocessor_config.json").read_text())
    assert saved["video_processor_type"] == "QClipVideoProcessor" and "training" not in saved
    loaded = QClipVideoProcessor.from_pretrained(tmp_path)
    for key in (
        "num_frames",
        "sampling_strategy",
        "mixed_strategies",
        "mixed_weights",
        "resize_mode",
        "seed",
        "raw_format",
    ):
        assert getattr(loaded, key) == getattr(processor, key), key
    assert tuple(loaded.image_mean) == (0.1, 0.2, 0.3) and loaded.size.height == 224
    assert loaded.training is False
    assert torch.equal(loaded(str(clip))["pixel_values_videos"], processor.eval()(str(clip))["pixel_values_videos"])


def test_auto_video_processor(tmp_path):
    class TinyQClipTestConfig(PreTrainedConfig):
        model_type = "qclip_video_processor_test"

    register_qclip_video_processor(TinyQClipTestConfig)
    QClipVideoProcessor(num_frames=5).save_pretrained(tmp_path)
    loaded = AutoVideoProcessor.from_pretrained(tmp_path)
    assert isinstance(loaded, QClipVideoProcessor) and loaded.num_frames == 5


def test_from_backbone_image_processor(tmp_path):
    image_processor = CLIPImageProcessor()  # size shortest_edge 224, center crop 224, OpenAI mean/std
    processor = QClipVideoProcessor.from_image_processor(image_processor, num_frames=4)
    assert (processor.size.height, processor.size.width) == (224, 224) and processor.num_frames == 4
    assert tuple(processor.image_mean) == tuple(image_processor.image_mean)
    assert tuple(processor.image_std) == tuple(image_processor.image_std)
    image_processor.save_pretrained(tmp_path)
    from_dir = QClipVideoProcessor.from_backbone_image_processor(tmp_path)
    assert from_dir.to_dict() == QClipVideoProcessor.from_image_processor(image_processor).to_dict()
    siglip_like = QClipVideoProcessor.from_image_processor(
        {"size": {"height": 256, "width": 256}, "image_mean": [0.5] * 3}
    )
    assert siglip_like.size.height == 256


def test_eval_determinism_and_training_seed(clip):
    processor = QClipVideoProcessor(num_frames=4, sampling_strategy="RandSampl", size={"height": 16, "width": 16})
    eval_a = processor([str(clip), str(clip)], return_frame_indices=True)["frame_indices"]
    eval_b = processor(str(clip), return_frame_indices=True)["frame_indices"]
    assert eval_a[0].tolist() == eval_a[1].tolist() == eval_b[0].tolist()  # same video -> same frames, any batch

    processor.train()
    first = [processor(str(clip), return_frame_indices=True)["frame_indices"].tolist() for _ in range(4)]
    processor.train()  # restarts the seeded stream
    second = [processor(str(clip), return_frame_indices=True)["frame_indices"].tolist() for _ in range(4)]
    assert first == second and len({str(x) for x in first}) > 1
    seeded = processor(str(clip), seed=3, return_frame_indices=True)["frame_indices"]
    assert seeded.tolist() == processor(str(clip), seed=3, return_frame_indices=True)["frame_indices"].tolist()


def test_precomputed_motion_profiles(clip, monkeypatch):
    processor = QClipVideoProcessor(num_frames=4, sampling_strategy="SegMSEMedian", size={"height": 16, "width": 16})
    profile = np.zeros(30, dtype=np.float32)
    profile[[2, 9, 17, 24]] = 5.0  # any finite profile is used as given
    import qclip_hf.video.reader as reader

    monkeypatch.setattr(reader, "motion_pass_sample", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    out = processor([str(clip)], motion_profiles=[profile], return_frame_indices=True)
    # segments 0-6, 7-14, 15-21, 22-29; each pick is the 4th still frame (rank 3) of the segment's ranking
    assert out["frame_indices"].tolist() == [[4, 11, 19, 26]]
    with pytest.raises(ValueError, match="motion_profiles has 2 entries for 1 videos"):
        processor([str(clip)], motion_profiles=[profile, profile])


def test_validation_errors(tmp_path):
    with pytest.raises(ValueError, match="resize_mode must be one of"):
        QClipVideoProcessor(resize_mode="stretch")
    with pytest.raises(ValueError, match="unknown sampling strategy 'Uniform'; allowed"):
        QClipVideoProcessor(sampling_strategy="Uniform")
    with pytest.raises(ValueError, match="decode_backend must be one of"):
        QClipVideoProcessor(decode_backend="cv2")
    with pytest.raises(ValueError, match="unknown strategy 'Foo'"):
        QClipVideoProcessor(sampling_strategy="Mixed", mixed_strategies=["Foo"])
    with pytest.raises(ValueError, match="unknown processor options"):
        QClipVideoProcessor()(np.zeros((2, 8, 8, 3), dtype=np.uint8), num_frame=3)
    with pytest.raises(VideoDecodeError, match="file not found"):
        QClipVideoProcessor()(str(tmp_path / "missing.mp4"))


def test_auto_video_processor_finds_the_processor_of_a_saved_qclip_model(tiny_backbone_dir, tmp_path):
    from transformers import AutoVideoProcessor

    import qclip_hf  # noqa: F401  (registers "qclip" with AutoVideoProcessor)
    from qclip_hf import QClipConfig, QClipModel
    from qclip_hf.models.qclip.video_processing_qclip import QClipVideoProcessor

    model = QClipModel(QClipConfig(backbone=tiny_backbone_dir("clip"), scma_config={"r": 4, "layers": 1}))
    model.save_pretrained(tmp_path)
    QClipVideoProcessor(num_frames=3, size={"height": 32, "width": 32}).save_pretrained(tmp_path)
    processor = AutoVideoProcessor.from_pretrained(tmp_path)
    assert isinstance(processor, QClipVideoProcessor) and processor.num_frames == 3


def test_decode_reports_and_min_decoded_fraction(clip, tmp_path):
    """Contract 4: one report per video; substituted frames counted; below the minimum fraction, an error."""
    processor = QClipVideoProcessor(num_frames=4, size={"height": 16, "width": 16})
    assert processor.min_decoded_fraction == 0.5
    frames = np.zeros((5, 8, 8, 3), dtype=np.uint8)
    out = processor([str(clip), frames])
    assert [set(r) for r in out["decode_reports"]] == [
        {"frames_requested", "frames_substituted", "read_mode", "warnings"}
    ] * 2
    assert out["decode_reports"][0]["frames_requested"] == 4 and out["decode_reports"][0]["frames_substituted"] == 0
    assert out["decode_reports"][0]["read_mode"] in ("seek", "sequential")
    assert out["decode_reports"][1]["read_mode"] == "array"

    data = clip.read_bytes()  # cut the file inside its last packets (the moov atom of this mp4 is at its end:
    faststart = tmp_path / "fs.mp4"  # so re-mux it moov-first, then cut)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(clip), "-c", "copy", "-movflags", "+faststart",
                    str(faststart)], check=True)  # fmt: skip
    data = faststart.read_bytes()
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(data[: len(data) - 300])
    report = processor(str(damaged))["decode_reports"][0]
    assert report["frames_substituted"] >= 1 and "replaced by the nearest decodable frame" in report["warnings"][-1]
    with pytest.raises(VideoDecodeError, match="requested frames could be decoded"):
        processor(str(damaged), min_decoded_fraction=1.0)
    with pytest.raises(ValueError, match=r"min_decoded_fraction must be a number in \[0, 1\]"):
        QClipVideoProcessor(min_decoded_fraction=2)


def test_default_resample_is_bilinear_everywhere(tiny_backbone_dir, tmp_path):
    import shutil

    from qclip_hf import QClipConfig, QClipModel

    model = QClipModel(QClipConfig(backbone=tiny_backbone_dir("clip"), scma_config={"r": 4, "layers": 1}))
    assert int(QClipVideoProcessor().resample) == int(QClipVideoProcessor.for_model(model).resample) == 2
    backbone = shutil.copytree(tiny_backbone_dir("clip"), tmp_path / "backbone")
    CLIPImageProcessor().save_pretrained(backbone)  # a backbone whose own image processor is bicubic
    model = QClipModel(QClipConfig(backbone=str(backbone), scma_config={"r": 4, "layers": 1}))
    assert int(QClipVideoProcessor.from_image_processor(backbone).resample) == 3
    assert int(QClipVideoProcessor.for_model(model).resample) == 2
    assert int(QClipVideoProcessor.for_model(model, resample=3).resample) == 3
