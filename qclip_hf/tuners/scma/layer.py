"""SCMA building blocks and the tuner layers that wrap encoder blocks and projections.

All SCMA weights live on the tuner ([`SCMAModel`]) in containers keyed by adapter name, because most of them are
shared: `Down_k`/`Up_k`/`LN_k` by the two towers' blocks `k`, the FFN by every adapted block. A wrapped block only
holds a *route* per adapter (which slot, FFN and scale it uses) and a reference to the tuner's containers, so each
shared tensor is stored, saved and counted once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from peft.tuners.tuners_utils import BaseTunerLayer
from torch import nn


class SCMAFFN(nn.Module):
    """The bottleneck FFN `Linear(r, r) - GELU - Linear(r, r)`, shared across layers and towers by default."""

    def __init__(self, r: int):
        super().__init__()
        self.fc1 = nn.Linear(r, r)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(r, r)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class SCMABottleneck(nn.Module):
    """`Down_k`, `Up_k` and `LN_k` of one adapted layer: `LN(Up(ffn(Down(x))))`.

    Owns an FFN only when the FFN is not shared across layers.
    """

    def __init__(self, width: int, r: int, own_ffn: bool):
        super().__init__()
        self.down = nn.Linear(width, r)
        self.up = nn.Linear(r, width)
        self.norm = nn.LayerNorm(width)
        self.ffn = SCMAFFN(r) if own_ffn else None

    def forward(self, x: torch.Tensor, shared_ffn: nn.Module | None) -> torch.Tensor:
        ffn = self.ffn if self.ffn is not None else shared_ffn
        return self.norm(self.up(ffn(self.down(x))))


class SCMAProjectionAdapter(nn.Module):
    """P-SCMA: a bottleneck branch beside a tower's projection.

    `style="reference"`: `Linear(d, r) - Linear(r, r) - GELU - Linear(r, e)` on the pooled feature (no LayerNorm).
    `style="paper"`: `LN(Up(Linear(Down(t))))` on the projected feature, the paper's single-Linear FFN.
    """

    def __init__(self, in_features: int, out_features: int, r: int, style: str):
        super().__init__()
        self.down = nn.Linear(in_features, r)
        self.mid = nn.Linear(r, r)
        self.act = nn.GELU() if style == "reference" else nn.Identity()
        self.up = nn.Linear(r, out_features)
        self.norm = nn.LayerNorm(out_features) if style == "paper" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.up(self.act(self.mid(self.down(x))))
        return self.norm(out) if self.norm is not None else out


class SCMAScales(nn.Module):
    """All learnable scales of one adapter as one vector; each wrapped module reads its own entry."""

    def __init__(self, num_scales: int, init: float):
        super().__init__()
        self.values = nn.Parameter(torch.full((num_scales,), float(init)))


@dataclass(frozen=True)
class SCMARoute:
    """Which shared pieces one wrapped module uses for one adapter."""

    slot: str
    scale_index: int
    ffn_shared: bool = True


class _SharedRefs:
    """Plain (non-Module) holder so the tuner's containers are referenced, not re-registered, by every layer."""

    def __init__(self, slots: nn.ModuleDict, ffn: nn.ModuleDict, scales: nn.ModuleDict):
        self.slots = slots
        self.ffn = ffn
        self.scales = scales


class SCMALayer(BaseTunerLayer):
    """Base of SCMA tuner layers. The adapter weights sit on the tuner; a layer keeps a route per adapter."""

    adapter_layer_names: tuple[str, ...] = ()
    other_param_names: tuple[str, ...] = ("scma_route",)

    def __init__(self, base_layer: nn.Module, shared: _SharedRefs, tower: str, **kwargs: Any) -> None:
        self.base_layer = base_layer
        self.scma_route: dict[str, SCMARoute] = {}
        self.tower = tower
        self._scma_shared = shared
        self._disable_adapters = False
        self.merged_adapters = []
        self.kwargs = kwargs

    def update_layer(self, adapter_name: str, route: SCMARoute) -> None:
        self.scma_route[adapter_name] = route

    def _get_available_adapters(self) -> set[str]:
        return set(self.scma_route)

    def _scale(self, adapter_name: str, route: SCMARoute) -> torch.Tensor:
        return self._scma_shared.scales[adapter_name].values[route.scale_index]

    def merge(self, safe_merge: bool = False, adapter_names: list[str] | None = None) -> None:
        raise NotImplementedError("SCMA adds a non-linear branch; it cannot be merged into the base weights.")

    def unmerge(self) -> None:
        raise NotImplementedError("SCMA adapters are never merged.")

    def _active_routes(self):
        for name in self.active_adapters:
            if name in self.scma_route:
                yield name, self.scma_route[name]


def _split_output(output: Any) -> tuple[torch.Tensor, Any]:
    """Blocks return a tensor (transformers 5) or a tuple whose first item is the hidden states."""
    if isinstance(output, torch.Tensor):
        return output, None
    return output[0], output


def _join_output(hidden: torch.Tensor, original: Any) -> Any:
    if original is None:
        return hidden
    return (hidden, *original[1:])


class SCMABlock(nn.Module, SCMALayer):
    """An encoder block wrapped by E-SCMA.

    `placement="serial"`: `y = block(x); y + s * LN(Up(FFN(Down(y))))`.
    `placement="parallel"`: `block(x) + s * LN(Up(FFN(Down(x))))`.
    """

    def __init__(self, base_layer: nn.Module, adapter_name: str, route: SCMARoute, shared: _SharedRefs,
                 tower: str, placement: str, **kwargs: Any) -> None:
        super().__init__()
        SCMALayer.__init__(self, base_layer, shared, tower, **kwargs)
        self.placement = placement
        self._active_adapter = adapter_name
        self.update_layer(adapter_name, route)

    def forward(self, hidden_states: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        output = self.base_layer(hidden_states, *args, **kwargs)
        if self.disable_adapters:
            return output
        hidden, packed = _split_output(output)
        source = hidden if self.placement == "serial" else hidden_states
        for name, route in self._active_routes():
            slot = self._scma_shared.slots[name][route.slot]
            shared_ffn = self._scma_shared.ffn[name]["ffn"] if route.ffn_shared else None
            delta = slot(source.to(slot.down.weight.dtype), shared_ffn)
            hidden = hidden + self._scale(name, route) * delta.to(hidden.dtype)
        return _join_output(hidden, packed)

    def __repr__(self) -> str:
        return "scma." + super().__repr__()


class SCMAProjection(nn.Module, SCMALayer):
    """A tower's projection (or final pooling head) wrapped by P-SCMA: `proj(x) + s * adapter(x or proj(x))`."""

    def __init__(self, base_layer: nn.Module, adapter_name: str, route: SCMARoute, shared: _SharedRefs,
                 tower: str, reads_input: bool, **kwargs: Any) -> None:
        super().__init__()
        SCMALayer.__init__(self, base_layer, shared, tower, **kwargs)
        self.reads_input = reads_input
        self._active_adapter = adapter_name
        self.update_layer(adapter_name, route)

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        output = self.base_layer(x, *args, **kwargs)
        if self.disable_adapters:
            return output
        projected, packed = _split_output(output)
        source = x if self.reads_input else projected
        for name, route in self._active_routes():
            adapter = self._scma_shared.slots[name][route.slot]
            delta = adapter(source.to(adapter.down.weight.dtype))
            projected = projected + self._scale(name, route) * delta.to(projected.dtype)
        return _join_output(projected, packed)

    def __repr__(self) -> str:
        return "scma." + super().__repr__()
