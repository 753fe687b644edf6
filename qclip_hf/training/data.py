"""The torch view of a loaded 🤗 dataset for training and evaluation: processed clips and labels.

Specs, loading and file checks live on the data side (`qclip_hf.data.specs`, `qclip_hf.data.checks`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ..data.specs import video_input
from ..models.qclip.video_processing_qclip import QClipVideoProcessor
from ..video.sources import RawVideoFormat

__all__ = ["VideoQualityDataset"]


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
