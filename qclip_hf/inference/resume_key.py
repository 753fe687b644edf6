"""The resume key: what must be equal for a row of an earlier run to be reused instead of scoring the file again.

A row is reused only when all three match:

- the **file identity**: its path, size in bytes and modification time (nanoseconds) — a file rewritten in place
  is scored again (URLs have no identity beyond their text: a URL is reused while the run key matches);
- the **model fingerprint**: the model's id or absolute directory, the requested revision, the resolved commit
  (Hub models) and a SHA-256 of the model's own files (config, adapter and head weights, calibration — a new
  calibration changes every row's `mos` and `level`; the backbone is named by its id or path inside config.json);
- every **option that changes a score**: the video processor's whole configuration (frame size, normalisation,
  `num_frames`, sampling strategy and seed, resize mode, raw format, ...) and the pipeline's temporal options
  (`return_temporal`, `num_segments`).

The last two are hashed into one `run_key` (16 hex digits) stored in every row with `size` and `mtime_ns`.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from .files import is_url

# Files of a saved Q-CLIP model that determine its scores (weights and configs); the README does not.
MODEL_FILE_SUFFIXES = (".safetensors", ".bin", ".json")
MODEL_FILE_EXCLUDE = ("README.md", "training_args.bin")
HUB_MODEL_FILES = ("config.json", "adapter_config.json", "adapter_model.safetensors", "model.safetensors",
                   "video_preprocessor_config.json", "calibration.json")
_CHUNK = 1 << 20


def file_identity(path: str) -> dict[str, int | None]:
    """`{"size", "mtime_ns"}` of a file (both `None` for a URL or a path that cannot be read).

    Example:
        ```python
        >>> file_identity("clip.mp4")  # doctest: +SKIP
        {'size': 120433, 'mtime_ns': 1764421200123456789}
        ```
    """
    if is_url(path):
        return {"size": None, "mtime_ns": None}
    try:
        stat = os.stat(path)
    except OSError:
        return {"size": None, "mtime_ns": None}
    return {"size": int(stat.st_size), "mtime_ns": int(stat.st_mtime_ns)}


def _hash_files(paths: list[str]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(os.path.basename(path).encode() + b"\0")
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def _hash_state_dict(model: Any) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode() + b"\0" + str(tuple(tensor.shape)).encode() + str(tensor.dtype).encode())
        digest.update(tensor.detach().cpu().contiguous().view(-1).view(dtype=_byte_dtype()).numpy().tobytes())
    return digest.hexdigest()


def _byte_dtype() -> Any:
    import torch

    return torch.uint8


def model_fingerprint(model: Any = None, source: str | None = None, revision: str | None = None) -> dict[str, Any]:
    """What identifies a model's scores: `{"model", "revision", "commit", "weights_sha256"}`.

    Args:
        model: the loaded model (used for its commit hash, and hashed tensor by tensor when its files are unknown).
        source (`str`, *optional*): the id or directory it was loaded from (default: `model.name_or_path`).
        revision (`str`, *optional*): the revision asked for.

    A local directory is identified by its absolute path and the SHA-256 of its top-level weight and config
    files; a Hub id by the id, revision, resolved commit and the SHA-256 of its cached files; a model with
    neither by the SHA-256 of its state dict.

    Example:
        ```python
        >>> model_fingerprint(source="outputs/demo/run/best")["model"]  # doctest: +SKIP
        '/home/me/qclip/outputs/demo/run/best'
        ```
    """
    source = source or (getattr(model, "name_or_path", None) if model is not None else None) or None
    commit = getattr(getattr(model, "config", None), "_commit_hash", None)
    if source is not None and os.path.isdir(source):
        files = sorted(
            os.path.join(source, name) for name in os.listdir(source)
            if name.endswith(MODEL_FILE_SUFFIXES) and name not in MODEL_FILE_EXCLUDE
            and os.path.isfile(os.path.join(source, name))
        )
        return {"model": os.path.abspath(source), "revision": revision, "commit": commit,
                "weights_sha256": _hash_files(files)}
    if source is not None:
        from huggingface_hub import try_to_load_from_cache

        files = []
        for name in HUB_MODEL_FILES:
            cached = try_to_load_from_cache(source, name, revision=commit or revision)
            if isinstance(cached, str):
                files.append(cached)
        if files:
            return {"model": source, "revision": revision, "commit": commit, "weights_sha256": _hash_files(files)}
    if model is None:
        raise ValueError("model_fingerprint needs a loaded model or the directory / Hub id it comes from")
    return {"model": source, "revision": revision, "commit": commit, "weights_sha256": _hash_state_dict(model)}


def scoring_options(pipe: Any, **pipeline_params: Any) -> dict[str, Any]:
    """Every option of `pipe` and the call that changes a score (the processor's configuration and the call's
    `num_frames`, `sampling_strategy`, `return_temporal`, `num_segments`), resolved to effective values."""
    processor = pipe.video_processor.to_dict()
    for runtime in ("training", "_generator", "processor_class", "video_processor_type"):
        processor.pop(runtime, None)
    for key in ("num_frames", "sampling_strategy"):
        if pipeline_params.get(key) is not None:
            processor[key] = pipeline_params[key]
    temporal = bool(pipeline_params.get("return_temporal"))
    return {"processor": processor, "return_temporal": temporal,
            "num_segments": pipeline_params.get("num_segments") if temporal else None}


def run_key(fingerprint: dict[str, Any], options: dict[str, Any]) -> str:
    """16 hex digits hashing the model fingerprint and the scoring options (the part of the resume key shared by
    every file of a run).

    Example:
        ```python
        >>> run_key({"model": "m", "weights_sha256": "0"}, {"num_frames": 8})
        '703e015822e3fd25'
        ```
    """
    text = json.dumps({"model": fingerprint, "options": options}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


__all__ = ["file_identity", "model_fingerprint", "run_key", "scoring_options"]
