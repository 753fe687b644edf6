"""A new model on a local backbone tokenises its prompts once; later models reuse the ids without a tokenizer."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from qclip_hf import QClipConfig, QClipModel
from qclip_hf.models.qclip import modeling_qclip
from qclip_hf.models.qclip.prompt_token_cache import prompt_token_cache_dir

BUFFERS = ("input_ids", "attention_mask", "context_positions")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("QCLIP_HF_CACHE", str(tmp_path / "cache"))
    return prompt_token_cache_dir()


def _new(backbone: str, **config) -> QClipModel:
    torch.manual_seed(0)
    return QClipModel(QClipConfig(backbone=backbone, scma_config={"r": 4, "layers": 2}, num_frames=4, **config))


def _no_tokenizer(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the tokenizer was loaded although the prompt ids are cached")

    monkeypatch.setattr(modeling_qclip.AutoTokenizer, "from_pretrained", refuse)


def test_second_model_loads_no_tokenizer_and_is_identical(tiny_backbone_dir, cache, monkeypatch):
    backbone = tiny_backbone_dir("clip")
    first = _new(backbone)
    assert len(list(cache.glob("*.json"))) == 1
    _no_tokenizer(monkeypatch)
    second = _new(backbone)
    for name in BUFFERS:
        assert torch.equal(getattr(first.prompt_learner, name), getattr(second.prompt_learner, name)), name
    assert torch.equal(first.prompt_learner.context, second.prompt_learner.context)
    frames = torch.rand(1, 4, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(first(pixel_values_videos=frames).scores, second(pixel_values_videos=frames).scores)


def test_another_tokenizer_or_prompt_scheme_is_not_reused(tiny_backbone_dir, cache, tmp_path, monkeypatch):
    backbone = tiny_backbone_dir("clip")
    _new(backbone)
    edited = tmp_path / "edited_backbone"
    shutil.copytree(backbone, edited)
    config_file = edited / "tokenizer_config.json"
    config_file.write_text(json.dumps({**json.loads(config_file.read_text()), "model_max_length": 77}))
    _new(str(edited))  # another tokenizer's files: a new entry
    assert len(list(cache.glob("*.json"))) == 2
    _new(backbone, prompt_scheme="antonym")
    assert len(list(cache.glob("*.json"))) == 3
    _no_tokenizer(monkeypatch)
    _new(backbone)  # the first entry still serves the first configuration


def test_unwritable_cache_only_costs_the_tokenizer(tiny_backbone_dir, tmp_path, monkeypatch):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("QCLIP_HF_CACHE", str(blocker))
    first, second = _new(tiny_backbone_dir("clip")), _new(tiny_backbone_dir("clip"))
    assert torch.equal(first.prompt_learner.input_ids, second.prompt_learner.input_ids)


def test_damaged_entry_is_ignored(tiny_backbone_dir, cache):
    backbone = tiny_backbone_dir("clip")
    reference = _new(backbone)
    (entry,) = cache.glob("*.json")
    entry.write_text('{"prompts": ')
    again = _new(backbone)
    assert torch.equal(reference.prompt_learner.input_ids, again.prompt_learner.input_ids)
    assert json.loads(entry.read_text())["input_ids"] == reference.prompt_learner.input_ids.tolist()


def test_tokenizer_files_are_hashed_once_per_process_until_edited(tiny_backbone_dir, tmp_path, monkeypatch):
    from qclip_hf.models.qclip import prompt_token_cache

    backbone = str(tmp_path / "backbone")  # a copy: the shared tiny backbone is edited below
    shutil.copytree(tiny_backbone_dir("clip"), backbone)
    reads = []
    real_open = open

    def counting_open(path, *args, **kwargs):
        if str(path).startswith(str(backbone)):
            reads.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(prompt_token_cache, "_FILE_DIGESTS", {})
    monkeypatch.setattr("builtins.open", counting_open)
    first = prompt_token_cache.prompt_token_key(backbone, prompts=["a"])
    hashed = len(reads)
    assert hashed >= 1
    assert prompt_token_cache.prompt_token_key(backbone, prompts=["a"]) == first
    assert len(reads) == hashed  # remembered: no file read again
    config_file = f"{backbone}/tokenizer_config.json"
    with real_open(config_file, encoding="utf-8") as handle:
        content = json.load(handle)
    with real_open(config_file, "w", encoding="utf-8") as handle:
        json.dump({**content, "model_max_length": 77}, handle)
    assert prompt_token_cache.prompt_token_key(backbone, prompts=["a"]) != first  # edited in place: hashed again
