"""The CLIP BPE tokenizer PE-Core's text tower expects, built locally from open_clip's vocabulary file.

open_clip ships the BPE merges as `bpe_simple_vocab_16e6.txt.gz`; its `SimpleTokenizer` derives the 49408-token
vocabulary from them (256 byte symbols, the same with the end-of-word marker `</w>`, one token per merge, then
start/end of text). Writing that vocabulary as `vocab.json` + `merges.txt` gives a stock transformers
`CLIPTokenizer` whose ids equal open_clip's for every position from start-of-text to end-of-text, with the same
truncation (the last kept position becomes end-of-text) and context length.

Two documented differences, neither of which changes PE-Core's embeddings:
- padding positions hold the end-of-text id (49407, transformers' CLIP convention) where open_clip writes 0; the
  text tower is causal and pools at the first end-of-text token, so padding is never read;
- open_clip also runs `ftfy.fix_text` and `html.unescape` on the text; the transformers tokenizer does not, so text
  with HTML entities (`&amp;`) or mojibake tokenises differently.
"""

from __future__ import annotations

import gzip
import json
import os
from functools import lru_cache
from pathlib import Path

from transformers import CLIPTokenizer

BOS_TOKEN = "<|startoftext|>"
EOS_TOKEN = "<|endoftext|>"
# open_clip keeps merges[1 : 49152 - 256 - 2 + 1] of the file (its first line is a header).
_NUM_MERGES = 49152 - 256 - 2


def open_clip_bpe_path() -> Path:
    """Path of the BPE merges file bundled with `open_clip` (install the `pe_core` extra)."""
    try:
        import open_clip
    except ImportError as err:
        raise ImportError(
            "open_clip is needed to locate its bundled CLIP BPE file `bpe_simple_vocab_16e6.txt.gz`; install the "
            "`pe_core` extra (`pip install qclip-hf[pe_core]`) or pass `bpe_path=` explicitly."
        ) from err
    return Path(open_clip.__file__).parent / "bpe_simple_vocab_16e6.txt.gz"


@lru_cache(maxsize=4)
def _bytes_to_unicode() -> dict[int, str]:
    # GPT-2 / CLIP reversible byte -> printable character table, in the order CLIP's vocabulary uses.
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes), strict=True))


def _read_merges(bpe_path: str | os.PathLike) -> list[tuple[str, str]]:
    with gzip.open(bpe_path, "rt", encoding="utf-8") as handle:
        lines = handle.read().split("\n")[1 : _NUM_MERGES + 1]
    if len(lines) != _NUM_MERGES:
        raise ValueError(f"bpe_path={str(bpe_path)!r} holds {len(lines)} merges; the CLIP BPE file has {_NUM_MERGES}.")
    return [tuple(line.split()) for line in lines]


def _clip_vocab(merges: list[tuple[str, str]]) -> dict[str, int]:
    symbols = list(_bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [BOS_TOKEN, EOS_TOKEN]
    return {token: index for index, token in enumerate(tokens)}


def write_clip_bpe_vocab(save_directory: str | os.PathLike, bpe_path: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """Write `vocab.json` and `merges.txt` (the files `CLIPTokenizer` loads) from open_clip's BPE merges file.

    Args:
        save_directory: directory to write into (created if missing).
        bpe_path: the gzipped merges file; defaults to the one bundled with open_clip.

    Returns:
        The paths of `vocab.json` and `merges.txt`.

    Example:
        ```python
        >>> vocab_file, merges_file = write_clip_bpe_vocab("/tmp/pe_core_tokenizer")
        >>> vocab_file.name, merges_file.name
        ('vocab.json', 'merges.txt')
        ```
    """
    merges = _read_merges(bpe_path or open_clip_bpe_path())
    save_directory = Path(save_directory)
    save_directory.mkdir(parents=True, exist_ok=True)
    vocab_file, merges_file = save_directory / "vocab.json", save_directory / "merges.txt"
    vocab_file.write_text(json.dumps(_clip_vocab(merges), ensure_ascii=False), encoding="utf-8")
    merges_file.write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n", encoding="utf-8")
    return vocab_file, merges_file


def build_pe_core_tokenizer(context_length: int = 32, bpe_path: str | os.PathLike | None = None) -> CLIPTokenizer:
    """A transformers `CLIPTokenizer` tokenising exactly as open_clip does for PE-Core (see the module docstring).

    Tokenise with `padding="max_length"` (or `"longest"`), `truncation=True` and `max_length=context_length`.

    Args:
        context_length (`int`, *optional*, defaults to 32): the text tower's context (32 for T/S/B/L, 72 for G);
            stored as `model_max_length`.
        bpe_path: the gzipped CLIP merges file; defaults to the one bundled with open_clip.

    Example:
        ```python
        >>> tok = build_pe_core_tokenizer()
        >>> batch = tok(["a video of good quality"], padding="max_length", truncation=True, return_tensors="pt")
        >>> batch.input_ids.shape, batch.input_ids[0, 0].item()
        (torch.Size([1, 32]), 49406)
        ```
    """
    if isinstance(context_length, bool) or not isinstance(context_length, int) or context_length < 2:
        raise ValueError(f"context_length must be an integer >= 2 (start and end of text), got {context_length!r}.")
    merges = _read_merges(bpe_path or open_clip_bpe_path())
    return CLIPTokenizer(
        vocab=_clip_vocab(merges),
        merges=merges,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        unk_token=EOS_TOKEN,
        pad_token=EOS_TOKEN,
        model_max_length=context_length,
    )


__all__ = ["build_pe_core_tokenizer", "open_clip_bpe_path", "write_clip_bpe_vocab"]
