"""Where a Q-CLIP model and its backbone load from, and what a user is told when they cannot.

- `resolve_model_dir`: a local folder, or a Hub repo downloaded into the cache (one `snapshot_download`), with every
  failure turned into one [`ModelLoadError`] naming the input and the fix (missing path, offline and not cached,
  gated, missing repo or revision, no connection).
- Portable backbone paths: `portable_backbone_reference` (at save: relative to the saved folder, `./...` inside it,
  `../...` beside it) with `backbone_fallback_path` (the absolute path kept beside a `../...` one), and
  `resolve_backbone_reference` (at load: relative to the model folder, then the absolute fallback).
- `load_backbone`: the frozen dual encoder, built the way transformers builds pretrained models (meta device, weights
  assigned, nothing randomly initialised first), with `QClipConfig.backbone_config_overrides` applied.
- `load_safetensors` and `quiet_progress_bars`: corrupt weights named; no "Loading weights" bars for a tiny model.

Nothing heavy is imported at module level: `qclip_hf.models.qclip.configuration_qclip` imports this module.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ...errors import ModelLoadError

# A Hub repo id: `name` or `namespace/name` (letters, digits, `-`, `_`, `.`), never starting with `.` or `/`.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
RELATIVE_PREFIX = "./"
# The tokenised prompts: loading needs no tokenizer (about 1 s for CLIP's BPE vocabulary) and keeps the exact ids.
PROMPT_TOKENS_NAME = "prompt_tokens.json"
# The trainable parts Q-CLIP adds outside PEFT's adapter file (prompt context, head).
HEAD_WEIGHTS_NAME = "model.safetensors"
# PEFT's adapter weights file, as `PeftModel.save_pretrained` names it.
ADAPTER_WEIGHTS_NAME = "adapter_model.safetensors"


def looks_like_hub_id(name: str) -> bool:
    """Whether `name` can be a Hub repo id (`name` or `namespace/name`), i.e. is not only a local path.

    Example:
        ```python
        >>> looks_like_hub_id("facebook/PE-Core-L14-336"), looks_like_hub_id("/data/model"), looks_like_hub_id("a/b/c")
        (True, False, False)
        ```
    """
    return bool(_HUB_ID.match(name)) and ".." not in name and not name.endswith(".")


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def hub_error(err: BaseException, repo_id: str, what: str = "model", revision: str | None = None) -> ModelLoadError | None:
    """The [`ModelLoadError`] for a Hub failure anywhere in `err`'s cause chain, or `None` if it is not one."""
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    seen = set()
    chain = err
    while chain is not None and id(chain) not in seen:
        seen.add(id(chain))
        if isinstance(chain, GatedRepoError):
            return ModelLoadError(
                f"{what} '{repo_id}' is a gated Hub repository and this machine has no access to it",
                f"accept its conditions on https://huggingface.co/{repo_id}, then log in with `hf auth login` "
                "(or set HF_TOKEN)",
            )
        if isinstance(chain, RevisionNotFoundError):
            return ModelLoadError(f"{what} '{repo_id}' has no revision '{revision}' on the Hub",
                                  "check the branch, tag or commit name (revision=)")
        if isinstance(chain, RepositoryNotFoundError):
            return ModelLoadError(
                f"{what} '{repo_id}' is neither a local folder nor a Hub repository this machine can access",
                "check the spelling and the working directory; if the repo is private, log in with `hf auth login` "
                "(or set HF_TOKEN)",
            )
        if isinstance(chain, LocalEntryNotFoundError):
            if _offline():
                return ModelLoadError(
                    f"{what} '{repo_id}' is not in the local Hugging Face cache and HF_HUB_OFFLINE=1 forbids "
                    "downloading it",
                    f"download it once with internet access (`hf download {repo_id}`), unset HF_HUB_OFFLINE, or pass "
                    "a local folder",
                )
            return ModelLoadError(
                f"{what} '{repo_id}' is not in the local Hugging Face cache and the Hub could not be reached",
                f"check the internet connection (or HF_ENDPOINT), or download it once with `hf download {repo_id}`",
            )
        chain = chain.__cause__ or chain.__context__
    return None


