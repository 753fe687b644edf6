"""Use Meta's PE-Core releases (`facebook/PE-Core-*`, one `.pt` state dict per repo) as transformers backbones.

Meta's repos hold `<name>.pt`, not a transformers checkpoint. The first time a Q-CLIP config names one, the `.pt` is
downloaded with `huggingface_hub`, converted once by [`convert_pe_core_checkpoint`] and kept in a cache folder
keyed by the repo and its commit; later loads (also offline) read the converted copy.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from huggingface_hub import hf_hub_download
from huggingface_hub.constants import HF_HOME

from .configuration_pe_core import resolve_pe_core_preset
from .convert_pe_core_checkpoint import convert_pe_core_checkpoint

_META_REPO = re.compile(r"^facebook/(PE-Core-[A-Za-z]+\d+-\d+)$")


def is_pe_core_release(repo_id: str | None) -> bool:
    """Whether `repo_id` names one of Meta's PE-Core release repos (e.g. `facebook/PE-Core-L14-336`)."""
    return bool(repo_id) and _META_REPO.match(str(repo_id)) is not None and not os.path.isdir(str(repo_id))


def converted_pe_core_path(repo_id: str, revision: str | None = None, cache_dir: str | None = None,
                           local_files_only: bool = False, token: str | None = None) -> Path:
    """Local transformers checkpoint of a PE-Core release, converting it on first use.

    Example:
        ```python
        >>> path = converted_pe_core_path("facebook/PE-Core-L14-336")  # doctest: +SKIP
        >>> PECoreModel.from_pretrained(path)  # doctest: +SKIP
        ```
    """
    match = _META_REPO.match(repo_id)
    if match is None:
        raise ValueError(f"{repo_id!r} is not a PE-Core release repo (facebook/PE-Core-<size><patch>-<resolution>).")
    name = match.group(1)
    preset = resolve_pe_core_preset(name)
    checkpoint = hf_hub_download(repo_id, f"{name}.pt", revision=revision, cache_dir=cache_dir,
                                 local_files_only=local_files_only, token=token)
    commit = Path(checkpoint).parent.name  # the snapshot folder is named after the commit
    root = Path(os.environ.get("QCLIP_HF_CACHE", os.path.join(HF_HOME, "qclip_hf")))
    output = root / "pe_core" / f"{name}-{commit}"
    if not (output / "config.json").is_file():
        # Convert beside the target and rename: several processes of one run may get here at once.
        staging = output.with_name(f"{output.name}.tmp-{os.getpid()}")
        convert_pe_core_checkpoint(checkpoint, staging, preset, source="meta")
        try:
            os.replace(staging, output)
        except OSError:  # another process finished first; its copy is identical
            shutil.rmtree(staging, ignore_errors=True)
    return output
