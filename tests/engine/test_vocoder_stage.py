"""Stage tool `vocode` on the tiny model: every documented file is written with the documented shape."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from stepaudio_engine.stages.__main__ import main
from stepaudio_engine.tiny.vocoder import write_tiny_vocoder


def test_vocode_stage_writes_documented_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    llm = tmp_path / "Step-Audio-EditX"
    write_tiny_vocoder(llm, seed=1)
    sr = 16000
    t = np.arange(sr) / sr
    sf.write(tmp_path / "p.wav", 0.9 * np.sin(2 * np.pi * 200 * t), sr)
    rng = np.random.default_rng(0)
    mixed = lambda n: np.array([rng.integers(0, 1024) if i % 5 < 2 else rng.integers(1024, 5120)  # noqa: E731
                                for i in range(n)], dtype=np.int64)
    np.save(tmp_path / "t.npy", mixed(12))   # G = 3 (last group padded)
    np.save(tmp_path / "pt.npy", mixed(10))  # Gp = 2
    out = tmp_path / "out"
    rc = main(["vocode", "--model-dir", str(llm), "--tokens", str(tmp_path / "t.npy"),
               "--prompt-wav", str(tmp_path / "p.wav"), "--prompt-tokens", str(tmp_path / "pt.npy"),
               "--out", str(out), "--seed", "3"])
    assert rc == 0
    G, Gp = 3, 2
    expected = {
        "prompt_mel": ((50, 80), np.float32),
        "campplus_fbank": ((98, 80), np.float32),
        "speaker_embedding": ((192,), np.float32),
        "flow_tokens": ((3 * G, 2), np.int64),
        "flow_prompt_tokens": ((3 * Gp, 2), np.int64),
        "prompt_feat_aligned": ((6 * Gp, 80), np.float32),
        "encoder_out": ((6 * Gp + 6 * G, 80), np.float32),
        "mel": ((80, 6 * G), np.float32),
        "f0": ((6 * G,), np.float32),
        "hift_source": ((2880 * G,), np.float32),
        "wav": ((2880 * G,), np.float32),
    }
    for name, (shape, dtype) in expected.items():
        arr = np.load(out / f"{name}.npy")
        assert arr.shape == shape and arr.dtype == dtype, name
    audio, rate = sf.read(out / "output.wav")
    assert rate == 24000 and audio.shape == (2880 * G,)
