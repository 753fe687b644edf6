"""Video processor for Q-CLIP: video files (or decoded frames) -> `pixel_values_videos` (B, T, C, H, W)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
import torchvision.transforms.v2.functional as tvF
from transformers.image_processing_utils import BatchFeature
from transformers.image_utils import PILImageResampling, SizeDict
from transformers.processing_utils import Unpack, VideosKwargs
from transformers.video_processing_utils import BaseVideoProcessor

from ...video.decoding import BACKENDS, DEFAULT_MIN_DECODED_FRACTION, check_min_decoded_fraction
from ...video.frame_reads import DecodeReport
from ...video.stream import DEFAULT_TIMEOUT
from ...video.reader import frames_to_array, is_decoded_video, sample_video
from ...video.sampling import Mixed, canonical_strategy_name, get_sampling_strategy
from ...video.sources import RawVideoFormat

RESIZE_MODES = ("squash", "shortest_edge_center_crop")
# The file `save_pretrained` writes (transformers' name for a video processor's config).
VIDEO_PROCESSOR_NAME = "video_preprocessor_config.json"


class QClipVideoProcessorKwargs(VideosKwargs, total=False):
    r"""
    sampling_strategy (`str`, *optional*, defaults to `"UNISampl"`):
        One of `STRATEGY_NAMES` (`RandSampl`, `UNISampl`, `UNIRandStart`, `MSESortedUNI`, `SegMSEMean`,
        `SegMSEMedian`, `Mixed`).
    resize_mode (`str`, *optional*, defaults to `"squash"`):
        `"squash"` resizes each frame to `size` ignoring the aspect ratio (the reference release);
        `"shortest_edge_center_crop"` scales the short side to cover `size` and center-crops.
    mixed_strategies (`list[str]`, *optional*):
        Strategies `Mixed` draws from during training (all six base strategies when unset).
    mixed_weights (`list[float]`, *optional*):
        Draw weights for `mixed_strategies` (uniform when unset).
    eval_strategy (`str`, *optional*, defaults to `"UNISampl"`):
        Strategy `Mixed` uses outside training.
    decode_backend (`str`, *optional*, defaults to `"auto"`):
        `"auto"` / `"pyav"` / `"torchcodec"`.
    seed (`int`, *optional*, defaults to 0):
        Seed of the sampling randomness (eval: every video uses it afresh; training: seeds the stream of draws).
    motion_short_side (`int`, *optional*, defaults to 64):
        Resolution of the motion-profile pass for MSE-driven strategies.
    raw_format (`dict`, *optional*):
        `{"width", "height", "pixel_format", "fps"}` of raw inputs, applied to paths ending in `.yuv`
        (LIVE-Qualcomm: 1920, 1080, yuv420p); other inputs of the batch are decoded as containers.
    decode_timeout (`float`, *optional*, defaults to 120):
        Seconds a decoding pass may take before the video is rejected with `VideoDecodeError`.
    min_decoded_fraction (`float`, *optional*, defaults to 0.5):
        Frames that cannot be decoded (damaged packets, a cut tail) are replaced by the nearest decodable frame
        and counted in `decode_reports`; a video with fewer than this fraction of its requested frames really
        decoded is rejected with `VideoDecodeError`. `1.0` rejects any substitution, `0.0` accepts all.
    """

    sampling_strategy: str
    resize_mode: str
    mixed_strategies: list[str] | None
    mixed_weights: list[float] | None
    eval_strategy: str
    decode_backend: str
    seed: int
    motion_short_side: int
    raw_format: dict | None
    decode_timeout: float
    min_decoded_fraction: float


_QCLIP_KEYS = tuple(QClipVideoProcessorKwargs.__annotations__)


class QClipVideoProcessor(BaseVideoProcessor):
    r"""
    Turns videos into the `pixel_values_videos` a Q-CLIP model takes: decode -> sample `num_frames` frames with a
    sampling strategy -> resize (`"squash"` or short side + center crop) -> rescale -> normalise.

    Inputs per video: a path, bytes, a binary file-like object, a `{"path", "bytes"}` dict, the torchcodec decoder
    a 🤗 datasets `Video` column yields, or already-decoded frames ((T, H, W, C) uint8 array/tensor, or a list of
    PIL images). A list of those is a batch. Unreadable files raise `VideoDecodeError` (a `ValueError`).

    Determinism: in eval mode (the default, or `processor.eval()`) each video's sampling uses a fresh generator
    seeded with `seed`, so the same video always gives the same frames. After `processor.train()` (or with
    `training=True`) the draws come from one generator seeded with `seed` (or the call's `seed`), so a run is
    reproducible for a given seed while frames vary between epochs.

    Defaults follow the reference release and the paper's backbone (PE-Core-L14-336): 8 frames, `UNISampl`,
    336 x 336 squash, mean = std = 0.5. Use :meth:`from_image_processor` to take size and normalisation from a
    backbone's image processor (e.g. CLIP: 224, OpenAI mean/std).

    Example:

    ```python
    >>> from qclip_hf.models.qclip.video_processing_qclip import QClipVideoProcessor
    >>> processor = QClipVideoProcessor(num_frames=8, sampling_strategy="UNISampl")
    >>> batch = processor(["a.mp4", "b.mp4"])
    >>> batch["pixel_values_videos"].shape
    torch.Size([2, 8, 3, 336, 336])
    >>> processor.save_pretrained("qclip-processor")
    >>> QClipVideoProcessor.from_pretrained("qclip-processor").num_frames
    8
    ```
    """

    resample = PILImageResampling.BILINEAR  # the reference release resizes bilinearly (PIL)
    image_mean = [0.5, 0.5, 0.5]
    image_std = [0.5, 0.5, 0.5]
    size = {"height": 336, "width": 336}
    rescale_factor = 1 / 255
    default_to_square = True
    do_resize = True
    do_center_crop = False
    do_rescale = True
    do_normalize = True
    do_convert_rgb = True
    do_sample_frames = True
    num_frames = 8
    sampling_strategy = "UNISampl"
    resize_mode = "squash"
    mixed_strategies = None
    mixed_weights = None
    eval_strategy = "UNISampl"
    decode_backend = "auto"
    seed = 0
    motion_short_side = 64
    raw_format = None
    decode_timeout = DEFAULT_TIMEOUT
    min_decoded_fraction = DEFAULT_MIN_DECODED_FRACTION
    valid_kwargs = QClipVideoProcessorKwargs
    model_input_names = ["pixel_values_videos"]

    def __init__(self, **kwargs: Unpack[QClipVideoProcessorKwargs]) -> None:
        super().__init__(**kwargs)
        self._validate_qclip_options(**{k: getattr(self, k) for k in (*_QCLIP_KEYS, "num_frames", "size")})
        self.training = False
        self._generator: np.random.Generator | None = None

    # ---- train / eval --------------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> QClipVideoProcessor:
        """Training mode: random strategies (and `Mixed`) vary per call, reproducibly for `seed`."""
        self.training = bool(mode)
        self._generator = None  # restart the draw stream, so `train()` + the same seed replays the same frames
        return self

    def eval(self) -> QClipVideoProcessor:
        """Eval mode (default): every video's frames depend only on the video and `seed`."""
        return self.train(False)

    def to_dict(self) -> dict[str, Any]:
        output = super().to_dict()
        # Runtime state, not configuration.
        output.pop("training", None)
        output.pop("_generator", None)
        return output

    # ---- construction from a backbone ------------------------------------------------------------------------
    @classmethod
    def from_image_processor(
        cls, image_processor: Any | dict[str, Any] | str | os.PathLike, **kwargs: Any
    ) -> QClipVideoProcessor:
        """Build a processor with the backbone's input size, resample filter and normalisation.

        Args:
            image_processor: an image processor instance (e.g. `CLIPImageProcessor`), its config dict, or a
                directory / Hub id holding a `preprocessor_config.json`.
            kwargs: any other `QClipVideoProcessor` option (they override what is read).

        The output size is the processor's center-crop size when it crops (CLIP: 224), else its `size`
        (`height`/`width`, or `shortest_edge` as a square).

        Example:

        ```python
        >>> from transformers import CLIPImageProcessor
        >>> processor = QClipVideoProcessor.from_image_processor(CLIPImageProcessor())
        >>> processor.size.height, processor.image_mean
        (224, (0.48145466, 0.4578275, 0.40821073))
        ```
        """
        if isinstance(image_processor, (str, os.PathLike)):
            from transformers.image_processing_base import ImageProcessingMixin

            config, _ = ImageProcessingMixin.get_image_processor_dict(os.fspath(image_processor))
        elif isinstance(image_processor, dict):
            config = dict(image_processor)
        elif hasattr(image_processor, "to_dict"):
            config = image_processor.to_dict()
        else:
            raise ValueError(
                "image_processor must be an image processor, its config dict or a path/Hub id, got "
                f"{type(image_processor).__name__}"
            )
        options: dict[str, Any] = {}
        for key in ("image_mean", "image_std", "rescale_factor"):
            if config.get(key) is not None:
                options[key] = list(config[key]) if isinstance(config[key], (list, tuple)) else config[key]
        if config.get("resample") is not None:
            options["resample"] = config["resample"]
        side = _square_side(config.get("crop_size")) if config.get("do_center_crop") else None
        side = side or _square_side(config.get("size"))
        if side is not None:
            options["size"] = {"height": side[0], "width": side[1]}
        options.update(kwargs)
        return cls(**options)

    from_backbone_image_processor = from_image_processor

    @classmethod
    def for_model(cls, model: Any, **kwargs: Any) -> QClipVideoProcessor:
        """A processor matching a Q-CLIP model's backbone: its frame size, and its image processor's normalisation
        when the backbone ships one (otherwise mean = std = 0.5, the reference release's); `num_frames` from the
        model's config; bilinear resizing (the default everywhere, as in the release). `kwargs` override any
        option.

        Example:

        ```python
        >>> processor = QClipVideoProcessor.for_model(model, sampling_strategy="Mixed")  # doctest: +SKIP
        ```
        """
        side = model.spec.image_size(model.dual_encoder)
        options = {
            "num_frames": model.config.num_frames,
            "size": {"height": side, "width": side},
            # Bilinear like `QClipVideoProcessor()` and the release, whatever the backbone's image processor says.
            "resample": PILImageResampling.BILINEAR,
            **kwargs,
        }
        backbone = model.resolve_backbone_source(model.config)[0] if model.config.backbone is not None else None
        if backbone is not None:
            try:
                return cls.from_image_processor(backbone, **options)
            except OSError:  # the backbone has no preprocessor_config.json (e.g. tiny local test models)
                pass
        return cls(**options)

    # ---- validation ------------------------------------------------------------------------------------------
    @staticmethod
    def _validate_qclip_options(**options: Any) -> None:
        if options.get("sampling_strategy") is not None:
            canonical_strategy_name(options["sampling_strategy"])  # raises ValueError listing the names
        if options.get("resize_mode") is not None and options["resize_mode"] not in RESIZE_MODES:
            raise ValueError(f"resize_mode must be one of {RESIZE_MODES}, got {options['resize_mode']!r}")
        if options.get("decode_backend") is not None and options["decode_backend"] not in BACKENDS:
            raise ValueError(f"decode_backend must be one of {BACKENDS}, got {options['decode_backend']!r}")
        num_frames = options.get("num_frames")
        if num_frames is not None and (
            not isinstance(num_frames, int) or isinstance(num_frames, bool) or num_frames < 1
        ):
            raise ValueError(f"num_frames must be a positive int, got {num_frames!r}")
        for key in ("motion_short_side",):
            value = options.get(key)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{key} must be a positive int, got {value!r}")
        if options.get("decode_timeout") is not None and not options["decode_timeout"] > 0:
            raise ValueError(f"decode_timeout must be > 0, got {options['decode_timeout']!r}")
        if options.get("min_decoded_fraction") is not None:
            check_min_decoded_fraction(options["min_decoded_fraction"])
        if options.get("seed") is not None and (not isinstance(options["seed"], int) or options["seed"] < 0):
            raise ValueError(f"seed must be a non-negative int, got {options['seed']!r}")
        RawVideoFormat.from_any(options.get("raw_format"))
        if options.get("mixed_strategies") is not None or options.get("mixed_weights") is not None:
            Mixed(
                options.get("mixed_strategies"),
                options.get("mixed_weights"),
                options.get("eval_strategy") or "UNISampl",
            )
        size = options.get("size")
        if size is not None and not (getattr(size, "height", None) and getattr(size, "width", None)):
            raise ValueError(f"size must give 'height' and 'width' (the model's input size), got {dict(size)}")

    # ---- preprocessing -----------------------------------------------------------------------------------------
    def _strategy(self, name: str, options: dict[str, Any]) -> Any:
        name = canonical_strategy_name(name)
        if name == "Mixed":
            return Mixed(options["mixed_strategies"], options["mixed_weights"], options["eval_strategy"])
        return get_sampling_strategy(name)

    def preprocess(
        self,
        videos: Any,
        motion_profiles: list[Any] | None = None,
        training: bool | None = None,
        return_frame_indices: bool = False,
        **kwargs: Unpack[QClipVideoProcessorKwargs],
    ) -> BatchFeature:
        """Sample, resize and normalise a video or a batch of videos.

        Args:
            videos: one video or a list of videos (see the class docstring for accepted forms).
            motion_profiles (`list`, *optional*): one precomputed motion profile (or `None`) per video, e.g. a
                dataset column from `add_motion_profile`; used by MSE-driven strategies instead of a decode pass.
            training (`bool`, *optional*): overrides the processor's train/eval mode for this call.
            return_frame_indices (`bool`, *optional*, defaults to `False`): also return `frame_indices` (B, T), the
                sampled frame numbers (not a model input, hence off by default).
            kwargs: any processor option for this call only (`num_frames`, `sampling_strategy`, `seed`, ...),
                and `return_tensors` (default `"pt"`).

        Returns:
            [`BatchFeature`] with `pixel_values_videos` (B, T, C, H, W) float32, `decode_reports` (one dict per
            video: `frames_requested`, `frames_substituted`, `read_mode`, `warnings`; not a model input), and
            `frame_indices` (B, T) if asked.
        """
        return_tensors = kwargs.pop("return_tensors", None) or "pt"
        allowed = set(self.valid_kwargs.__annotations__)
        unknown = set(kwargs) - allowed
        if unknown:
            raise ValueError(f"unknown processor options {sorted(unknown)}; allowed: {sorted(allowed)}")
        options = {k: kwargs[k] if kwargs.get(k) is not None else getattr(self, k, None) for k in allowed}
        options = {**options, **self._standardize_kwargs(**options)}
        self._validate_qclip_options(**{k: options[k] for k in (*_QCLIP_KEYS, "num_frames", "size")})

        batch = _as_batch(videos)
        if motion_profiles is not None and len(motion_profiles) != len(batch):
            raise ValueError(f"motion_profiles has {len(motion_profiles)} entries for {len(batch)} videos")
        training = self.training if training is None else bool(training)
        strategy = self._strategy(options["sampling_strategy"], options)
        if training:
            if kwargs.get("seed") is not None:
                generator = np.random.default_rng(options["seed"])
            else:
                if self._generator is None:
                    self._generator = np.random.default_rng(self.seed)
                generator = self._generator

        clips, indices, reports = [], [], []
        # Frames are resized and normalised as they are decoded, straight into the output array: memory holds the
        # model-size output (plus one frame), never full-resolution frames or a second copy of the clip.
        prepare_frame = self._frame_pipeline(options)
        for i, video in enumerate(batch):
            rng = generator if training else np.random.default_rng(options["seed"])
            motion = motion_profiles[i] if motion_profiles is not None else None
            if not options["do_sample_frames"]:
                if not is_decoded_video(video):
                    raise ValueError("do_sample_frames=False needs decoded frames; files are always sampled")
                frames = frames_to_array(video)
                chosen = np.arange(frames.shape[0])
                report = DecodeReport(frames_requested=len(chosen), read_mode="array")
                frames = np.stack([prepare_frame(frame) for frame in frames])
            else:
                sampled = sample_video(
                    video,
                    options["num_frames"],
                    strategy,
                    motion=motion,
                    rng=rng,
                    training=training,
                    backend=options["decode_backend"],
                    raw_format=options["raw_format"] if _is_raw_yuv(video) else None,
                    motion_short_side=options["motion_short_side"],
                    timeout=options["decode_timeout"],
                    transform=prepare_frame,
                    min_decoded_fraction=options["min_decoded_fraction"],
                )
                frames, chosen, report = sampled.frames, sampled.indices, sampled.report
                if options["num_frames"] > sampled.num_frames:  # said, not silent: the extra frames are repeats
                    report.warnings.append(
                        f"{options['num_frames']} frames requested from a video of {sampled.num_frames}: frames "
                        f"repeat (each about {options['num_frames'] / sampled.num_frames:.0f} times)")
            clips.append(torch.from_numpy(frames))
            indices.append(torch.as_tensor(np.asarray(chosen), dtype=torch.int64))
            reports.append(report.to_dict())
        lengths = {clip.shape[0] for clip in clips}
        if len(lengths) > 1:
            raise ValueError(f"videos of a batch must give the same number of frames, got {sorted(lengths)}")
        data = {"pixel_values_videos": torch.stack(clips) if len(clips) > 1 else clips[0][None]}
        if return_frame_indices:
            data["frame_indices"] = torch.stack(indices)
        output = BatchFeature(data=data, tensor_type=return_tensors)
        output["decode_reports"] = reports  # a list of dicts: kept out of the tensor conversion
        return output

    def _frame_resizer(self, options: dict[str, Any]):
        """(H, W, 3) uint8 -> (h, w, 3) uint8 resized per `resize_mode`, one frame at a time (same kernel, same
        values as resizing the stacked clip)."""
        size: SizeDict = options["size"]
        resample, mode = options["resample"], options["resize_mode"]

        def resize_frame(frame: np.ndarray) -> np.ndarray:
            image = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None]
            if mode == "squash":
                image = self.resize(image, SizeDict(height=size.height, width=size.width), resample=resample)
            else:
                height, width = image.shape[-2:]
                scale = max(size.height / height, size.width / width)
                covering = SizeDict(
                    height=max(size.height, round(height * scale)), width=max(size.width, round(width * scale))
                )
                image = tvF.center_crop(self.resize(image, covering, resample=resample), [size.height, size.width])
            return image[0].permute(1, 2, 0).contiguous().numpy()

        return resize_frame

    def _frame_pipeline(self, options: dict[str, Any]):
        """(H, W, 3) uint8 -> (3, h, w) float32: resized per `resize_mode`, rescaled and normalised, one frame at a
        time (the same element-wise operations, so the same values, as on the stacked clip)."""
        resize_frame = self._frame_resizer(options) if options["do_resize"] else None

        def prepare_frame(frame: np.ndarray) -> np.ndarray:
            if resize_frame is not None:
                frame = resize_frame(frame)
            image = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None]
            pixels = self.rescale_and_normalize(
                image,
                options["do_rescale"],
                options["rescale_factor"],
                options["do_normalize"],
                options["image_mean"],
                options["image_std"],
            )
            return pixels[0].to(torch.float32).contiguous().numpy()

        return prepare_frame


