"""Tokenised Q-CLIP prompts cached on disk, so a new model on a local backbone needs no tokenizer after the first.

Loading a CLIP-style tokenizer costs about 0.3 s (transformers parses a multi-megabyte `tokenizer.json`), more than
loading a PE-Core-L backbone's memory-mapped weights. A new [`QClipModel`] only needs the five prompts' token ids,
which depend on nothing but the tokenizer's files and the tokenisation arguments, so they are stored once under
`$QCLIP_HF_CACHE/prompt_tokens/` (default `$HF_HOME/qclip_hf/prompt_tokens/`), one small JSON file per key. The key
is a SHA-256 of the tokenizer files' bytes and of every argument, so an edited tokenizer or another prompt scheme
never reuses an entry. Only local tokenizer folders are cached (a Hub id would need a network round trip to know
its files). A saved model carries its own `prompt_tokens.json` and never consults this cache.

Nothing heavy is imported here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

# Every file a transformers tokenizer may read from its folder.
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.json",
    "vocab.txt", "merges.txt", "spiece.model", "sentencepiece.bpe.model", "tokenizer.model", "chat_template.jinja",
)  # fmt: skip
CACHE_VERSION = 1


def prompt_token_cache_dir() -> Path:
    """`$QCLIP_HF_CACHE/prompt_tokens`, by default under `$HF_HOME/qclip_hf` (as converted PE-Core backbones)."""
    root = os.environ.get("QCLIP_HF_CACHE")
    if not root:
        from huggingface_hub.constants import HF_HOME

        root = os.path.join(HF_HOME, "qclip_hf")
    return Path(root) / "prompt_tokens"


def prompt_token_key(tokenizer_dir: str | os.PathLike | None, **arguments: Any) -> str | None:
    """The cache key of tokenising with the tokenizer in `tokenizer_dir` and `arguments`; `None` if not cacheable.

    Example:
        ```python
        >>> prompt_token_key("/no/such/folder", prompts=["a"]) is None
        True
        ```
    """
    if tokenizer_dir is None or not os.path.isdir(tokenizer_dir):
        return None
    digest = hashlib.sha256(json.dumps({"version": CACHE_VERSION, **arguments}, sort_keys=True).encode())
    found = False
    for name in TOKENIZER_FILES:
        path = os.path.join(tokenizer_dir, name)
        if os.path.isfile(path):
            found = True
            digest.update(name.encode() + b"\0")
            digest.update(_file_digest(path))
    return digest.hexdigest() if found else None


_FILE_DIGESTS: dict[tuple, bytes] = {}


def _file_digest(path: str) -> bytes:
    """SHA-256 of a file's bytes, remembered for this process while the file's identity and times are unchanged.

    A PE-Core tokenizer.json is 3.6 MB (~4 ms to hash); models built one after another in one process (sweeps,
    notebooks, tests) hash it once. Any write changes the file's size, mtime or ctime, so an edited file is hashed
    again.
    """
    stat = os.stat(path)
    identity = (os.path.realpath(path), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
    digest = _FILE_DIGESTS.get(identity)
    if digest is None:
        with open(path, "rb") as handle:
            digest = hashlib.sha256(handle.read()).digest()
        if len(_FILE_DIGESTS) > 256:  # a long-lived process touching many tokenizers: keep the memo small
            _FILE_DIGESTS.clear()
        _FILE_DIGESTS[identity] = digest
    return digest


def load_prompt_tokens(key: str | None) -> dict[str, list] | None:
    """The cached token ids of `key`, or `None` (no key, no entry, or an unreadable entry)."""
    if key is None:
        return None
    try:
        with open(prompt_token_cache_dir() / f"{key}.json", encoding="utf-8") as handle:
            entry = json.load(handle)
    except (OSError, ValueError):
        return None
    required = ("prompts", "input_ids", "attention_mask", "context_positions")
    return entry if isinstance(entry, dict) and all(name in entry for name in required) else None


def store_prompt_tokens(key: str | None, token_ids: dict[str, list]) -> None:
    """Write `token_ids` under `key` atomically; a read-only or full disk only costs the next model its tokenizer."""
    if key is None:
        return
    folder = prompt_token_cache_dir()
    temporary = folder / f"{key}.{os.getpid()}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(token_ids), encoding="utf-8")
        os.replace(temporary, folder / f"{key}.json")
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)


__all__ = ["load_prompt_tokens", "prompt_token_cache_dir", "prompt_token_key", "store_prompt_tokens"]
