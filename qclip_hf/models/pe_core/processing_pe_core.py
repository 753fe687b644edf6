"""Image preprocessing PE-Core expects, and a `CLIPProcessor` pairing it with the PE-Core tokenizer.

PE-Core (open_clip's `PE-Core-*` pretrained configs, Meta's `transforms.py`) squashes the image to the native square
size with bilinear resampling (no crop, aspect ratio not kept) and normalises with mean = std = 0.5 per channel.
"""

from __future__ import annotations

import os

from transformers import CLIPImageProcessor, CLIPProcessor
from transformers.image_utils import PILImageResampling

from .configuration_pe_core import PECoreConfig
from .tokenization_pe_core import build_pe_core_tokenizer

PE_CORE_MEAN = (0.5, 0.5, 0.5)
PE_CORE_STD = (0.5, 0.5, 0.5)


def build_pe_core_image_processor(image_size: int = 336) -> CLIPImageProcessor:
    """A `CLIPImageProcessor` that resizes to `image_size` x `image_size` (bilinear, no crop) and normalises with
    mean = std = 0.5.

    Example:
        ```python
        >>> proc = build_pe_core_image_processor(336)
        >>> proc.size.height, proc.size.width, proc.do_center_crop, proc.image_mean
        (336, 336, False, (0.5, 0.5, 0.5))
        ```
    """
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size <= 0:
        raise ValueError(f"image_size must be a positive integer, got {image_size!r}.")
    return CLIPImageProcessor(
        size={"height": image_size, "width": image_size},
        do_center_crop=False,
        resample=PILImageResampling.BILINEAR,
        image_mean=list(PE_CORE_MEAN),
        image_std=list(PE_CORE_STD),
    )


def build_pe_core_processor(config: PECoreConfig, bpe_path: str | os.PathLike | None = None) -> CLIPProcessor:
    """The image processor and tokenizer matching `config`'s image size and text context, as one `CLIPProcessor`.

    Example:
        ```python
        >>> from qclip_hf.models.pe_core import PECoreConfig
        >>> processor = build_pe_core_processor(PECoreConfig.from_preset("PE-Core-L14-336"))
        >>> processor.tokenizer.model_max_length, processor.image_processor.size["height"]
        (32, 336)
        ```
    """
    return CLIPProcessor(
        image_processor=build_pe_core_image_processor(config.vision_config.image_size),
        tokenizer=build_pe_core_tokenizer(config.text_config.max_position_embeddings, bpe_path=bpe_path),
    )


__all__ = ["PE_CORE_MEAN", "PE_CORE_STD", "build_pe_core_image_processor", "build_pe_core_processor"]
