"""Checks of a saved Q-CLIP model that need no torch: run before the expensive imports, so a wrong `--model` fails in
a fraction of a second instead of after the whole model stack has loaded.

[`check_saved_model`] runs the same checks, with the same messages, that [`QClipModel.from_pretrained`] runs
first (it calls the same helpers of `loading_qclip`): the folder exists, holds a valid Q-CLIP `config.json`, the
backbone it names can be found, and its weights files are present and not truncated. A Hub id is downloaded into
the cache first (its small model files; the loader then reads them from there), so a name that is neither a folder
here nor a reachable repo fails at once.

Nothing heavy is imported here (json, pathlib, huggingface_hub's constants, safetensors' header reader).
"""

from __future__ import annotations

import os
from pathlib import Path

from ...errors import ModelLoadError
from .loading_qclip import (
    ADAPTER_WEIGHTS_NAME,
    HEAD_WEIGHTS_NAME,
    head_weights_file,
    read_qclip_config_dict,
    resolve_backbone_reference,
    resolve_model_dir,
)

# The file names `QClipModel.save_pretrained` writes (the adapter file is PEFT's).
ADAPTER_WEIGHTS_FILE = ADAPTER_WEIGHTS_NAME
HEAD_WEIGHTS_FILE = HEAD_WEIGHTS_NAME


def check_safetensors_header(path: str | os.PathLike) -> None:
    """Raise [`ModelLoadError`] if `path` is not a complete safetensors file (reads the header only, no tensors).

    Example:
        ```python
        >>> check_safetensors_header("my-qclip/model.safetensors")  # doctest: +SKIP
        ```
    """
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy"):
            pass
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelLoadError(
            f"weights file '{path}' is corrupt or truncated ({err})",
            "save the model again, or delete the file and download it again (force_download=True)",
        ) from err


def check_saved_model(name_or_path: str | os.PathLike, revision: str | None = None) -> Path:
    """Check a saved Q-CLIP model without loading it; return its local folder (a Hub repo's cached snapshot).

    Args:
        name_or_path (`str` or `os.PathLike`): a folder written by `QClipModel.save_pretrained`, or a Hub repo id.
        revision (`str`, *optional*): the Hub revision (used only for an offline cache look-up).

    Raises:
        [`~qclip_hf.errors.ModelLoadError`]: the folder is missing, is a file, has no or a broken `config.json`, is
            not a Q-CLIP model, names a backbone folder that does not exist, or lacks / has truncated weights files;
            or (offline) the Hub id is not in the cache. The message names the input and what to do.

    Example:
        ```python
        >>> from qclip_hf.models.qclip.checks_qclip import check_saved_model
        >>> check_saved_model("no/such/folder")
        Traceback (most recent call last):
        ...
        qclip_hf.errors.ModelLoadError: model folder 'no/such/folder' does not exist ...
        ```
    """
    name = os.fspath(name_or_path)
    # A Hub id is downloaded here (the loader then finds it in the cache): a name that is neither a folder here nor
    # a reachable repo fails in a second, before torch and the model stack are imported.
    folder = resolve_model_dir(name, revision=revision)
    config = read_qclip_config_dict(folder)
    if isinstance(config.get("backbone"), str) and config.get("backbone_config") is None:
        fallbacks = config.get("local_path_fallbacks") or {}
        resolve_backbone_reference(config["backbone"], folder, fallbacks.get("backbone"))
    check_safetensors_header(head_weights_file(folder, name))
    adapter = folder / ADAPTER_WEIGHTS_FILE
    if adapter.is_file():
        check_safetensors_header(adapter)
    return folder


__all__ = ["check_safetensors_header", "check_saved_model"]
