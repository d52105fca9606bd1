"""The `prompt`, `logits` and `generate` stage commands end to end on the tiny model folder."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from stepaudio_engine.stages.__main__ import build_parser, main
from stepaudio_engine.tiny.llm import write_tiny_llm

AUDIO = [1, 2, 1034, 1035, 1036, 3, 4, 1037, 1038, 1039]


@pytest.fixture(scope="module")
def llm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_llm(tmp_path_factory.mktemp("models"))["base"]


@pytest.fixture(scope="module")
def edit_prompt(llm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("stage")
    np.save(work / "audio.npy", np.asarray(AUDIO, dtype=np.int64))
    out = work / "edit.npy"
    rc = main(["prompt", "--llm-dir", str(llm_dir), "--mode", "edit", "--audio-tokens", str(work / "audio.npy"),
               "--audio-text", "hello world", "--edit-type", "style", "--edit-info", "whisper", "--out", str(out)])
    assert rc == 0
    return out


def test_prompt_command(llm_dir: Path, edit_prompt: Path, tmp_path: Path) -> None:
    from stepaudio_engine.llm.prompts import PromptBuilder

    ids = np.load(edit_prompt)
    assert ids.dtype == np.int64 and ids.ndim == 1
    assert ids.tolist() == PromptBuilder(llm_dir).edit_prompt("hello world", AUDIO, "style", "whisper")
    # clone with the speaker id derived from a reference file
    import soundfile as sf

    wav = tmp_path / "ref.wav"
    sf.write(str(wav), (0.1 * np.sin(np.arange(4000) / 9)).astype(np.float32), 16000, subtype="PCM_16")
    np.save(tmp_path / "audio.npy", np.asarray(AUDIO, dtype=np.int64))
    rc = main(["prompt", "--llm-dir", str(llm_dir), "--mode", "clone", "--audio-tokens", str(tmp_path / "audio.npy"),
               "--ref-text", "ref words", "--text", "new words", "--ref-audio", str(wav),
               "--out", str(tmp_path / "c.npy")])
    assert rc == 0
    clone = np.load(tmp_path / "c.npy").tolist()
    assert 65536 + 1034 in clone and clone[:2] == [1, 4] and clone[-1] == 78


def test_prompt_command_rejects_unknown_option(llm_dir: Path, tmp_path: Path, capsys) -> None:
    np.save(tmp_path / "audio.npy", np.asarray(AUDIO, dtype=np.int64))
    rc = main(["prompt", "--llm-dir", str(llm_dir), "--mode", "edit", "--audio-tokens", str(tmp_path / "audio.npy"),
               "--edit-type", "emotion", "--edit-info", "hapy", "--out", str(tmp_path / "x.npy")])
    assert rc == 1 and "did you mean 'happy'" in capsys.readouterr().err


def test_logits_command(llm_dir: Path, edit_prompt: Path, tmp_path: Path) -> None:
    rc = main(["logits", "--llm-dir", str(llm_dir), "--prompt", str(edit_prompt), "--positions=-1,0,5",
               "--out", str(tmp_path)])
    assert rc == 0
    length = len(np.load(edit_prompt))
    logits = np.load(tmp_path / "logits.npy")
    positions = np.load(tmp_path / "positions.npy")
    argmax = np.load(tmp_path / "argmax.npy")
    lse = np.load(tmp_path / "logsumexp.npy")
    assert logits.shape == (3, 74752) and logits.dtype == np.float32
    assert positions.tolist() == [length - 1, 0, 5]
    assert argmax.shape == (length,) and lse.shape == (length,)
    for row, pos in zip(logits, positions):
        assert int(row.argmax()) == int(argmax[pos])
        assert float(torch.logsumexp(torch.from_numpy(row), 0)) == pytest.approx(float(lse[pos]), abs=1e-4)


def test_generate_command_matches_the_library(llm_dir: Path, edit_prompt: Path, tmp_path: Path) -> None:
    from stepaudio_engine.llm import load_llm
    from stepaudio_engine.llm.sampling import GenerationOptions, generate_detailed

    rc = main(["generate", "--llm-dir", str(llm_dir), "--prompt", str(edit_prompt), "--greedy", "8",
               "--out", str(tmp_path)])
    assert rc == 0
    ids = np.load(edit_prompt).tolist()
    generated = np.load(tmp_path / "generated_ids.npy")
    expected = generate_detailed(load_llm(llm_dir, "base", "cpu", "fp32"), ids,
                                 GenerationOptions(greedy=True, max_length=len(ids) + 8))
    assert generated.tolist() == expected.new_ids and 1 <= len(generated) <= 8
    assert np.load(tmp_path / "audio_tokens.npy").tolist() == expected.audio_tokens


def test_help_documents_the_outputs() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert "logsumexp.npy" in sub.choices["logits"].format_help()
    assert "audio_tokens.npy" in sub.choices["generate"].format_help()
    assert "int64 (L,)" in sub.choices["prompt"].format_help()
