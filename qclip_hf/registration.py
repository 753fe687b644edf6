"""Registration of qclip-hf with transformers and PEFT, automatic on `import qclip_hf` yet free at start-up.

`import qclip_hf` makes these work, exactly as before:

- `AutoConfig` / `AutoModel` for `model_type="qclip"` and `"pe_core"`, `AutoVideoProcessor` for Q-CLIP models;
- `transformers.pipeline("video-quality", ...)`;
- the `"SCMA"` PEFT type (`PeftModel.from_pretrained` on a saved SCMA adapter).

Registering needs the classes, hence torch, transformers and PEFT (several seconds), which a process that only
prints `qclip-vqa --help` must not pay. So `import qclip_hf` registers at once only when transformers' Auto
classes, its pipelines or PEFT are already imported; otherwise it installs a meta-path finder that registers
right after the first of them is imported. The finder waits until no import it saw is still running, so the
registration never reads a half-initialised module (transformers imports its Auto classes from inside other
modules), then removes itself. The finder leaves every module's `__loader__` and `__spec__.loader` as the real
loader found them.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from types import ModuleType

# Importing any of these (or a submodule) means registries qclip-hf must be in may be read.
REGISTRATION_TRIGGERS = ("transformers.models.auto", "transformers.pipelines", "peft")


def register_qclip_hf() -> None:
    """Register the "SCMA" PEFT type, the "qclip"/"pe_core" Auto classes, the video processor and the pipeline.

    Idempotent. Called for you by `import qclip_hf` (at once or deferred, see the module docstring).

    Example:
        ```python
        >>> from transformers import AutoConfig
        >>> register_qclip_hf()
        >>> type(AutoConfig.for_model("qclip")).__name__
        'QClipConfig'
        ```
    """
    from transformers import AutoConfig, AutoModel

    from .models.pe_core import register_pe_core_auto_classes
    from .models.qclip import QClipConfig, QClipModel
    from .models.qclip.video_processing_qclip import register_qclip_video_processor
    from .pipelines.video_quality import register_video_quality_pipeline
    from .tuners.scma import register_scma_peft_method

    register_scma_peft_method()
    AutoConfig.register(QClipConfig.model_type, QClipConfig, exist_ok=True)
    AutoModel.register(QClipConfig, QClipModel, exist_ok=True)
    register_pe_core_auto_classes()
    register_qclip_video_processor(QClipConfig)
    register_video_quality_pipeline()


def _is_trigger(name: str, triggers: Sequence[str]) -> bool:
    return any(name == trigger or name.startswith(trigger + ".") for trigger in triggers)


class _TrackedLoader(importlib.abc.Loader):
    """Runs the real loader and tells the finder when a module starts and ends executing."""

    def __init__(self, loader: importlib.abc.Loader, finder: DeferredRegistrationFinder) -> None:
        self.loader, self.finder = loader, finder

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # The module must see its real loader (pkgutil, importlib.resources and linecache read it).
        module.__loader__ = self.loader
        if getattr(module, "__spec__", None) is not None:
            module.__spec__.loader = self.loader
        self.finder._enter()
        try:
            self.loader.exec_module(module)
        finally:
            self.finder._leave(module.__name__)

    def __getattr__(self, name: str):
        return getattr(self.loader, name)


class DeferredRegistrationFinder(importlib.abc.MetaPathFinder):
    """Calls `callback` once, after a module under `triggers` was imported and no tracked import is running.

    Installed first on `sys.meta_path`; it finds nothing itself, it wraps the loader the next finder returns.
    """

    def __init__(self, triggers: Sequence[str], callback: Callable[[], None]) -> None:
        self.triggers, self.callback = tuple(triggers), callback
        self._state = threading.local()  # per thread: import depth and the finder's own lookups
        self._lock = threading.Lock()
        self._pending = False
        self._done = False

    def find_spec(self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None):
        if self._done or getattr(self._state, "finding", False):
            return None
        self._state.finding = True
        try:
            for finder in sys.meta_path:
                if finder is self:
                    continue
                find_spec = getattr(finder, "find_spec", None)
                if find_spec is None:
                    return None  # a legacy finder comes next: let the import system consult it itself
                spec = find_spec(fullname, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            self._state.finding = False
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _TrackedLoader(spec.loader, self)
        return spec

    def _enter(self) -> None:
        self._state.depth = getattr(self._state, "depth", 0) + 1

    def _leave(self, name: str) -> None:
        self._state.depth -= 1
        if _is_trigger(name, self.triggers):
            self._pending = True
        if self._state.depth == 0 and self._pending:
            self.run()

    def run(self) -> None:
        """Remove the finder and call the callback (once); a failure becomes a warning, not a failed import."""
        with self._lock:
            if self._done:
                return
            self._done = True
        uninstall(self)
        try:
            self.callback()
        except Exception as error:  # the user's `import transformers` must not fail because of qclip-hf
            warnings.warn(
                f"qclip-hf could not register its model, pipeline and PEFT types ({type(error).__name__}: {error}); "
                "`pipeline('video-quality')` and `AutoModel` will not know Q-CLIP models — reinstall qclip-hf and "
                "its requirements (`pip install -e .`).",
                RuntimeWarning,
                stacklevel=2,
            )


def uninstall(finder: DeferredRegistrationFinder) -> None:
    if finder in sys.meta_path:
        sys.meta_path.remove(finder)


def install_deferred_registration(
    triggers: Sequence[str] = REGISTRATION_TRIGGERS, callback: Callable[[], None] = register_qclip_hf
) -> DeferredRegistrationFinder | None:
    """Register now if a trigger module is already imported, else once one is; returns the finder (or None).

    Example:
        ```python
        >>> finder = install_deferred_registration()  # what `import qclip_hf` does
        ```
    """
    for finder in sys.meta_path:
        if isinstance(finder, DeferredRegistrationFinder) and finder.callback is callback:
            return finder  # `importlib.reload(qclip_hf)` must not stack finders
    if any(_is_trigger(name, triggers) for name in list(sys.modules)):
        callback()
        return None
    finder = DeferredRegistrationFinder(triggers, callback)
    sys.meta_path.insert(0, finder)
    return finder


__all__ = ["REGISTRATION_TRIGGERS", "DeferredRegistrationFinder", "install_deferred_registration", "register_qclip_hf"]
