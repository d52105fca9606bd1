"""Shared fixtures: every test runs against its own STEPAUDIO_HOME (nothing touches the real user dirs)."""
from __future__ import annotations

import os

import pytest

from sa_helpers import StepAudio, cleanup, short_tmp


@pytest.fixture(autouse=True)
def _hermetic_home(monkeypatch, tmp_path):
    """Even in-process tests must never see the developer's real config, cache or daemon."""
    monkeypatch.setenv("STEPAUDIO_HOME", str(tmp_path / "home"))
    for key in list(os.environ):
        if key.startswith("STEPAUDIO_") and key != "STEPAUDIO_HOME":
            monkeypatch.delenv(key)


@pytest.fixture
def sa():
    """A hermetic installation driven through the real CLI, daemon and worker (fake engine)."""
    root = short_tmp()
    inst = StepAudio(root)
    try:
        yield inst
    finally:
        inst.shutdown()
        cleanup(root)
