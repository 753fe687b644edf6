"""Q-CLIP: video quality from a frozen dual encoder, SCMA adapters, learnable prompts and a level-weighted head."""

from __future__ import annotations

import copy
import inspect
import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from peft import PeftModel, get_peft_model, set_peft_model_state_dict
from safetensors.torch import save_file
from transformers import AutoTokenizer, PreTrainedModel
from transformers.utils import ModelOutput

from ...backbones import get_backbone_spec
from ...calibration.mapping import CALIBRATION_NAME, Calibration, load_calibration
from ...errors import ModelLoadError
from ...tuners.scma.registration import register_scma_peft_method
from ..pe_core import register_pe_core_auto_classes
from .configuration_qclip import QClipConfig
from .heads_qclip import QClipExpectedLevelHead, QClipQualityHead
from .loading_qclip import (
    ADAPTER_WEIGHTS_NAME,
    HEAD_WEIGHTS_NAME,
    PROMPT_TOKENS_NAME,
    backbone_fallback_path,
    backbone_source,
    check_loading_kwargs,
    head_weights_file,
    load_backbone,
    load_safetensors,
    portable_backbone_reference,
    quiet_progress_bars,
    resolve_model_dir,
    saved_prompt_tokens,
)
from .prompt_learning_qclip import QClipPromptLearner
from .prompt_token_cache import load_prompt_tokens, prompt_token_key, store_prompt_tokens

# Loading an adapter needs the "SCMA" PEFT type, also when this file runs as trust_remote_code without the package.
register_scma_peft_method()
register_pe_core_auto_classes()

logger = logging.getLogger(__name__)


def point_adapter_config_at(folder: str | os.PathLike, repo_id: str) -> None:
    """Name the Q-CLIP repo itself as the adapter's `base_model_name_or_path` in `folder/adapter_config.json`.

    `AutoModel.from_pretrained` and `pipeline()` treat a Hub repo holding an `adapter_config.json` as an adapter-only
    repo and load the model its `base_model_name_or_path` names instead. Pointing it at the Q-CLIP repo makes them
    load Q-CLIP (whose `config.json` names the backbone). Plain `PeftModel.from_pretrained(backbone, repo)` does not
    read the field, so it keeps working.
    """
    path = os.path.join(folder, "adapter_config.json")
    with open(path, encoding="utf-8") as handle:
        adapter_config = json.load(handle)
    adapter_config["base_model_name_or_path"] = repo_id
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(adapter_config, handle, indent=2, sort_keys=True)


@dataclass
class QClipOutput(ModelOutput):
    """
    Output of [`QClipModel`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, *optional*): `loss_fn(scores, labels)` when `labels` were given.
        scores (`torch.FloatTensor` of shape `(batch_size,)`): predicted quality, one scalar per video.
        level_similarities (`torch.FloatTensor` of shape `(batch_size, num_levels)`): cosine similarity between each
            video feature and each level prompt feature (the head's input).
        level_probs (`torch.FloatTensor` of shape `(batch_size, num_levels)`): softmax over levels of the similarities
            times the backbone's logit scale — which level the video looks like.
        video_embeds (`torch.FloatTensor` of shape `(batch_size, embed_dim)`): pooled, L2-normalised video features.
        text_embeds (`torch.FloatTensor` of shape `(num_levels, embed_dim)`): L2-normalised level prompt features.
        frame_embeds (`torch.FloatTensor` of shape `(batch_size, num_frames, embed_dim)`): per-frame features.
    """

    loss: torch.FloatTensor | None = None
    scores: torch.FloatTensor | None = None
    level_similarities: torch.FloatTensor | None = None
    level_probs: torch.FloatTensor | None = None
    video_embeds: torch.FloatTensor | None = None
    text_embeds: torch.FloatTensor | None = None
    frame_embeds: torch.FloatTensor | None = None


class QClipPreTrainedModel(PreTrainedModel):
    config_class = QClipConfig
    base_model_prefix = "qclip"
    main_input_name = "pixel_values_videos"
    input_modalities = ("video",)
    supports_gradient_checkpointing = False

    def init_weights(self):
        # The backbone arrives initialised (pretrained, or by its own constructor) and must never be re-initialised
        # here; Q-CLIP's own modules initialise themselves in their constructors (the context from token embeddings).
        return


