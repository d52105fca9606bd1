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


def _fake_served(api_key: str = "", **settings):
    """A hermetic installation on the fake engine with `settings`, and `stepaudio serve` in front of it."""
    from sa_helpers import StepAudio, cleanup, short_tmp

    root = short_tmp()
    inst = StepAudio(root, **settings)
    server = HttpServer(inst, api_key=api_key)
    try:
        yield server
    finally:
        server.stop()
        inst.shutdown()
        cleanup(root)


@pytest.fixture(scope="module")
def fake_served():
    """`stepaudio serve` on the fake engine, shared by a module's tests (the error paths, limits,
    disconnects and load need no real model). Queue of 64: 32 concurrent clients all fit. Small limits
    (2 MiB bodies, 4 uploads at once) keep the limit tests quick."""
    yield from _fake_served(queue_size=64, http_max_body_mb=2, http_max_uploads=4)


@pytest.fixture(scope="module")
def keyed_served():
    """`stepaudio serve` with an API key and one CORS origin (fake engine)."""
    yield from _fake_served(api_key="s3cret-key", http_cors_origins="https://app.example")
