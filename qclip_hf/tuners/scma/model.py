"""The SCMA tuner: injects Shared Cross-Modal Adapters into both towers of a frozen dual encoder."""

from __future__ import annotations

import re
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from peft.tuners.tuners_utils import BaseTuner
from peft.utils.integrations import init_empty_weights
from torch import nn

from ...backbones import get_backbone_spec
from .config import SCMAConfig
from .layer import (
    SCMAFFN,
    SCMABlock,
    SCMABottleneck,
    SCMALayer,
    SCMAProjection,
    SCMAProjectionAdapter,
    SCMARoute,
    SCMAScales,
    _SharedRefs,
)


@dataclass(frozen=True)
class _Target:
    """What SCMA does to one module of the backbone, for one adapter."""

    kind: str  # "block" or "projection"
    tower: str
    route: SCMARoute
    reads_input: bool = True


class SCMAModel(BaseTuner):
    """
    Creates a Shared Cross-Modal Adapter (SCMA) model from a dual-encoder `transformers` model (Q-CLIP, Table 3).

    The adapted encoder blocks and projections are found through the backbone's [`DualEncoderSpec`] (registered by
    `config.model_type`: CLIP, MetaCLIP 2, SigLIP, PE-Core, ...). Shared weights live here, on the tuner, in
    containers keyed by adapter name (`scma_slots`, `scma_ffn`, `scma_scales`); VeRA is the precedent for tuner-held
    shared state. Like VeRA, SCMA therefore works through `get_peft_model` / `PeftModel.from_pretrained`, not through
    `inject_adapter_in_model`.

    Args:
        model ([`~transformers.PreTrainedModel`]): The dual encoder to adapt (its weights stay frozen).
        config ([`SCMAConfig`]): The SCMA configuration.
        adapter_name (`str`): The adapter name, defaults to `"default"`.

    Example:
        ```python
        >>> import qclip_hf  # registers the "SCMA" PEFT type
        >>> from peft import get_peft_model
        >>> from qclip_hf.testing.tiny_backbones import build_tiny_backbone
        >>> from qclip_hf.tuners.scma import SCMAConfig
        >>> peft_model = get_peft_model(build_tiny_backbone("clip"), SCMAConfig(r=8, layers=2))
        >>> type(peft_model.base_model).__name__
        'SCMAModel'
        ```
    """

    prefix: str = "scma_"
    tuner_layer_cls = SCMALayer
    target_module_mapping: dict[str, list[str]] = {}
    uses_shared_state: bool = True

    # ------------------------------------------------------------------ planning and shared state
    def inject_adapter(self, model: nn.Module, adapter_name: str, *args, **kwargs) -> None:
        # PeftModel.add_adapter calls inject_adapter without the pre-injection hook: plan the shared state here.
        # With `low_cpu_mem_usage=True` (PEFT's convention when weights are loaded next, as in
        # `PeftModel.from_pretrained(..., low_cpu_mem_usage=True)`), the shared weights are created empty on the meta
        # device, like PEFT's own layers, and the loaded tensors are assigned to them: no random draws to discard.
        # (`get_peft_model(..., low_cpu_mem_usage=True)` builds the whole tuner inside that context itself.)
        with init_empty_weights() if kwargs.get("low_cpu_mem_usage") else nullcontext():
            self._plan_shared_state(model, self.peft_config[adapter_name], adapter_name)
        super().inject_adapter(model, adapter_name, *args, **kwargs)

    def _plan_shared_state(self, model: nn.Module, config: SCMAConfig, adapter_name: str) -> None:
        if not hasattr(self, "_scma_targets"):
            self._scma_targets: dict[str, dict[str, _Target]] = {}
            self.scma_slots = nn.ModuleDict()
            self.scma_ffn = nn.ModuleDict()
            self.scma_scales = nn.ModuleDict()
            self._scma_refs = _SharedRefs(self.scma_slots, self.scma_ffn, self.scma_scales)
        targets, slots, num_scales = self._plan(model, config)
        resolved = sorted(targets)
        if config.target_modules is not None:
            given = [config.target_modules] if isinstance(config.target_modules, str) else list(config.target_modules)
            if sorted(given) != resolved:
                raise ValueError(
                    f"SCMAConfig.target_modules={sorted(given)} does not match the blocks and projections the config "
                    f"selects on this backbone: {resolved}. Leave target_modules=None to resolve it from the backbone."
                )
        config.target_modules = resolved
        device = next(model.parameters()).device

        def placed(module: nn.Module) -> nn.Module:
            # Weights created empty (meta device) are assigned when the adapter is loaded, not moved.
            empty = any(parameter.is_meta for parameter in module.parameters())
            return module if empty else module.to(device)

        self.scma_slots[adapter_name] = placed(nn.ModuleDict(slots))
        ffn = {"ffn": SCMAFFN(config.r)} if config.share_ffn_across_layers else {}
        self.scma_ffn[adapter_name] = placed(nn.ModuleDict(ffn))
        self.scma_scales[adapter_name] = placed(SCMAScales(num_scales, config.scale_init))
        self._scma_targets[adapter_name] = targets

    @staticmethod
    def _plan(model: nn.Module, config: SCMAConfig) -> tuple[dict[str, _Target], dict[str, nn.Module], int]:
        """Decide, for every module to wrap, its slot (shared weights) and scale; build the slot modules."""
        spec = get_backbone_spec(model)
        towers = {name: tower for name, tower in spec.towers(model).items() if name in config.adapted_towers()}
        both = len(towers) == 2
        share_blocks = both and config.share_across_towers and towers["vision"].width == towers["text"].width
        targets: dict[str, _Target] = {}
        slots: dict[str, nn.Module] = {}
        scale_count = 0
        tower_scale = {}
        for name, tower in towers.items():
            if config.scale_granularity == "tower":
                tower_scale[name] = scale_count
                scale_count += 1
            for position, index in enumerate(config.block_indices(tower.num_blocks, name)):
                slot = f"layer{position}" if share_blocks else f"{name}_layer{position}"
                if slot not in slots:
                    slots[slot] = SCMABottleneck(tower.width, config.r, own_ffn=not config.share_ffn_across_layers)
                if config.scale_granularity == "tower":
                    scale = tower_scale[name]
                else:
                    scale, scale_count = scale_count, scale_count + 1
                route = SCMARoute(slot=slot, scale_index=scale, ffn_shared=config.share_ffn_across_layers)
                targets[tower.block_path(index)] = _Target("block", name, route)
        if config.projection_adapter:
            shapes = {}
            for name, tower in towers.items():
                reads_input = config.projection_adapter_style == "reference" and tower.projection_input_is_pooled
                in_features = tower.projection_in_features if reads_input else tower.embed_dim
                shapes[name] = (in_features, tower.embed_dim, reads_input)
            share_projection = both and config.share_across_towers and shapes["vision"][:2] == shapes["text"][:2]
            for name, tower in towers.items():
                in_features, out_features, reads_input = shapes[name]
                slot = "projection" if share_projection else f"{name}_projection"
                if slot not in slots:
                    slots[slot] = SCMAProjectionAdapter(in_features, out_features, config.r,
                                                        config.projection_adapter_style)
                route = SCMARoute(slot=slot, scale_index=scale_count)
                scale_count += 1
                targets[tower.projection_path] = _Target("projection", name, route, reads_input)
        return targets, slots, scale_count

    # ------------------------------------------------------------------ injection
    def _create_and_replace(
        self,
        peft_config: SCMAConfig,
        adapter_name: str,
        target: nn.Module,
        target_name: str,
        parent: nn.Module,
        current_key: str,
        parameter_name: str | None = None,
    ) -> None:
        plan = self._scma_targets[adapter_name]
        entry = plan.get(current_key)
        if entry is None:
            matches = [key for key in plan if current_key.endswith("." + key)]
            if len(matches) != 1:
                raise ValueError(f"SCMA has no plan for module {current_key!r}; planned modules: {sorted(plan)}.")
            entry = plan[matches[0]]
        if isinstance(target, SCMALayer):
            target.update_layer(adapter_name, entry.route)
            return
        if entry.kind == "block":
            new_module = SCMABlock(target, adapter_name, entry.route, self._scma_refs, entry.tower,
                                   placement=peft_config.placement)
        else:
            new_module = SCMAProjection(target, adapter_name, entry.route, self._scma_refs, entry.tower,
                                        reads_input=entry.reads_input)
        if adapter_name not in self.active_adapters:
            new_module.requires_grad_(False)
        self._replace_module(parent, target_name, new_module, target)

    def set_adapter(self, adapter_name: str | list[str], inference_mode: bool = False) -> None:
        """Activate adapter(s); the tuner-held shared weights follow the same trainability rule as layer weights."""
        super().set_adapter(adapter_name, inference_mode=inference_mode)
        names = [adapter_name] if isinstance(adapter_name, str) else list(adapter_name)
        for container in (self.scma_slots, self.scma_ffn, self.scma_scales):
            for key, module in container.items():
                module.requires_grad_(key in names and not inference_mode)

    def delete_adapter(self, adapter_name: str) -> None:
        super().delete_adapter(adapter_name)
        for container in (self.scma_slots, self.scma_ffn, self.scma_scales):
            if adapter_name in container:
                del container[adapter_name]
        self._scma_targets.pop(adapter_name, None)

    def _check_merge_allowed(self):
        raise ValueError("SCMA adds a non-linear branch after each block; it cannot be merged into the base model.")

    def _replace_module(self, parent: nn.Module, child_name: str, new_module: nn.Module, child: nn.Module) -> None:
        # `unload()` puts each wrapped module back. PEFT's generic replacement then re-attaches `child.weight` and
        # `.bias` to the new module, which only a wrapped Linear has: an SCMA block wraps a whole encoder layer.
        # The module put back is the original object itself, so there is nothing to re-attach or move.
        if isinstance(child, SCMALayer) and new_module is child.get_base_layer():
            setattr(parent, child_name, new_module)
            return
        super()._replace_module(parent, child_name, new_module, child)

    # ------------------------------------------------------------------ checkpoint keys
    @classmethod
    def _remove_adapter_name_from_key(cls, key: str, adapter_name: str) -> str:
        # Shared containers are keyed `scma_<what>.<adapter>.<slot>...`; drop the adapter level wherever it sits.
        pattern = rf"((?:^|\.){re.escape(cls.prefix)}[A-Za-z_]+)\.{re.escape(adapter_name)}(?=\.|$)"
        return re.sub(pattern, r"\1", key, count=1)

    # ------------------------------------------------------------------ introspection
    def scma_trainable_parameters(self, adapter_name: str = "default") -> dict[str, torch.Tensor]:
        """Every SCMA parameter of one adapter, each shared tensor once, by its checkpoint name."""
        out = {}
        for attr in ("scma_slots", "scma_ffn", "scma_scales"):
            container = getattr(self, attr)
            if adapter_name in container:
                for name, param in container[adapter_name].named_parameters():
                    out[f"{attr}.{name}"] = param
        return out