def load_saved_processor(source: str | os.PathLike, revision: str | None = None,
                         **kwargs: Any) -> QClipVideoProcessor | None:
    """The video processor saved with a model (`video_preprocessor_config.json` in its folder or Hub repo), or
    `None` when the model holds none (then build one with [`QClipVideoProcessor.for_model`]).

    The pipeline, `qclip-vqa score`, the report and the app all take their processor from here, so a value edited in
    the saved file (`num_frames`, `seed`, ...) is what every one of them uses. A saved file that cannot be read
    raises (a broken processor is never silently replaced by defaults).

    Args:
        source (`str` or `os.PathLike`): a saved model folder or a Hub repo id.
        revision (`str`, *optional*): the Hub revision (a commit hash pins the one the model was loaded from).
        kwargs: processor options that override the saved ones (e.g. `num_frames`).

    Raises:
        [`~qclip_hf.errors.ModelLoadError`]: `source` is neither a folder nor a Hub repo this machine can reach.

    Example:
        ```python
        >>> load_saved_processor("outputs/demo/run/best").num_frames  # doctest: +SKIP
        4
        ```
    """
    from .loading_qclip import resolve_model_dir

    folder = resolve_model_dir(source, revision=revision, allow_patterns=[VIDEO_PROCESSOR_NAME])
    if not (folder / VIDEO_PROCESSOR_NAME).is_file():
        return None
    return QClipVideoProcessor.from_pretrained(str(folder), **kwargs)