# Keywords transformers passes to a model class's `from_pretrained` on its own (the Auto classes, `pipeline()`,
# remote-code loading): bookkeeping that says nothing about how Q-CLIP must load.
TRANSFORMERS_BOOKKEEPING_KWARGS = frozenset({
    "_from_auto", "_from_pipeline", "_commit_hash", "trust_remote_code", "code_revision", "adapter_kwargs",
    "pretrained_model_name_or_path",
})
# Options of `PreTrainedModel.from_pretrained` (transformers 5.x) that Q-CLIP's loader does not implement, with the
# value that asks for nothing (what the Auto classes pass when the caller did not set them). Any other value is
# refused by name: silently ignoring e.g. `device_map="auto"` would hand back a model the caller did not ask for.
UNSUPPORTED_LOADING_OPTIONS: dict[str, tuple[Any, ...]] = {
    "adapter_name": (None,), "allow_all_kernels": (None, False), "attn_implementation": (None,),
    "device_map": (None,), "device_mesh": (None,), "disable_mmap": (None, False), "distributed_config": (None,),
    "experts_implementation": (None,), "fusion_config": (None,), "generation_config": (None,), "gguf_file": (None,),
    "ignore_mismatched_sizes": (False,), "kernel_config": (None,), "kernels_mode": (None,), "key_mapping": (None,),
    "low_cpu_mem_usage": (None, True), "max_memory": (None,), "offload_buffers": (False,), "offload_folder": (None,),
    "output_loading_info": (False,), "quantization_config": (None,), "state_dict": (None,), "tp_plan": (None,),
    "tp_size": (None,), "tqdm_class": (None,), "use_kernels": (False,), "use_safetensors": (None, True),
    "variant": (None,), "weights_only": (True,),
}


