"""Shared fixtures: every test runs against its own STEPAUDIO_HOME (nothing touches the real user dirs)."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from sa_helpers import StepAudio, cleanup, short_tmp

# Tests press Ctrl-C on CLI subprocesses (SIGINT → exit 130). A runner started in the background of a
# non-interactive shell (`cmd &`, nohup) has SIGINT ignored, and an ignored signal stays ignored across
# exec, so every CLI we start would ignore Ctrl-C. A handler (unlike SIG_IGN) resets to the default on exec.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


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


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    """The tiny model folder, written once per test session (about 10 s) and shared by every test that
    runs the real engine; never modified by a test (tests that damage models work on copies)."""
    from stepaudio_engine.tiny import ensure_tiny_models

    return ensure_tiny_models(tmp_path_factory.mktemp("tiny") / "models")


@pytest.fixture
def real(tiny_models):
    """A hermetic installation whose daemon hosts the real engine on the tiny model."""
    root = short_tmp()
    inst = StepAudio(root, engine="stepaudio_engine.engine:Engine", models_dir=tiny_models, device="cpu",
                     threads=1)
    inst.models_source = tiny_models  # type: ignore[attr-defined]  # for tests that copy or damage it
    # selftest looks for the tiny folder in the cache dir: reuse the session's instead of writing another
    cache = inst.home / "cache"
    cache.mkdir(parents=True)
    os.symlink(tiny_models, cache / "tiny-models")
    try:
        yield inst
    finally:
        inst.shutdown()
        cleanup(root)
