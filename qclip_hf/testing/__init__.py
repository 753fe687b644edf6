"""Test utilities: a local Hub-protocol server for push / download tests."""

from .hub_server import LocalHubServer, hub_env, local_hub, run_with_hub

__all__ = ["LocalHubServer", "hub_env", "local_hub", "run_with_hub"]
