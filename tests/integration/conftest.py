"""Fixtures for tests of the real engine through the real daemon and worker, on the tiny model."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from sa_helpers import StepAudio, cleanup, short_tmp


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    """The tiny model folder, written once per test session (about 10 s)."""
    from stepaudio_engine.tiny import ensure_tiny_models

    return ensure_tiny_models(tmp_path_factory.mktemp("tiny") / "models")


@pytest.fixture
def real(tiny_models):
    """A hermetic installation whose daemon hosts the real engine on the tiny model."""
    root = short_tmp()
    inst = StepAudio(root, engine="stepaudio_engine.engine:Engine", models_dir=tiny_models, device="cpu",
                     threads=1)
    # selftest looks for the tiny folder in the cache dir: reuse the session's instead of writing another
    cache = inst.home / "cache"
    cache.mkdir(parents=True)
    os.symlink(tiny_models, cache / "tiny-models")
    try:
        yield inst
    finally:
        inst.shutdown()
        cleanup(root)