class QClipModel(QClipPreTrainedModel):
    """
    Q-CLIP video quality model: a frozen dual encoder with SCMA adapters in both towers, learnable quality prompts
    and a learnable weighted sum of cosine similarities.

    Only the adapter, the prompt context and the head are trainable and saved; the backbone stays registered (as
    `self.backbone`, frozen with `requires_grad_(False)`) and is loaded again from its own id or path.

    Args:
        config ([`QClipConfig`]): the model configuration.
        backbone ([`~transformers.PreTrainedModel`], *optional*): an already loaded dual encoder; loaded from
            `config.backbone` (or built from `config.backbone_config`) when omitted.
        tokenizer (*optional*): the backbone's tokenizer, or its id/path; defaults to `config.tokenizer`, then
            `config.backbone`.
        prompt_token_ids (`dict`, *optional*): the tokenised prompts of a saved model (`prompt_tokens.json`); no
            tokenizer is loaded when given.

    Example:
        ```python
        >>> import torch
        >>> from qclip_hf import QClipConfig, QClipModel
        >>> from qclip_hf.testing.tiny_backbones import save_tiny_backbone
        >>> path = save_tiny_backbone("/tmp/tiny-clip")
        >>> model = QClipModel(QClipConfig.from_preset("reference", backbone=str(path), scma_config={"r": 8})).eval()
        >>> model(torch.randn(2, 8, 3, 32, 32)).scores.shape
        torch.Size([2])
        ```
    """

    def __init__(self, config: QClipConfig, backbone: PreTrainedModel | None = None, tokenizer: Any = None,
                 prompt_token_ids: dict[str, list] | None = None, *, _empty_adapter: bool = False):
        # `_empty_adapter` (from_pretrained only): the SCMA weights are created on the meta device and must be loaded
        # next with `set_peft_model_state_dict(..., low_cpu_mem_usage=True)`, PEFT's convention for loading.
        super().__init__(config)
        backbone = backbone if backbone is not None else self._load_backbone(config)
        backbone.requires_grad_(False)
        self.spec = get_backbone_spec(backbone)
        scma_config = config.get_scma_config()
        # A PeftModel when adapted: its save/load/disable_adapter are PEFT's own.
        with warnings.catch_warnings():
            # PEFT asks the backbone `is_gradient_checkpointing`, deprecated in transformers 5: not the user's concern.
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            self.backbone = (get_peft_model(backbone, scma_config, low_cpu_mem_usage=_empty_adapter)
                             if scma_config is not None else backbone)
        self.backbone.eval()  # dropout in a frozen backbone would only add noise; train() below keeps it off
        dual_encoder = self.dual_encoder
        tokenize = {"prompts": config.prompts(), "context_text": config.context_words(),
                    "num_context": config.num_context_tokens, "padding": self.spec.text_padding,
                    "max_length": self.spec.text_max_length(dual_encoder)}
        cache_key = None
        if prompt_token_ids is None and (tokenizer is None or isinstance(tokenizer, (str, os.PathLike))):
            # A local tokenizer's ids are cached on disk: building a new model then loads no tokenizer (~0.3 s).
            cache_key = prompt_token_key(self._local_tokenizer_dir(config, tokenizer), **tokenize)
            prompt_token_ids = load_prompt_tokens(cache_key)  # the key covers the prompts and every argument
        cached = prompt_token_ids is not None
        if prompt_token_ids is None:
            tokenizer = self._load_tokenizer(config, tokenizer)
        self.prompt_learner = QClipPromptLearner(
            **tokenize,
            tokenizer=tokenizer,
            token_embedding=self.spec.token_embedding(dual_encoder),
            random_init=config.context_init is None,
            token_ids=prompt_token_ids,
        )
        if cache_key is not None and not cached:
            store_prompt_tokens(cache_key, self.prompt_learner.token_ids(tokenize["prompts"]))
        if config.quality_head == "linear":
            self.quality_head = QClipQualityHead(len(config.level_names), config.head_init_std,
                                                 bias=getattr(config, "head_bias", True))
        else:
            self.quality_head = QClipExpectedLevelHead(len(config.level_names))
        self._text_cache: tuple[tuple, torch.Tensor] | None = None
        # The map raw score -> MOS (`calibration.json`, loaded by from_pretrained); None: uncalibrated, raw score only.
        self.calibration: Calibration | None = None
        self.post_init()

    # ------------------------------------------------------------------ construction helpers
    @staticmethod
    def resolve_backbone_source(config: QClipConfig) -> tuple[str, str | None]:
        """Where the backbone loads from, and its revision: Meta's PE-Core `.pt` releases are converted once."""
        return backbone_source(config)

    @classmethod
    def _load_backbone(cls, config: QClipConfig, **load_kwargs: Any) -> PreTrainedModel:
        return load_backbone(config, **load_kwargs)

    @classmethod
    def _local_tokenizer_dir(cls, config: QClipConfig, tokenizer: str | os.PathLike | None) -> str | None:
        """The local folder `_load_tokenizer` would read, or `None` (a Hub id, or no tokenizer source)."""
        if tokenizer or config.tokenizer:
            folder = str(tokenizer or config.tokenizer)
        elif config.backbone is not None:
            folder = cls.resolve_backbone_source(config)[0]
        else:
            return None
        return folder if os.path.isdir(folder) else None

    @classmethod
    def _load_tokenizer(cls, config: QClipConfig, tokenizer: Any):
        if tokenizer is not None and not isinstance(tokenizer, (str, os.PathLike)):
            return tokenizer
        if tokenizer or config.tokenizer:
            return AutoTokenizer.from_pretrained(str(tokenizer or config.tokenizer))
        if config.backbone is None:
            raise ValueError(
                "QClipModel needs a tokenizer: the backbone is built from QClipConfig.backbone_config, so pass "
                "`tokenizer=` or set QClipConfig.tokenizer to a Hub id or path."
            )
        source, revision = cls.resolve_backbone_source(config)
        return AutoTokenizer.from_pretrained(source, revision=revision)

    @property
    def dual_encoder(self) -> PreTrainedModel:
        """The backbone dual encoder itself (with SCMA injected in place when adapted)."""
        return self.backbone.get_base_model() if isinstance(self.backbone, PeftModel) else self.backbone

    def train(self, mode: bool = True) -> QClipModel:
        super().train(mode)
        # The frozen backbone always runs in eval mode, like the reference release; only Q-CLIP's parts train.
        self.dual_encoder.eval()
        return self

    # ------------------------------------------------------------------ features
    def _text_side_parameters(self) -> list[torch.Tensor]:
        """The weights that can change the level text features: the adapter and the prompt context."""
        return [p for n, p in self.named_parameters() if "scma_" in n or "prompt_learner" in n]

    def _text_cache_key(self) -> tuple:
        params = self._text_side_parameters()
        adapters_off = isinstance(self.backbone, PeftModel) and any(
            getattr(m, "disable_adapters", False) for m in self.dual_encoder.modules() if hasattr(m, "scma_route")
        )
        active = tuple(self.backbone.active_adapters) if isinstance(self.backbone, PeftModel) else ()
        return (tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in params), adapters_off, active)

    def get_text_features(self) -> torch.Tensor:
        """L2-normalised features of the level prompts, (num_levels, embed_dim).

        In eval mode they are computed once and cached until a trainable weight (prompt context or adapter) changes
        in place or the adapter is switched; with gradients enabled on those weights they are always recomputed so
        gradients stay correct.
        """
        needs_grad = torch.is_grad_enabled() and any(p.requires_grad for p in self._text_side_parameters())
        use_cache = not self.training and not needs_grad
        key = self._text_cache_key() if use_cache else None
        if use_cache and self._text_cache is not None and self._text_cache[0] == key:
            return self._text_cache[1]
        dual_encoder = self.dual_encoder
        learner = self.prompt_learner
        with learner.inject(self.spec.token_embedding(dual_encoder)):
            features = self.spec.text_features(dual_encoder, learner.input_ids, learner.attention_mask)
        features = F.normalize(features.float(), dim=-1)
        if use_cache:
            self._text_cache = (key, features.detach())
        return features

    def get_frame_features(self, pixel_values_videos: torch.Tensor) -> torch.Tensor:
        """Per-frame image features, (batch, frames, embed_dim): all B*T frames go through the vision tower at once."""
        if pixel_values_videos.ndim != 5:
            raise ValueError(
                f"pixel_values_videos must be shaped (batch, frames, channels, height, width); got "
                f"{tuple(pixel_values_videos.shape)}."
            )
        batch, frames = pixel_values_videos.shape[:2]
        flat = pixel_values_videos.reshape(batch * frames, *pixel_values_videos.shape[2:])
        dtype = next(self.dual_encoder.parameters()).dtype
        features = self.spec.image_features(self.dual_encoder, flat.to(dtype))
        return features.float().reshape(batch, frames, -1)

    def get_video_features(self, pixel_values_videos: torch.Tensor) -> torch.Tensor:
        """Pooled, L2-normalised video features, (batch, embed_dim)."""
        return self._pool(self.get_frame_features(pixel_values_videos))

    def _pool(self, frame_features: torch.Tensor) -> torch.Tensor:
        if self.config.frame_pooling == "mean":
            pooled = frame_features.mean(dim=1)
        else:
            pooled = frame_features.max(dim=1).values
        return F.normalize(pooled, dim=-1)

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        pixel_values_videos: torch.Tensor,
        labels: torch.Tensor | None = None,
        loss_fn: Any | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> QClipOutput | tuple:
        r"""
        Args:
            pixel_values_videos (`torch.FloatTensor` of shape `(batch_size, num_frames, channels, height, width)`):
                Frames prepared by [`QClipVideoProcessor`].
            labels (`torch.FloatTensor` of shape `(batch_size,)`, *optional*): quality labels (MOS).
            loss_fn (`Callable`, *optional*): `loss_fn(scores, labels)`; defaults to mean squared error.

        Example:
            ```python
            >>> out = model(pixel_values_videos)  # doctest: +SKIP
            >>> out.scores, out.level_probs  # doctest: +SKIP
            ```
        """
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        frame_embeds = self.get_frame_features(pixel_values_videos)
        video_embeds = self._pool(frame_embeds)
        text_embeds = self.get_text_features()
        similarities = video_embeds @ text_embeds.t()
        logit_scale = self.spec.logit_scale(self.dual_encoder).to(similarities.device).float()
        level_probs = (similarities * logit_scale).softmax(dim=-1)
        if isinstance(self.quality_head, QClipExpectedLevelHead):
            scores = self.quality_head(level_probs)
        else:
            scores = self.quality_head(similarities)
        loss = None
        if labels is not None:
            labels = labels.to(scores.device, scores.dtype)
            loss = loss_fn(scores, labels) if loss_fn is not None else F.mse_loss(scores, labels)
        output = QClipOutput(
            loss=loss,
            scores=scores,
            level_similarities=similarities,
            level_probs=level_probs,
            video_embeds=video_embeds,
            text_embeds=text_embeds,
            frame_embeds=frame_embeds,
        )
        return output if return_dict else output.to_tuple()

    # ------------------------------------------------------------------ trainable state
    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """What Q-CLIP saves besides the PEFT adapter: the prompt context and the quality head."""
        state = {f"quality_head.{k}": v for k, v in self.quality_head.state_dict().items()}  # none for expected_level
        if self.prompt_learner.context is not None:
            state["prompt_learner.context"] = self.prompt_learner.context
        return {k: v.detach().contiguous().cpu() for k, v in state.items()}

    def num_trainable_parameters(self) -> int:
        """Trainable parameters (adapter, context, head), each shared tensor counted once."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def disable_adapter(self):
        """Context manager running the frozen backbone without SCMA (prompts and head still apply)."""
        if not isinstance(self.backbone, PeftModel):
            raise ValueError("This QClipModel has no adapter (QClipConfig.use_adapter=False).")
        return self.backbone.disable_adapter()

    # ------------------------------------------------------------------ save / load
    def save_pretrained(self, save_directory: str | os.PathLike, push_to_hub: bool = False, **kwargs: Any):
        """Write `config.json`, the PEFT adapter (`adapter_config.json`, `adapter_model.safetensors`), the prompt
        context + head (`model.safetensors`), the matching video processor (`video_preprocessor_config.json`), the
        Q-CLIP model card (`README.md`) and, when the model is calibrated, `calibration.json` (an older one in the
        folder is removed otherwise). The frozen backbone is never written.

        A local backbone folder is named relative to `save_directory` (`./backbone`) when it lies inside it, so the
        folder can be moved or pushed with it; otherwise by its absolute path, so the folder loads from any working
        directory.

        Example:
            ```python
            >>> model.save_pretrained("my-qclip")  # doctest: +SKIP
            >>> QClipModel.from_pretrained("my-qclip")  # doctest: +SKIP
            ```
        """
        if os.path.isfile(save_directory):
            raise ValueError(f"save_directory={str(save_directory)!r} is a file; give a directory.")
        if push_to_hub:
            repo_id = kwargs.pop("repo_id", None) or str(save_directory).rstrip("/").split("/")[-1]
            return self.push_to_hub(repo_id, **kwargs)
        os.makedirs(save_directory, exist_ok=True)
        if self._auto_class is not None:
            from .remote_code_qclip import export_remote_code

            export_remote_code(self, save_directory)
        config = copy.deepcopy(self.config)
        fallbacks = {"backbone": backbone_fallback_path(config.backbone, save_directory)}
        config.backbone = portable_backbone_reference(config.backbone, save_directory)
        if config.tokenizer is not None and os.path.isdir(config.tokenizer):
            fallbacks["tokenizer"] = backbone_fallback_path(config.tokenizer, save_directory)
            config.tokenizer = portable_backbone_reference(config.tokenizer, save_directory)
        # Absolute paths of local folders outside the model folder: tried when the relative path no longer resolves.
        config.local_path_fallbacks = {name: path for name, path in fallbacks.items() if path} or None
        with quiet_progress_bars():
            config.save_pretrained(save_directory)
            if isinstance(self.backbone, PeftModel):
                self.backbone.save_pretrained(save_directory, safe_serialization=True)
                if getattr(self, "_hub_repo_id", None):
                    point_adapter_config_at(save_directory, self._hub_repo_id)
        save_file(self.trainable_state_dict(), os.path.join(save_directory, HEAD_WEIGHTS_NAME), metadata={"format": "pt"})
        with open(os.path.join(save_directory, PROMPT_TOKENS_NAME), "w", encoding="utf-8") as handle:
            json.dump(self.prompt_learner.token_ids(self.config.prompts()), handle)
        self._save_processor_and_card(save_directory, config)
        calibration_file = os.path.join(save_directory, CALIBRATION_NAME)
        if self.calibration is not None:
            self.calibration.save(calibration_file)
        elif os.path.isfile(calibration_file):  # a map fitted to other weights must not describe these
            os.remove(calibration_file)

    def _save_processor_and_card(self, save_directory: str | os.PathLike, config: QClipConfig) -> None:
        from .video_processing_qclip import QClipVideoProcessor

        try:
            processor = QClipVideoProcessor.for_model(self)
        except OSError as err:
            # The backbone's own files cannot be read here (e.g. a Hub backbone, offline): the backbone's frame size
            # with the processor's defaults (mean = std = 0.5, as PE-Core and the reference release use).
            logger.info("Processor defaults saved for %s (backbone processor unavailable: %s)", save_directory, err)
            side = self.spec.image_size(self.dual_encoder)
            processor = QClipVideoProcessor(num_frames=self.config.num_frames, size={"height": side, "width": side})
        processor.save_pretrained(save_directory)
        # PEFT writes its boilerplate card; the Q-CLIP card replaces it (training/hub.py rewrites it with results).
        readme = os.path.join(save_directory, "README.md")
        try:
            from ...model_card import render_model_card

            card = render_model_card(config, extra={"num_trainable_parameters": self.num_trainable_parameters()})
        except (ImportError, FileNotFoundError) as err:  # remote-code copy without qclip_hf, or no card template
            logger.warning("No model card written to %s: %s", readme, err)
            if os.path.isfile(readme):
                os.remove(readme)
            return
        with open(readme, "w", encoding="utf-8") as handle:
            handle.write(card)

    def push_to_hub(self, repo_id: str, *args: Any, **kwargs: Any) -> Any:
        """Upload config, adapter, prompt context and head to `repo_id` (see [`point_adapter_config_at`])."""
        self._hub_repo_id = repo_id
        try:
            return super().push_to_hub(repo_id, *args, **kwargs)
        finally:
            self._hub_repo_id = None

    @classmethod
    def from_pretrained(
        cls,
        pretrained_model_name_or_path: str | os.PathLike,
        *model_args: Any,
        config: QClipConfig | None = None,
        backbone: PreTrainedModel | None = None,
        tokenizer: Any = None,
        revision: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        token: str | bool | None = None,
        local_files_only: bool = False,
        force_download: bool = False,
        dtype: torch.dtype | None = None,
        **kwargs: Any,
    ) -> QClipModel:
        """Load a saved Q-CLIP model: the backbone from the id/path its config names, then the adapter, prompt
        context and head from `pretrained_model_name_or_path` (a local directory or a Hub repo id).

        The backbone is built on the meta device and receives its checkpoint's tensors directly (no random
        initialisation first); the tokenizer comes from the backbone. A `calibration.json` in the folder or repo
        becomes `model.calibration` (the map from raw score to MOS); without one it is `None` (uncalibrated).

        Raises:
            ModelLoadError: for a missing folder, an id not in the cache while offline, a gated, missing or private
                Hub repo, a broken `config.json`, corrupt or truncated weights, or a missing backbone; the message
                names the input and what to do.

        Example:
            ```python
            >>> model = QClipModel.from_pretrained("user/qclip-lsvq", revision="main")  # doctest: +SKIP
            ```
        """
        if dtype == "auto":  # pipeline() passes "auto": keep the backbone's own dtype
            dtype = None
        hub = {"revision": revision, "cache_dir": cache_dir, "token": token, "local_files_only": local_files_only,
               "force_download": force_download, "subfolder": kwargs.pop("subfolder", None) or "",
               "proxies": kwargs.pop("proxies", None)}
        if kwargs.get("torch_dtype") is not None and dtype is None:  # transformers' older name, still accepted there
            dtype = kwargs.pop("torch_dtype")
        kwargs.pop("torch_dtype", None)
        source = str(pretrained_model_name_or_path)
        with quiet_progress_bars():
            folder = resolve_model_dir(source, **hub)
            if config is None:
                config, kwargs = QClipConfig.from_pretrained(folder, return_unused_kwargs=True, **kwargs)
            else:  # e.g. from AutoModel, whose AutoConfig did not resolve a backbone path relative to the folder
                config.resolve_local_paths(folder)
            # What is left is neither a config attribute nor a keyword this loader reads: transformers' own keywords
            # at their defaults pass, anything else is refused by name before the backbone loads.
            check_loading_kwargs(kwargs, known=set(inspect.signature(cls.from_pretrained).parameters)
                                 | set(hub) | set(config.to_dict()))
            # The saved files are checked before the backbone loads (seconds at PE-Core-L), not after.
            adapter_file = folder / ADAPTER_WEIGHTS_NAME
            if config.get_scma_config() is not None and not adapter_file.is_file():
                raise ModelLoadError(f"model folder '{source}' has no {ADAPTER_WEIGHTS_NAME}",
                                     "save the model again with QClipModel.save_pretrained")
            head_file = head_weights_file(folder, source)
            calibration = load_calibration(folder)  # a malformed calibration.json fails here, not after the backbone
            if backbone is None:
                backbone = cls._load_backbone(config, **({"dtype": dtype} if dtype is not None else {}))
            model = cls(config, backbone=backbone, tokenizer=tokenizer,
                        prompt_token_ids=None if tokenizer is not None else saved_prompt_tokens(folder, config),
                        _empty_adapter=True)
            if isinstance(model.backbone, PeftModel):
                # The adapter was created empty (meta device): the file's tensors are assigned, not copied.
                mismatch = "config.json and adapter_model.safetensors must come from the same save"
                try:
                    result = set_peft_model_state_dict(model.backbone, load_safetensors(adapter_file),
                                                       low_cpu_mem_usage=True)
                except RuntimeError as err:  # torch's "size mismatch for ..." (e.g. another `r` in config.json)
                    first = next((line.strip() for line in str(err).splitlines() if "size mismatch" in line), err)
                    raise ModelLoadError(f"adapter weights in '{source}' do not match its config.json: {first}",
                                         mismatch) from err
                missing = [k for k in result.missing_keys if "scma_" in k]
                if missing or result.unexpected_keys:
                    raise ModelLoadError(
                        f"adapter weights in '{source}' do not match its config.json: missing {missing[:5]}, "
                        f"unexpected {list(result.unexpected_keys)[:5]}",
                        mismatch,
                    )
            model._load_trainable_state_dict(load_safetensors(head_file), source=source)
            model.calibration = calibration
        # Where the model came from, as transformers records it: the pipeline, the CLI, the report and the app load
        # the video processor saved there (for a Hub repo, at the commit these weights came from).
        local = Path(source).expanduser().is_dir()
        model.config.name_or_path = model.name_or_path = str(folder) if local else source
        commit = None if local else next((p.name for p in (folder, *folder.parents) if p.parent.name == "snapshots"),
                                         None)
        if commit:
            model.config._commit_hash = commit
        if dtype is not None:
            model.to(dtype)
        return model.eval()

    def _load_trainable_state_dict(self, state: dict[str, torch.Tensor], source: str) -> None:
        expected = self.trainable_state_dict()
        missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
        if missing or unexpected:
            raise ValueError(f"{HEAD_WEIGHTS_NAME} in {source} does not match the model: missing {missing}, "
                             f"unexpected {unexpected}.")
        with torch.no_grad():
            for name, value in state.items():
                target = self.get_parameter(name) if "." in name else getattr(self, name)
                if target.shape != value.shape:
                    raise ValueError(f"{HEAD_WEIGHTS_NAME} in {source}: {name} has shape {tuple(value.shape)}, "
                                     f"the model expects {tuple(target.shape)}.")
                target.copy_(value)
