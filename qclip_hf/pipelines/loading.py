"""Load errors of `pipeline("video-quality", model=...)` that say what happened.

transformers' `pipeline()` reads the config and loads the model before any pipeline code runs, and wraps every load
failure in "Could not load model ... with any of the following classes" (a missing folder even reads "Repo id must
be in the form 'repo_name' or 'namespace/repo_name'"). For the "video-quality" task with a model id or folder, the
factory installed here loads the model with `QClipModel.from_pretrained` first, so its
[`~qclip_hf.errors.ModelLoadError`] (what failed — what to do) reaches the caller unchanged, then hands the loaded
model to transformers' own `pipeline()`. Every other task, a model object, and `trust_remote_code=True` (the
repo's own code decides how to load) go to transformers untouched.
"""

from __future__ import annotations

import functools
import os
import warnings
from typing import Any

TASK = "video-quality"
_MARK = "__qclip_video_quality_loader__"


def load_pipeline_model(model: str | os.PathLike, revision: str | None = None, token: str | bool | None = None,
                        dtype: Any = None, model_kwargs: dict[str, Any] | None = None) -> Any:
    """`QClipModel.from_pretrained(model, ...)` with the pipeline's arguments; raises `ModelLoadError` unchanged."""
    from ..models.qclip import QClipModel

    kwargs = dict(model_kwargs or {})
    kwargs.pop("_from_pipeline", None)
    if dtype is not None and dtype != "auto":
        import torch

        kwargs["dtype"] = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    with warnings.catch_warnings():
        # PEFT reads transformers' deprecated `is_gradient_checkpointing` while wrapping the backbone: noise to a
        # pipeline user, who cannot act on it.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return QClipModel.from_pretrained(os.fspath(model), revision=revision, token=token, **kwargs)


def wrap_pipeline_factory(factory: Any) -> Any:
    """`factory` (transformers' `pipeline`) with Q-CLIP loading for the "video-quality" task; idempotent."""
    if getattr(factory, _MARK, False):
        return factory

    @functools.wraps(factory)
    def pipeline(task: str | None = None, model: Any = None, *args: Any, **kwargs: Any) -> Any:
        if task == TASK and isinstance(model, (str, os.PathLike)) and not args and not kwargs.get("trust_remote_code"):
            model = load_pipeline_model(model, revision=kwargs.get("revision"), token=kwargs.get("token"),
                                        dtype=kwargs.get("dtype"), model_kwargs=kwargs.pop("model_kwargs", None))
        return factory(task, model, *args, **kwargs)

    setattr(pipeline, _MARK, True)
    return pipeline


def install_pipeline_loader() -> None:
    """Make `transformers.pipeline("video-quality", model=ID_OR_DIR)` load through `QClipModel.from_pretrained`.

    Called by `register_video_quality_pipeline`. Code that took a reference to `transformers.pipeline` before
    qclip-hf was imported keeps the original (whose load errors transformers wraps).

    Example:
        ```python
        >>> import qclip_hf
        >>> from transformers import pipeline
        >>> pipeline("video-quality", model="/no/such/folder")  # doctest: +SKIP
        qclip_hf.errors.ModelLoadError: model folder '/no/such/folder' does not exist — ...
        ```
    """
    import transformers
    import transformers.pipelines

    wrapped = wrap_pipeline_factory(transformers.pipelines.pipeline)
    transformers.pipelines.pipeline = wrapped
    transformers.pipeline = wrapped  # `from transformers import pipeline` reads the package attribute


__all__ = ["install_pipeline_loader", "load_pipeline_model", "wrap_pipeline_factory"]
