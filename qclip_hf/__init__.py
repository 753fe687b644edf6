"""qclip-hf: Q-CLIP video quality assessment on the Hugging Face stack.

Importing the package registers the "SCMA" PEFT method, the "qclip" and "pe_core" model types with the Auto classes,
the Q-CLIP video processor and the "video-quality" pipeline (see `qclip_hf.registration`: at once when transformers
or PEFT is already imported, otherwise as soon as one of them is). The public names below are imported lazily, on
first use, so `import qclip_hf` and `qclip-vqa --help` do not pay for torch.

Example:
    ```python
    >>> import qclip_hf
    >>> from transformers import pipeline
    >>> pipe = pipeline("video-quality", model="outputs/demo/run/best")  # doctest: +SKIP
    ```
"""

from ._lazy import lazy_attributes
from ._version import __version__ as __version__
from .registration import install_deferred_registration

_IMPORT_STRUCTURE = {
    "models.pe_core": ["PECoreConfig", "PECoreModel"],
    "models.qclip": ["PRESETS", "QClipConfig", "QClipModel", "QClipOutput", "QClipPreTrainedModel"],
    "models.qclip.video_processing_qclip": ["QClipVideoProcessor"],
    "pipelines.video_quality": ["VideoQualityPipeline"],
    "tuners.scma": ["SCMAConfig", "SCMAModel", "register_scma_peft_method"],
}

__getattr__, __dir__, __all__ = lazy_attributes(__name__, _IMPORT_STRUCTURE)

install_deferred_registration()
