"""The 2026 upstream features through CLI → daemon → worker → engine on the tiny model
(docs/engine/upstream-2026.md): --language, Japanese without a transcript, pinyin errors, and the sound tags
of each release (the tiny folder reads as 2025-11; a copy with a chat template reads as 2026-01)."""
from __future__ import annotations

import json

import pytest

from sa_helpers import StepAudio, cleanup, short_tmp, write_wav


def _json(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_language_tag_pinyin_and_2025_tags(real):
    data = _json(real.run(*real.clone_args("ja.wav", "今日はいい天気ですね", "--language", "japanese",
                                           "--seed", "2", "--json"), timeout=300))
    assert (data["options"]["language"], data["options"]["release"]) == ("japanese", "2025-11")
    ref = real.work / "ref.wav"
    # a Japanese reference without its transcript: refused before anything is sent
    result = real.run("clone", str(ref), "こんにちは", "--language", "japanese", "-o", str(real.work / "x.wav"))
    assert result.returncode == 2 and "cannot transcribe" in result.stderr and "--ref-text" in result.stderr
    result = real.run("edit", str(ref), "--emotion", "happy", "--language", "korean", "-o", str(real.work / "y.wav"))
    assert result.returncode == 2 and "Korean" in result.stderr and "--text" in result.stderr
    # malformed pinyin and a conflicting language tag are usage errors
    result = real.run(*real.clone_args("p.wav", "我也想guo6过的生活"))
    assert result.returncode == 2 and "pinyin 'guo6' has tone '6'" in result.stderr
    result = real.run(*real.clone_args("k.wav", "[Korean]네", "--language", "japanese"))
    assert result.returncode == 2 and "starts with [Korean]" in result.stderr
    # valid pinyin goes through to the model
    _json(real.run(*real.clone_args("py.wav", "我也想guo4guo4guo1儿", "--seed", "2", "--json"), timeout=300))
    # a 2026 tag with the 2025 model: the engine refuses it, naming the release; the daemon keeps serving
    source = write_wav(real.work / "in.wav", seconds=1.0)
    result = real.run("edit", str(source), "--paralinguistic", "hi [clears throat] there", "--text", "hi there",
                      "-o", str(real.work / "para.wav"), timeout=300)
    assert result.returncode != 0 and "'[clears throat]' for the 2025-11 model" in result.stderr
    assert not (real.work / "para.wav").exists()
    assert "did you mean" in real.run("edit", str(source), "--paralinguistic", "hi [Laugh] there", "--text", "hi",
                                      "-o", str(real.work / "l.wav")).stderr


@pytest.fixture
def real_2026(tiny_models):
    from stepaudio_engine.tiny import tiny_as_2026

    root = short_tmp()
    models = tiny_as_2026(tiny_models, root / "models")
    inst = StepAudio(root, engine="stepaudio_engine.engine:Engine", models_dir=models, device="cpu", threads=1)
    try:
        yield inst
    finally:
        inst.shutdown()
        cleanup(root)


def test_2026_release_takes_the_new_tags(real_2026):
    source = write_wav(real_2026.work / "in.wav", seconds=1.0)
    result = real_2026.run("edit", str(source), "--paralinguistic", "hi [clears throat] there [Surprise-yo]",
                           "--text", "hi there", "-o", str(real_2026.work / "para.wav"), "--seed", "1", "--json",
                           timeout=300)
    data = _json(result)
    assert (data["options"]["edit_type"], data["options"]["release"]) == ("paralinguistic", "2026-01")
