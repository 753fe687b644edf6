"""2D rotary position embedding of PE-Core's vision tower, as a table precomputed once per geometry.

Both class-token layouts are supported: the fixed one (Meta's current code, timm, open_clip: the class token first
and not rotated) and, with `PECoreVisionConfig.legacy_class_token_rope=True`, the layout of Meta's code before
"Fix Rope bug when using cls token" (2025-05-01) that the Q-CLIP release vendors (docs/pe_core.md).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .configuration_pe_core import PECoreVisionConfig

RotaryEmbeddings = tuple[torch.Tensor, ...]


def _rotate_interleaved(x: torch.Tensor) -> torch.Tensor:
    # Pairs (x0, x1), (x2, x3), ... rotate by 90 degrees: [-x1, x0, -x3, x2, ...] (timm's `rot`, Meta's layout).
    return torch.stack([-x[..., 1::2], x[..., ::2]], dim=-1).reshape(x.shape)


def apply_rotary_embeddings(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate `x` (..., N, head_dim) by the angles whose `cos`/`sin` (N, head_dim) are given; result in x's dtype."""
    return (x * cos + _rotate_interleaved(x) * sin).to(x.dtype)


def rotary_angles(config: PECoreVisionConfig, device: torch.device | str | None = None) -> torch.Tensor:
    """Rotation angle of every (sequence position, head channel) of the vision tower: shape (num_positions, head_dim).

    Half of each head's channels rotate with the patch's column (x) coordinate, half with its row (y) coordinate, in
    interleaved pairs (both channels of a pair share an angle); x frequencies come first, as in Meta's `Rope2D` and
    timm's "xy" indexing. The grid coordinates start at `rope_grid_offset`. With a class token the sequence has one
    more row of angle zero (no rotation): first (fixed layout), or last when `legacy_class_token_rope=True` (the
    pre-fix layout, so the class token takes the first patch's angles and each patch its successor's).
    """
    head_dim = config.hidden_size // config.num_attention_heads
    num_bands = head_dim // 4
    exponent = torch.arange(num_bands, device=device, dtype=torch.float32) / num_bands
    bands = 1.0 / (float(config.rope_theta) ** exponent)
    coords = torch.arange(config.grid_size, device=device, dtype=torch.float32) + float(config.rope_grid_offset)
    # grid[h, w] = (x, y) = (w, h)
    grid = torch.stack(torch.meshgrid(coords, coords, indexing="xy"), dim=-1)
    angles = (grid.unsqueeze(-1) * bands).flatten(-2).flatten(0, 1)  # (num_patches, head_dim / 2)
    angles = angles.repeat_interleave(2, dim=-1)  # (num_patches, head_dim), interleaved pairs
    if config.use_class_token:
        zero = angles.new_zeros(1, head_dim)
        angles = torch.cat([angles, zero] if config.legacy_class_token_rope else [zero, angles])
    return angles


class RotaryTable(NamedTuple):
    """Rotary embedding of every sequence position: `cos` and `sin` of the angles (num_positions, head_dim; both
    channels of a pair share an angle) and, for float32/float64 tables, `rotation = cos + i sin` per channel pair
    (num_positions, head_dim / 2, complex). A plain tuple to code that passes it through (tuners)."""

    cos: torch.Tensor
    sin: torch.Tensor
    rotation: torch.Tensor | None = None


def apply_rotary_table(x: torch.Tensor, table: RotaryTable) -> torch.Tensor:
    """Rotate every channel pair of `x` (..., num_positions, head_dim) by its angle; result in x's dtype.

    The pairs are viewed as complex numbers and multiplied by `table.rotation`: one kernel instead of four
    element-wise passes and a channel shuffle. Lower-precision inputs (bfloat16) are rotated in float32 and rounded
    once, as `x * cos + rotate_pairs(x) * sin` with a float32 table would.
    """
    if table.rotation is None:
        return (x * table.cos + _rotate_interleaved(x) * table.sin).to(x.dtype)
    exact = x if x.dtype in (torch.float32, torch.float64) and x.stride(-1) == 1 else x.float()
    pairs = torch.view_as_complex(exact.unflatten(-1, (-1, 2)))
    return torch.view_as_real(pairs * table.rotation).flatten(-2).to(x.dtype)


def _complex_pairs(x: torch.Tensor) -> torch.Tensor:
    # Channel pairs as complex numbers (a view when the channels are contiguous).
    return torch.view_as_complex((x if x.stride(-1) == 1 else x.contiguous()).unflatten(-1, (-1, 2)))


