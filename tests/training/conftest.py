"""Fixtures of the training tests."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def free_port() -> int:
    """A TCP port the OS reports free (bound as port 0 on every interface, then released), for the rendezvous of a
    launched process group: two test runs on one host never share one, unlike a fixed port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]
