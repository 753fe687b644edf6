"""Export Q-CLIP's code next to a saved model so it loads with `trust_remote_code=True` without qclip-hf installed.

transformers copies a custom model's file and the files it imports with *single-dot* relative imports from the
same folder. Q-CLIP's code lives in a package (the PEFT-style `tuners/scma/`, `backbones/`), so on
`register_for_auto_class` this module writes a flat copy: every package module the modeling file needs, renamed
after its dotted path (`qclip_hf.tuners.scma.config` -> `tuners_scma_config.py`) and with its relative imports
rewritten to those flat names. The model folder's own files keep their names. transformers' modular converter
(`modular_*.py` -> flat `modeling_*.py`) is the precedent for shipping generated flat code.
"""

from __future__ import annotations

import ast
import importlib
import os
import sys
from pathlib import Path
from typing import Any

_PACKAGE = __name__.split(".")[0]
_MODEL_PACKAGE = __name__.rsplit(".", 1)[0]
# Exported beside the model so `pipeline(model=repo, trust_remote_code=True)` needs no local registration: the
# pipeline (with the video processor it imports) and the `custom_pipelines` entry transformers reads in config.json.
_PIPELINE_MODULE = _PACKAGE + ".pipelines.video_quality"
_PIPELINE_CLASS = "VideoQualityPipeline"
_PIPELINE_TASK = "video-quality"


def _flat_name(module_name: str) -> str:
    if module_name.startswith(_MODEL_PACKAGE + "."):
        return module_name[len(_MODEL_PACKAGE) + 1:]
    return module_name[len(_PACKAGE) + 1:].replace(".", "_")


def _module_file(module_name: str) -> Path:
    module = sys.modules.get(module_name) or importlib.import_module(module_name)
    return Path(module.__file__)


def _resolve(module_name: str, is_package: bool, node: ast.ImportFrom) -> str:
    base = module_name.split(".")
    base = base if is_package else base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _rewrite(module_name: str) -> tuple[str, list[str]]:
    """The module's source with package-relative imports made flat, and the package modules it imports."""
    path = _module_file(module_name)
    source = path.read_text(encoding="utf-8")
    is_package = path.name == "__init__.py"
    lines = source.splitlines(keepends=True)
    needed: list[str] = []
    edits = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom) or node.level == 0:
            continue
        if node.module is None:
            raise ValueError(f"{path}: `from . import x` cannot be flattened for trust_remote_code; import names.")
        target = _resolve(module_name, is_package, node)
        needed.append(target)
        names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in node.names)
        edits.append((node.lineno, node.end_lineno, node.col_offset, f"from .{_flat_name(target)} import {names}\n"))
    for start, end, col, text in sorted(edits, reverse=True):
        lines[start - 1:end] = [" " * col + text]
    return "".join(lines), needed


def export_remote_code(model: Any, save_directory: str | os.PathLike) -> list[str]:
    """Write the flat code files for `model` (and the `video-quality` pipeline with its video processor) into
    `save_directory`, and set `model.config.auto_map` and `model.config.custom_pipelines`.

    Returns the names of the files written.

    Example:
        ```python
        >>> model.register_for_auto_class("AutoModel")  # doctest: +SKIP
        >>> model.save_pretrained("my-qclip")  # calls export_remote_code  # doctest: +SKIP
        ```
    """
    root_modules = [type(model).__module__, type(model.config).__module__, _PIPELINE_MODULE]
    if not root_modules[0].startswith(_PACKAGE + "."):
        raise ValueError(f"{type(model).__name__} was not loaded from the {_PACKAGE} package; nothing to export.")
    written, queue, seen = [], list(root_modules), set()
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        source, needed = _rewrite(name)
        filename = _flat_name(name) + ".py"
        Path(save_directory, filename).write_text(source, encoding="utf-8")
        written.append(filename)
        queue.extend(needed)
    model.config.auto_map = {
        "AutoConfig": f"{_flat_name(type(model.config).__module__)}.{type(model.config).__name__}",
        "AutoModel": f"{_flat_name(type(model).__module__)}.{type(model).__name__}",
    }
    # The format `Pipeline.save_pretrained` writes (transformers/pipelines/base.py), read by `pipeline()`.
    model.config.custom_pipelines = {
        _PIPELINE_TASK: {"impl": f"{_flat_name(_PIPELINE_MODULE)}.{_PIPELINE_CLASS}", "pt": ["AutoModel"], "tf": [],
                         "type": "multimodal"}
    }
    return sorted(written)