class _SplitRotateQKV(torch.autograd.Function):
    """Fused projection output (B, L, 3 * heads * head_dim) -> queries, keys, values (B, heads, L, head_dim), the
    queries and keys rotated by `rotation` (L, head_dim / 2, complex) unless it is None.

    What autograd would do with slices (or `unbind`) of the projection plus a rotation is to give every slice its own
    full-size, zero-filled gradient and sum them, or stack them and copy the result contiguous for the projection's
    backward. This backward writes the three gradients, the rotated ones multiplied by the conjugate rotation, into one
    (B, L, 3 * width) buffer instead: a train step's attention glue in one pass.
    """

    @staticmethod
    def forward(ctx, qkv: torch.Tensor, rotation: torch.Tensor | None, num_heads: int):
        parts = qkv.unflatten(-1, (3, num_heads, -1))  # (B, L, 3, heads, head_dim), a view
        ctx.rotation = rotation
        if rotation is None:
            query, key = parts[:, :, 0], parts[:, :, 1]
        else:
            # (B, L, 2, heads, head_dim / 2) complex times (L, 1, 1, head_dim / 2): one kernel for queries and keys.
            qk = torch.view_as_real(_complex_pairs(parts[:, :, :2]) * rotation[:, None, None]).flatten(-2)
            query, key = qk[:, :, 0], qk[:, :, 1]
        return query.transpose(1, 2), key.transpose(1, 2), parts[:, :, 2].transpose(1, 2)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_query, grad_key, grad_value):
        reference = next(g for g in (grad_query, grad_key, grad_value) if g is not None)
        batch, heads, length, head_dim = reference.shape
        grad = reference.new_empty(batch, length, 3, heads, head_dim)
        for index, part in enumerate((grad_query, grad_key, grad_value)):
            target = grad[:, :, index]
            if part is None:
                target.zero_()
            elif index == 2 or ctx.rotation is None:
                target.copy_(part.transpose(1, 2))
            else:
                torch.mul(_complex_pairs(part).transpose(1, 2), ctx.rotation.conj()[:, None],
                          out=_complex_pairs(target))
        return grad.flatten(2), None, None


def split_rotate_qkv(
    qkv: torch.Tensor, num_heads: int, table: RotaryTable | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split a fused q/k/v projection (B, L, 3 * width; rows q, k, v) into queries, keys and values of shape
    (B, num_heads, L, head_dim), rotating the queries and keys by `table` if given.

    Same values as slicing and [`apply_rotary_table`]; its backward builds the projection's gradient in one buffer
    (see `_SplitRotateQKV`). Tables without complex factors (reduced precision) take the plain path.

    Example:
        ```python
        >>> import torch
        >>> q, k, v = split_rotate_qkv(torch.randn(2, 5, 3 * 32), num_heads=2)
        >>> q.shape
        torch.Size([2, 2, 5, 16])
        ```
    """
    rotation = None if table is None else table.rotation
    exact = qkv.dtype in (torch.float32, torch.float64)
    if (table is None or rotation is not None) and exact:
        return _SplitRotateQKV.apply(qkv, rotation, num_heads)
    parts = qkv.unflatten(-1, (3, num_heads, -1)).permute(2, 0, 3, 1, 4)  # (3, B, heads, L, head_dim), views
    if table is None:
        return parts.unbind(0)
    query, key = apply_rotary_table(parts[:2], table).unbind(0)
    return query, key, parts[2]


class PECoreVisionRotaryEmbedding(nn.Module):
    """2D axial RoPE of the vision tower as a table precomputed once per geometry over the whole token sequence,
    class token included (see [`rotary_angles`]).

    Buffers (not saved: they follow from the config): `cos` and `sin`, (num_positions, head_dim), float32 even in
    a model cast to bfloat16 or float16 (recomputed, not rounded). The class token's
    row has angle 0 (cos 1, sin 0) and is rotated like every other row, which leaves it unchanged, so attention
    needs no per-layer split and concatenation. `forward` returns them as a [`RotaryTable`] with the complex
    per-pair factors (one small op per forward, shared by all layers; kept out of the buffers because
    `module.to(float_dtype)` would discard their imaginary part). `PECorePreTrainedModel._init_weights` recomputes
    the buffers, as `from_pretrained` builds on the meta device.
    """

    def __init__(self, config: PECoreVisionConfig):
        super().__init__()
        self.config = config
        cos, sin = self.compute_table()
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def compute_table(self, device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`(cos, sin)` of [`rotary_angles`] for the config's geometry, float32."""
        angles = rotary_angles(self.config, device=device)
        return angles.cos(), angles.sin()

    def forward(self, device: torch.device | None = None) -> RotaryTable:
        if self.cos.is_meta:
            # Built on the meta device and given weights with `load_state_dict(assign=True)`, which leaves
            # non-persistent buffers on meta: compute the table now, once.
            cos, sin = self.compute_table(device)
            self.cos, self.sin = cos.to(self.cos.dtype), sin.to(self.sin.dtype)
        return RotaryTable(self.cos, self.sin, torch.complex(self.cos[:, ::2], self.sin[:, ::2]))

    def _apply(self, fn, recurse=True):
        # `model.to(torch.bfloat16)` would round the table to 8 bits of mantissa: keep it exact in float32 (float64
        # stays), so a bfloat16 model rotates as accurately as a float32 one and rounds once.
        super()._apply(fn, recurse)
        if self.cos.is_floating_point() and torch.finfo(self.cos.dtype).bits < 32:
            self.cos, self.sin = self.compute_table(device=self.cos.device)
        return self


__all__ = [
    "PECoreVisionRotaryEmbedding",
    "RotaryEmbeddings",
    "RotaryTable",
    "apply_rotary_embeddings",
    "apply_rotary_table",
    "rotary_angles",
    "split_rotate_qkv",
]
