"""Lazy package attributes (PEP 562), the torch-free counterpart of transformers' `_LazyModule`.

A package `__init__` lists which submodule defines each public name; the submodule is imported the first time one
of its names is read. Start-up time is a feature: `qclip-vqa --help` must not pay for torch, and transformers'
own `_LazyModule` costs about 0.7 s to import, so this helper uses the standard library only.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_attributes(
    package: str, import_structure: Mapping[str, Sequence[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """`(__getattr__, __dir__, __all__)` for `package`, whose names come from the submodules of `import_structure`.

    Args:
        package (`str`): the package's `__name__`.
        import_structure (`Mapping[str, Sequence[str]]`): submodule name (relative, without the dot) -> the public
            names it defines.

    Example:
        ```python
        >>> # in mypackage/__init__.py
        >>> __getattr__, __dir__, __all__ = lazy_attributes(__name__, {"modeling": ["MyModel"]})  # doctest: +SKIP
        ```
    """
    owner = {name: module for module, names in import_structure.items() for name in names}
    if len(owner) != sum(len(names) for names in import_structure.values()):
        raise ValueError(f"{package}: a public name is listed under two submodules in the import structure")

    def __getattr__(name: str) -> Any:
        if name not in owner:
            # `import pkg; pkg.submodule` worked while `__init__` imported everything: keep it working.
            if not name.startswith("__") and importlib.util.find_spec(f"{package}.{name}") is not None:
                return importlib.import_module(f"{package}.{name}")
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{owner[name]}"), name)
        setattr(importlib.import_module(package), name, value)  # later reads skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(importlib.import_module(package))) | set(owner))

    return __getattr__, __dir__, sorted(owner)


__all__ = ["lazy_attributes"]
