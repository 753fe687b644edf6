"""Datasets for training and evaluation: dataset specs on the command line and a torch view with processed clips."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..data.checks import ON_MISSING_CHOICES, DataCheck, check_data_files, file_problem
from ..data.raw_format import parse_raw_format, spec_raw_format
from ..data.videofolder import load_videofolder
from ..data.vqa import VQA_DATASETS, load_vqa_dataset
from ..models.qclip.video_processing_qclip import QClipVideoProcessor
from ..video.sources import RawVideoFormat

SPEC_KINDS = ("videofolder", *VQA_DATASETS)

__all__ = ["ON_MISSING_CHOICES", "SPEC_KINDS", "DataCheck", "VideoQualityDataset", "check_data_files", "file_problem",
           "load_dataset_from_spec", "parse_raw_format", "spec_raw_format", "video_input"]


def load_dataset_from_spec(spec: str, labels_dir: str | None = None, on_missing: str = "warn"):
    """A `datasets.Dataset` from a command-line spec `KIND:PATH`.

    `KIND` is `videofolder` (a folder of videos with `metadata.csv`: `file_name`, `mos`) or one of the standard
    datasets (`KoNViD-1k`, `LSVQ-train`, `LSVQ-test`, `LSVQ-1080p`, `LIVE-VQC`, `YouTube-UGC`, `CVD2014`,
    `LIVE-Qualcomm`), with `PATH` the dataset root its label list is relative to.

    Example:
        ```python
        >>> ds = load_dataset_from_spec("videofolder:outputs/synthetic_vqa/train")  # doctest: +SKIP
        >>> ds = load_dataset_from_spec("KoNViD-1k:/data/KoNViD", labels_dir="../shared/data_labels")  # doctest: +SKIP
        ```
    """
    kind, sep, path = spec.partition(":")
    if not sep or not path:
        raise ValueError(f"dataset spec {spec!r} must look like KIND:PATH; KIND one of {list(SPEC_KINDS)}.")
    if kind not in SPEC_KINDS:
        raise ValueError(f"dataset spec {spec!r}: unknown kind {kind!r}; allowed: {list(SPEC_KINDS)}.")
    if not os.path.isdir(path):
        raise FileNotFoundError(f"dataset spec {spec!r}: {path!r} is not a directory.")
    if kind == "videofolder":
        return load_videofolder(path, on_missing=on_missing)
    return load_vqa_dataset(kind, path, labels_dir=labels_dir, on_missing=on_missing)


def video_input(value: Any) -> Any:
    """The processor input of one dataset cell: a path string, or the `{"path", "bytes"}` dict of a `Video` column."""
    if isinstance(value, dict):
        return value.get("path") or value.get("bytes")
    return value


class VideoQualityDataset(Dataset):
    """Processed clips and labels of a 🤗 dataset, with reproducible sampling.

    Item `i` of epoch `e` is sampled with a generator seeded by `(seed, e, i)`: the frames a video gets do not
    depend on the worker, the process or on whether the run was resumed, so an interrupted and resumed run sees
    exactly what an uninterrupted one sees. In eval mode the processor's own eval rule applies (same frames always).

    Args:
        dataset (`datasets.Dataset`): rows with a video column and a label column.
        processor ([`QClipVideoProcessor`]): turns a video into `pixel_values_videos`.
        label_column (`str`): the MOS column to learn/evaluate.
        training (`bool`): sample with the training strategy (e.g. `Mixed`) instead of the eval one.
        sampling_strategy (`str`, *optional*): override of the processor's strategy for this split.
        seed (`int`): base seed.
        name (`str`): what the dataset is (e.g. its spec), used in error messages.
        raw_format (`RawVideoFormat`, *optional*): geometry of the set's raw `.yuv` files (see
            `DataCheck.raw_formats`); passed to the processor.
    """

    def __init__(self, dataset, processor: QClipVideoProcessor, label_column: str = "mos", training: bool = False,
                 sampling_strategy: str | None = None, seed: int = 0, video_column: str = "video",
                 name: str = "dataset", raw_format: RawVideoFormat | dict | None = None):
        for column in (video_column, label_column):
            if column not in dataset.column_names:
                raise ValueError(f"{name} has no {column!r} column; columns: {dataset.column_names}.")
        if len(dataset) == 0:
            raise ValueError(f"{name} is empty: no videos to train or evaluate on.")
        self.dataset = dataset
        self.processor = processor
        self.label_column = label_column
        self.video_column = video_column
        self.training = training
        self.sampling_strategy = sampling_strategy
        self.seed = seed
        self.epoch = 0
        self.labels = np.asarray(dataset[label_column], dtype=np.float32)
        raw_format = RawVideoFormat.from_any(raw_format)
        self.raw_format = raw_format.to_dict() if raw_format is not None else None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        row = self.dataset[int(index)]
        options = {}
        if self.sampling_strategy is not None:
            options["sampling_strategy"] = self.sampling_strategy
        if self.raw_format is not None:
            options["raw_format"] = self.raw_format
        if self.training:
            options["seed"] = int(np.random.SeedSequence([self.seed, self.epoch, int(index)]).generate_state(1)[0])
        motion = row.get("motion_profile")
        batch = self.processor(video_input(row[self.video_column]), training=self.training,
                               motion_profiles=[motion] if motion is not None else None, **options)
        return {
            "pixel_values_videos": batch["pixel_values_videos"][0],
            "labels": torch.tensor(self.labels[index]),
            "index": torch.tensor(int(index)),
        }
