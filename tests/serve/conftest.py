"""Fixtures for the HTTP API: `stepaudio serve` in front of a real daemon (tiny model) or a fake one."""
from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the http extra is not installed")

from serve.http_helpers import HttpServer  # noqa: E402


@pytest.fixture
def served(real):
    """`stepaudio serve` (no API key, 127.0.0.1) on the real engine and the tiny model."""
    server = HttpServer(real)
    try:
        yield server
    finally:
        server.stop()
