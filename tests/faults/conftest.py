"""Fixtures of the fault-injection suite: the tiny model once per session, a real-engine installation
(the same set-up as tests/integration/conftest.py), and overlays of the tiny folder to damage."""
from __future__ import annotations

from pathlib import Path

import pytest

from sa_helpers import StepAudio, cleanup, short_tmp


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    """The tiny model folder, written once per session (about 10-20 s); never modified by a test."""
    from stepaudio_engine.tiny import ensure_tiny_models

    return ensure_tiny_models(tmp_path_factory.mktemp("faults-tiny") / "models")


@pytest.fixture
def real(tiny_models):
    """A hermetic installation whose daemon hosts the real engine on the tiny model."""
    root = short_tmp()
    inst = StepAudio(root, engine="stepaudio_engine.engine:Engine", models_dir=tiny_models, device="cpu",
                     threads=1)
    inst.models_source = tiny_models  # type: ignore[attr-defined]  # for tests that copy or damage it
    try:
        yield inst
    finally:
        inst.shutdown()
        cleanup(root)