def check_loading_kwargs(kwargs: dict[str, Any], known: set[str] | frozenset[str] = frozenset()) -> None:
    """Refuse, by name, what `QClipModel.from_pretrained` got and cannot honour; `kwargs` is emptied on success.

    Accepted: transformers' bookkeeping keywords and unsupported loader options at their do-nothing value (what the
    Auto classes pass). Refused with a `ValueError`: an unsupported option set to something else (what to do instead
    is said), and any other keyword, with the closest known name when there is one (a typo). `known` adds the
    names the caller accepts itself, so they are suggested too.

    Example:
        ```python
        >>> check_loading_kwargs({"_from_auto": True, "device_map": None})
        >>> check_loading_kwargs({"revison": "main"}, known={"revision"})
        Traceback (most recent call last):
        ...
        ValueError: QClipModel.from_pretrained got an unexpected keyword argument 'revison' (did you mean 'revision'?).
        ```
    """
    import difflib

    for name in sorted(kwargs):
        value = kwargs[name]
        if name in TRANSFORMERS_BOOKKEEPING_KWARGS:
            continue
        if name in UNSUPPORTED_LOADING_OPTIONS:
            if any(value is default or value == default for default in UNSUPPORTED_LOADING_OPTIONS[name]):
                continue
            raise ValueError(
                f"QClipModel.from_pretrained does not support {name}={value!r}: a Q-CLIP model loads its frozen "
                "backbone and small trainable parts itself. Drop the argument (move the loaded model with "
                "`.to(device)`, cast it with `dtype=`)."
            )
        candidates = sorted(set(known) | set(UNSUPPORTED_LOADING_OPTIONS))
        close = difflib.get_close_matches(name, candidates, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ValueError(f"QClipModel.from_pretrained got an unexpected keyword argument '{name}'{hint}.")
    kwargs.clear()


def resolve_model_dir(
    name_or_path: str | os.PathLike,
    *,
    what: str = "model",
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    token: str | bool | None = None,
    local_files_only: bool = False,
    force_download: bool = False,
    allow_patterns: list[str] | None = None,
    subfolder: str = "",
    proxies: dict[str, str] | None = None,
) -> Path:
    """A local folder holding `name_or_path`'s files: the folder itself, or the Hub repo's cached snapshot.

    `subfolder` (as transformers has it) names a folder inside the repo or local folder that holds the model;
    `proxies` goes to `huggingface_hub`, which says how to set proxies there (since huggingface_hub 1.0, globally).

    Raises:
        ModelLoadError: for a missing local path (absolute or relative), an id that is offline and not cached, a gated,
            missing or private repo, a missing revision, a missing subfolder, or no connection.
    """
    folder = _resolve_repo_dir(name_or_path, what=what, revision=revision, cache_dir=cache_dir, token=token,
                               local_files_only=local_files_only, force_download=force_download,
                               allow_patterns=[f"{subfolder}/{p}" for p in allow_patterns]
                               if subfolder and allow_patterns else allow_patterns,
                               proxies=proxies)
    if not subfolder:
        return folder
    inner = folder / subfolder
    if not inner.is_dir():
        raise ModelLoadError(f"{what} '{os.fspath(name_or_path)}' has no subfolder '{subfolder}'",
                             "check the subfolder= argument against the repository's files")
    return inner


def _resolve_repo_dir(
    name_or_path: str | os.PathLike,
    *,
    what: str,
    revision: str | None,
    cache_dir: str | os.PathLike | None,
    token: str | bool | None,
    local_files_only: bool,
    force_download: bool,
    allow_patterns: list[str] | None,
    proxies: dict[str, str] | None,
) -> Path:
    name = os.fspath(name_or_path)
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ModelLoadError(f"{what} path '{name}' is a file, not a model folder",
                             "pass the folder that holds config.json")
    if not looks_like_hub_id(name) or path.is_absolute():
        raise ModelLoadError(
            f"{what} folder '{name}' does not exist (resolved to '{path.resolve()}')",
            "check the path and the working directory, or pass a Hub repo id such as 'namespace/name'",
        )
    from huggingface_hub import snapshot_download

    try:
        # `proxies` only when set: huggingface_hub >= 1.0 warns that it ignores it (and says what to do instead).
        folder = snapshot_download(name, revision=revision, cache_dir=cache_dir, token=token,
                                   local_files_only=local_files_only, force_download=force_download,
                                   allow_patterns=allow_patterns, **({"proxies": proxies} if proxies else {}))
    except Exception as err:
        mapped = hub_error(err, name, what, revision)
        if mapped is None and local_files_only and not isinstance(err, ModelLoadError):
            mapped = ModelLoadError(f"{what} '{name}' is not in the local Hugging Face cache (local_files_only=True)",
                                    f"download it once with `hf download {name}` or drop local_files_only")
        if mapped is None:
            mapped = ModelLoadError(f"{what} '{name}' could not be downloaded from the Hub: {err}",
                                    "check the internet connection (or HF_ENDPOINT) and try again")
        # `name` was tried on the Hub only because no such folder exists here: say that first (`my-qclip` is far more
        # often a folder in another working directory than a Hub repo).
        mapped = ModelLoadError(f"there is no folder '{name}' here ('{path.resolve()}' does not exist), and as a Hub "
                                f"id: {mapped.what}",
                                f"pass the model folder's path (or cd to where it is); {mapped.fix}")
        raise mapped from err
    return Path(folder)


def read_config_dict(folder: Path, what: str = "model") -> dict[str, Any]:
    """`folder/config.json` as a dict, with a clear error when it is missing or not valid JSON."""
    path = folder / "config.json"
    if not path.is_file():
        raise ModelLoadError(f"{what} folder '{folder}' has no config.json",
                             "pass a folder written by QClipModel.save_pretrained (or its Hub id)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelLoadError(f"{path} is not valid JSON ({err})",
                             "restore it from the original model (save it again, or download it again)") from err


def read_qclip_config_dict(folder: Path) -> dict[str, Any]:
    """`folder/config.json` as a dict, refused unless it describes a Q-CLIP model (`model_type` "qclip")."""
    config_dict = read_config_dict(folder)
    if config_dict.get("model_type") != "qclip":
        raise ModelLoadError(
            f"{folder / 'config.json'} describes a {config_dict.get('model_type')!r} model, not a Q-CLIP model",
            "pass a folder written by QClipModel.save_pretrained (a plain backbone goes in QClipConfig(backbone=...))",
        )
    return config_dict


def head_weights_file(folder: Path, source: str) -> Path:
    """`folder`'s prompt-context and head weights file, which every saved model has (`source`: the name given)."""
    path = folder / HEAD_WEIGHTS_NAME
    if not path.is_file():
        raise ModelLoadError(f"model folder '{source}' has no {HEAD_WEIGHTS_NAME} (prompt context and head)",
                             "save the model again with QClipModel.save_pretrained")
    return path


# --------------------------------------------------------------------------------------------- backbone paths
def portable_backbone_reference(backbone: str | None, save_directory: str | os.PathLike) -> str | None:
    """How `config.json` names a local backbone folder: its path relative to `save_directory`, `./rel/path` when it
    lies inside it, `../rel/path` when it lies beside it (the demo's `outputs/demo/tiny_backbone` seen from
    `outputs/demo/run/best` is `../../tiny_backbone`), so that moving or copying the folder that holds both keeps the
    model loading. Hub ids are kept as they are. [`backbone_fallback_path`] gives the absolute path stored beside a
    `../` reference.

    Example:
        ```python
        >>> portable_backbone_reference("/models/qclip/backbone", "/models/qclip")
        './backbone'
        >>> portable_backbone_reference("/models/tiny_backbone", "/models/run/best")  # doctest: +SKIP
        '../../tiny_backbone'
        ```
    """
    if backbone is None or not os.path.isdir(backbone):
        return backbone
    target = Path(backbone).resolve()
    root = Path(save_directory).resolve()
    try:
        return RELATIVE_PREFIX + target.relative_to(root).as_posix()
    except ValueError:
        pass
    try:
        return Path(os.path.relpath(target, root)).as_posix()
    except ValueError:  # another drive (Windows): no relative path exists
        return str(target)


def backbone_fallback_path(backbone: str | None, save_directory: str | os.PathLike) -> str | None:
    """The absolute path saved beside a backbone folder that lies outside `save_directory` (used when the relative
    path no longer resolves: the model folder moved without its backbone); `None` for Hub ids and folders inside.

    Example:
        ```python
        >>> backbone_fallback_path("/models/qclip/backbone", "/models/qclip") is None
        True
        ```
    """
    if backbone is None or not os.path.isdir(backbone):
        return None
    if portable_backbone_reference(backbone, save_directory).startswith(RELATIVE_PREFIX):
        return None
    return str(Path(backbone).resolve())


def resolve_backbone_reference(backbone: str | None, model_dir: str | os.PathLike | None,
                               fallback: str | None = None) -> str | None:
    """The backbone location a saved config names, made usable from any working directory.

    `./...` and `../...` (written by `save_pretrained`) are resolved against `model_dir`; a `../...` folder that is
    not there any more is looked for at `fallback` (the absolute path saved with it). An older relative path that
    exists relative to `model_dir` is resolved the same way, else relative to the working directory (how older
    versions read it). A local path that exists nowhere raises one [`ModelLoadError`] naming every place looked at.
    """
    if backbone is None:
        return None
    base = Path(model_dir) if model_dir is not None else None
    explicit = backbone.startswith((RELATIVE_PREFIX, "../"))
    # The fallback belongs to the `../` reference saved with it; a path edited by hand since then does not use it.
    if fallback is not None and (backbone.startswith(RELATIVE_PREFIX) or Path(fallback).name != Path(backbone).name):
        fallback = None
    where = f" named in {base / 'config.json'}" if base is not None else ""
    if base is not None and not Path(backbone).is_absolute():
        candidate = (base / backbone).resolve()
        if candidate.is_dir():
            return str(candidate)
        if fallback is not None and os.path.isdir(fallback):
            return str(Path(fallback).resolve())
        if explicit:
            if fallback is not None:
                raise ModelLoadError(
                    f"backbone folder '{backbone}'{where} was found neither relative to the model folder (at "
                    f"'{candidate}') nor at the absolute path it was saved from ('{fallback}')",
                    "move or copy the backbone folder to one of these places (keep it where it was relative to the "
                    "model folder when you move both), or set \"backbone\" in config.json to its new path or to a "
                    "Hub id",
                )
            raise ModelLoadError(
                f"backbone folder '{backbone}'{where} does not exist (expected at '{candidate}')",
                "move the backbone folder back beside config.json, or set \"backbone\" in config.json to its new "
                "path or to a Hub id",
            )
    if os.path.isdir(backbone):
        return str(Path(backbone).resolve())
    if Path(backbone).is_absolute() or not looks_like_hub_id(backbone):
        raise ModelLoadError(
            f"backbone folder '{backbone}'{where} does not exist",
            "move the backbone back to that path, or set \"backbone\" in config.json to its new path or to a Hub id",
        )
    return backbone


# --------------------------------------------------------------------------------------------- weights
@contextmanager
def quiet_progress_bars() -> Iterator[None]:
    """No transformers / huggingface_hub progress bars inside (tiny models would print "Loading weights" bars);
    restored afterwards. `QCLIP_HF_VERBOSE=1` keeps them."""
    if os.environ.get("QCLIP_HF_VERBOSE"):
        yield
        return
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
    from transformers.utils import logging as hf_logging

    transformers_on = hf_logging.is_progress_bar_enabled()
    hub_off = are_progress_bars_disabled()
    hf_logging.disable_progress_bar()
    disable_progress_bars()
    try:
        yield
    finally:
        if transformers_on:
            hf_logging.enable_progress_bar()
        if not hub_off:
            enable_progress_bars()


def load_safetensors(path: str | os.PathLike) -> dict[str, Any]:
    """`safetensors.torch.load_file(path)`, naming a corrupt or truncated file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelLoadError(
            f"weights file '{path}' is corrupt or truncated ({err})",
            "save the model again, or delete the file and download it again (force_download=True)",
        ) from err


def load_backbone(config: Any, dtype: Any = None, **hub_kwargs: Any):
    """The frozen dual encoder `config` names, with `config.backbone_config_overrides` applied.

    Pretrained backbones load through `AutoModel.from_pretrained`, which builds the model on the meta device and
    assigns the checkpoint's tensors (no random initialisation that is then overwritten). `backbone_config` builds a
    randomly initialised backbone (tiny test models).
    """
    from transformers import AutoConfig, AutoModel

    if config.backbone_config is not None:
        backbone_config = config.apply_backbone_overrides(config.backbone_config.__class__.from_dict(
            config.backbone_config.to_dict()))
        return AutoModel.from_config(backbone_config)
    source, revision = backbone_source(config)
    what = "backbone"
    kwargs = {k: v for k, v in hub_kwargs.items() if v is not None}
    try:
        with quiet_progress_bars():
            backbone_config = AutoConfig.from_pretrained(source, revision=revision, **kwargs)
            config.apply_backbone_overrides(backbone_config)
            extra = {"dtype": dtype} if dtype is not None else {}
            return AutoModel.from_pretrained(source, config=backbone_config, revision=revision, **extra, **kwargs)
    except ModelLoadError:
        raise
    except (OSError, ValueError) as err:
        mapped = hub_error(err, str(source), what, revision)
        if mapped is not None:
            raise mapped from err
        from safetensors import SafetensorError

        if isinstance(err.__cause__, SafetensorError) or "deserializ" in str(err) or "header" in str(err).lower():
            raise ModelLoadError(f"backbone weights in '{source}' are corrupt or truncated ({err})",
                                 "save or download the backbone again") from err
        if os.path.isdir(str(source)):
            raise ModelLoadError(f"backbone folder '{source}' cannot be loaded: {err}",
                                 "check that it holds a transformers model (config.json and weights)") from err
        raise


def backbone_source(config: Any) -> tuple[str, str | None]:
    from ..pe_core.hub_pe_core import converted_pe_core_path, is_pe_core_release

    backbone = resolve_backbone_reference(config.backbone, None)
    if is_pe_core_release(backbone):
        try:
            return str(converted_pe_core_path(backbone, revision=config.backbone_revision)), None
        except Exception as err:
            mapped = hub_error(err, backbone, "backbone", config.backbone_revision)
            if mapped is not None:
                raise mapped from err
            raise
    return backbone, config.backbone_revision


def saved_prompt_tokens(folder: str | os.PathLike, config: Any) -> dict[str, list] | None:
    """The tokenised prompts saved beside a model, if they were tokenised from this config's prompts."""
    path = os.path.join(folder, PROMPT_TOKENS_NAME)
    if not os.path.isfile(path):
        return None  # saved by an older version: the tokenizer is loaded instead
    try:
        with open(path, encoding="utf-8") as handle:
            saved = json.load(handle)
    except (OSError, json.JSONDecodeError):
        return None
    return saved if saved.get("prompts") == config.prompts() else None
