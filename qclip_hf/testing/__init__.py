"""Test utilities: a local Hub-protocol server for push / download tests.

Public names are imported lazily, on first use (see `qclip_hf._lazy`).
"""

from .._lazy import lazy_attributes

_IMPORT_STRUCTURE = {
    "hub_server": ["LocalHubServer", "hub_env", "local_hub", "run_with_hub"],
}

__getattr__, __dir__, __all__ = lazy_attributes(__name__, _IMPORT_STRUCTURE)
