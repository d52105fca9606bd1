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


RELEASED_FILES = Path(__file__).parent / "data" / "step-audio-editx"


@pytest.fixture(scope="session")
def released_files() -> Path:
    """The folder of the released model's small data files (tests/data/step-audio-editx), each checked
    against the SHA-256 its README lists. A missing or different file fails the test loudly: these tests
    must run on every clone, so they never skip."""
    import hashlib
    import re

    table = re.findall(r"^\| `([^`]+)` \|.*\| ([0-9a-f]{64}) \|$", (RELEASED_FILES / "README.md").read_text(),
                       re.MULTILINE)
    assert len(table) == 4, f"{RELEASED_FILES / 'README.md'} should list 4 files with their SHA-256"
    for name, expected in table:
        path = RELEASED_FILES / name
        if not path.is_file():
            pytest.fail(f"released data file missing: {path} (it is part of the repository; restore it)")
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != expected:
            pytest.fail(f"released data file {path} has SHA-256 {actual}, not {expected} as its README says "
                        "(a Git LFS pointer, or changed line endings?)")
    return RELEASED_FILES
