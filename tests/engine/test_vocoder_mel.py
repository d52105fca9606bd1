"""Prompt mel (docs/engine/vocoder.md#prompt-mel) against a direct numpy implementation."""
from __future__ import annotations

import numpy as np
import pytest

from stepaudio_engine.vocoder.config import MelConfig
from stepaudio_engine.vocoder.mel import mel_filters, prompt_mel


def _direct_mel(x: np.ndarray) -> np.ndarray:
    """Reflect pad 720, frames of 1920 every 480, periodic Hann, |rfft| with 1e-9, Slaney mel, log ≥ 1e-5."""
    x = np.pad(x.astype(np.float64), (720, 720), mode="reflect")
    n_frames = 1 + (len(x) - 1920) // 480
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(1920) / 1920)
    frames = np.stack([x[i * 480: i * 480 + 1920] * win for i in range(n_frames)])
    spec = np.fft.rfft(frames, axis=1)
    mag = np.sqrt(spec.real ** 2 + spec.imag ** 2 + 1e-9)
    basis = mel_filters(24000, 1920, 80, 0.0, 8000.0).astype(np.float64)
    return np.log(np.maximum(mag @ basis.T, 1e-5))


@pytest.mark.parametrize("n", [24000, 24000 + 479, 5000])
def test_prompt_mel_matches_direct_numpy(n: int) -> None:
    rng = np.random.default_rng(n)
    t = np.arange(n) / 24000
    x = (0.4 * np.sin(2 * np.pi * 150 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)
    ours = prompt_mel(x)
    ref = _direct_mel(x)
    assert ours.shape == (n // 480, 80) == ref.shape
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, atol=2e-4, rtol=0)


def test_silence_hits_the_log_floor() -> None:
    out = prompt_mel(np.zeros(4800, np.float32))
    # sqrt(1e-9) magnitudes through the filters stay below 1e-5, so every value is log(1e-5)
    np.testing.assert_allclose(out, np.log(1e-5), atol=1e-6)


def test_mel_filters_are_librosa_slaney() -> None:
    basis = mel_filters(24000, 1920, 80, 0.0, 8000.0)
    assert basis.shape == (80, 961)
    assert basis[:, 8000 * 1920 // 24000 + 1:].max() == 0.0  # nothing above fmax
    assert MelConfig().hop_size == 480


def test_too_short_prompt_is_rejected() -> None:
    with pytest.raises(ValueError):
        prompt_mel(np.zeros(100, np.float32))