def _square_side(size: Any) -> tuple[int, int] | None:
    """(height, width) from an image processor's `size` / `crop_size` entry."""
    if size is None:
        return None
    if isinstance(size, int):
        return (size, size)
    size = dict(size)
    if size.get("height") and size.get("width"):
        return (int(size["height"]), int(size["width"]))
    if size.get("shortest_edge"):
        return (int(size["shortest_edge"]), int(size["shortest_edge"]))
    return None


def _is_raw_yuv(video: Any) -> bool:
    """Whether `raw_format` applies: inputs named `*.yuv` (raw bytes must go through `decode_frames` directly)."""
    if isinstance(video, dict):
        video = video.get("path")
    return isinstance(video, (str, os.PathLike)) and os.fspath(video).lower().endswith(".yuv")


def _as_batch(videos: Any) -> list[Any]:
    """A list of videos from one video or a batch (a list of PIL images is one video; any other sequence,
    e.g. a 🤗 datasets column, is a batch)."""
    if isinstance(videos, (np.ndarray, torch.Tensor)):
        return list(videos) if videos.ndim == 5 else [videos]
    if isinstance(videos, (str, bytes, bytearray, memoryview, dict, os.PathLike)) or hasattr(videos, "read"):
        return [videos]
    if hasattr(videos, "_hf_encoded"):  # a datasets torchcodec decoder is one video, though it is indexable
        return [videos]
    if hasattr(videos, "__len__") and hasattr(videos, "__iter__"):
        batch = list(videos)
        if not batch:
            raise ValueError("videos must not be empty")
        return [batch] if is_decoded_video(batch) else batch
    return [videos]


def register_qclip_video_processor(config_class: type) -> None:
    """Make `AutoVideoProcessor` resolve `config_class` (model_type "qclip") to `QClipVideoProcessor`.

    Example:

    ```python
    >>> from transformers import AutoVideoProcessor
    >>> register_qclip_video_processor(QClipConfig)
    >>> AutoVideoProcessor.from_pretrained("qclip-processor")  # a directory saved by QClipVideoProcessor
    ```
    """
    from transformers import AutoVideoProcessor

    AutoVideoProcessor.register(config_class, QClipVideoProcessor, exist_ok=True)


__all__ = ["QClipVideoProcessor", "QClipVideoProcessorKwargs", "RESIZE_MODES", "VIDEO_PROCESSOR_NAME",
           "load_saved_processor", "register_qclip_video_processor"]
