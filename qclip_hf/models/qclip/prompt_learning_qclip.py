"""Learnable quality prompts (CoOp style) for Q-CLIP's text tower."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn


def _find_subsequence(sequence: Sequence[int], pattern: Sequence[int]) -> int:
    for start in range(len(sequence) - len(pattern) + 1):
        if list(sequence[start:start + len(pattern)]) == list(pattern):
            return start
    return -1


class QClipPromptLearner(nn.Module):
    """The level prompts of Q-CLIP with context vectors shared by all of them.

    Each prompt is tokenised once ("X X X a video of good quality"); at encoding time the token embeddings at the
    context positions are replaced by the learnable `context` vectors (a forward hook on the backbone's token
    embedding), so the backbone's own text forward — attention masks, EOS pooling, projection — runs unchanged.

    Args:
        prompts (`list[str]`): one text per quality level, each containing `context_text` (unless `num_context` is 0).
        context_text (`str`): the placeholder words whose embeddings initialise the context ("X X X").
        num_context (`int`): number of learnable context vectors; 0 keeps the prompts fixed.
        tokenizer: the backbone's tokenizer.
        token_embedding (`nn.Embedding`): the backbone's token embedding table (read once for initialisation).
        padding (`str`): tokenizer padding the text tower needs ("longest" for CLIP, "max_length" for SigLIP).
        max_length (`int`): the text tower's context length.
        random_init (`bool`): initialise the context from N(0, 0.02) instead of the placeholder embeddings.
        token_ids (`dict`, *optional*): `input_ids`, `attention_mask` and `context_positions` of a saved model
            (see [`token_ids`]); used instead of `tokenizer`, which may then be `None`.

    Example:
        ```python
        >>> from qclip_hf.testing.tiny_backbones import build_tiny_backbone, build_tiny_tokenizer
        >>> backbone = build_tiny_backbone("clip")
        >>> learner = QClipPromptLearner(["X X X a video of good quality", "X X X a video of bad quality"], "X X X", 3,
        ...     build_tiny_tokenizer(), backbone.text_model.embeddings.token_embedding)
        >>> learner.context.shape
        torch.Size([3, 32])
        ```
    """

    def __init__(
        self,
        prompts: list[str],
        context_text: str,
        num_context: int,
        tokenizer,
        token_embedding: nn.Embedding,
        padding: str = "longest",
        max_length: int | None = None,
        random_init: bool = False,
        token_ids: dict[str, list] | None = None,
    ):
        super().__init__()
        self.num_context = num_context
        if token_ids is not None:
            # Saved beside the model (`prompt_tokens.json`): no tokenizer needed, the exact ids it was trained with.
            input_ids = torch.tensor(token_ids["input_ids"], dtype=torch.long)
            attention_mask = torch.tensor(token_ids["attention_mask"], dtype=torch.long)
            positions = token_ids["context_positions"]
            context_ids = input_ids[0, positions[0]].tolist() if num_context else []
        else:
            input_ids, attention_mask, positions, context_ids = self._tokenize(
                prompts, context_text, num_context, tokenizer, padding, max_length)
        self.register_buffer("input_ids", input_ids, persistent=False)
        self.register_buffer("attention_mask", attention_mask, persistent=False)
        if num_context == 0:
            self.context = None
            self.register_buffer("context_positions", torch.zeros(len(prompts), 0, dtype=torch.long), persistent=False)
            return
        self.register_buffer("context_positions", torch.tensor(positions, dtype=torch.long), persistent=False)
        with torch.no_grad():
            if random_init:
                init = torch.randn(num_context, token_embedding.embedding_dim) * 0.02
            else:
                init = token_embedding.weight[torch.tensor(context_ids, device=token_embedding.weight.device)]
        self.context = nn.Parameter(init.detach().clone().float())

    @staticmethod
    def _tokenize(prompts, context_text, num_context, tokenizer, padding, max_length):
        encoded = tokenizer(prompts, padding=padding, truncation=True, max_length=max_length, return_tensors="pt")
        input_ids = encoded["input_ids"]
        attention_mask = encoded.get("attention_mask", torch.ones_like(input_ids))
        if num_context == 0:
            return input_ids, attention_mask, [], []
        context_ids = tokenizer(context_text, add_special_tokens=False)["input_ids"]
        if len(context_ids) != num_context:
            raise ValueError(
                f"QClipConfig.context_init={context_text!r} tokenises into {len(context_ids)} tokens but "
                f"num_context_tokens={num_context}; use an init text of exactly {num_context} tokens."
            )
        positions = []
        for prompt, ids in zip(prompts, input_ids.tolist(), strict=True):
            start = _find_subsequence(ids, context_ids)
            if start < 0:
                raise ValueError(f"Prompt {prompt!r} does not contain the context tokens of {context_text!r}.")
            positions.append(list(range(start, start + num_context)))
        return input_ids, attention_mask, positions, context_ids

    def token_ids(self, prompts: list[str]) -> dict[str, list]:
        """The tokenised prompts as plain lists (what `prompt_tokens.json` stores)."""
        return {"prompts": list(prompts), "input_ids": self.input_ids.tolist(),
                "attention_mask": self.attention_mask.tolist(), "context_positions": self.context_positions.tolist()}

    @contextmanager
    def inject(self, token_embedding: nn.Embedding) -> Iterator[None]:
        """While active, the token embedding's output carries the learnable context at the context positions."""
        if self.context is None:
            yield
            return

        def replace_context(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
            rows = torch.arange(output.shape[0], device=output.device)[:, None]
            context = self.context.to(dtype=output.dtype, device=output.device)
            output = output.clone()
            output[rows, self.context_positions] = context.unsqueeze(0).expand(output.shape[0], -1, -1)
            return output

        handle = token_embedding.register_forward_hook(replace_context)
        try:
            yield
        finally:
            handle.remove()
