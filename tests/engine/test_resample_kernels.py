"""The vocoder prompt's resampler builds its kernel in float32 as torchaudio.functional.resample does
(docs/engine/vocoder.md "Resampling"); the tokenizer keeps the float64-built kernel of transforms.Resample."""
from __future__ import annotations

import math

import numpy as np
import pytest

from stepaudio_engine.resample import kernel_params, resample, sinc_kernel_f32, sinc_kernel_f64


def _float32_formula(sr_in: int, sr_out: int, rolloff: float = 0.99, width_zeros: int = 6) -> np.ndarray:
    """The same windowed-sinc formula evaluated independently in numpy, every value and step float32."""
    f = np.float32
    p, q, base, width = kernel_params(sr_in, sr_out, rolloff, width_zeros)
    t = np.arange(0, -q, -1, dtype=f)[:, None] / f(q) + np.arange(-width, width + p, dtype=f)[None, :] / f(p)
    t = np.clip(t * f(base), f(-width_zeros), f(width_zeros))
    window = np.cos(t * f(math.pi) / f(width_zeros) / f(2)) ** 2
    t = t * f(math.pi)
    with np.errstate(invalid="ignore", divide="ignore"):
        sinc = np.where(t == 0, f(1.0), np.sin(t) / t)
    return sinc * (window * f(base / p))


@pytest.mark.parametrize("sr_in, sr_out", [(44100, 16000), (44100, 24000), (22050, 24000)])
def test_functional_kernel_is_the_float32_evaluation(sr_in, sr_out):
    expected = _float32_formula(sr_in, sr_out)
    ours = sinc_kernel_f32(sr_in, sr_out)
    assert ours.dtype == np.float32 and ours.shape == expected.shape
    # numpy's and torch's float32 sin/cos may differ by an ulp; the float64-built kernel is 10-60x further off
    assert np.abs(ours - expected).max() <= 2e-7
    assert np.abs(sinc_kernel_f64(sr_in, sr_out).astype(np.float32) - expected).max() > 1e-6


def test_vocoder_prompt_path_uses_the_functional_kernel(monkeypatch):
    from stepaudio_engine.vocoder import facade

    x = np.random.default_rng(1).standard_normal(44100).astype(np.float32) * 0.3
    got = facade._resample(x, 44100, 16000)
    assert np.array_equal(got, resample(x, 44100, 16000, kernel="functional"))
    assert not np.array_equal(got, resample(x, 44100, 16000, kernel="transform"))
    # and that output is the float32 kernel applied as a polyphase convolution
    p, q, _, width = kernel_params(44100, 16000)
    padded = np.concatenate([np.zeros(width), x, np.zeros(width + p)]).astype(np.float64)
    k = _float32_formula(44100, 16000).astype(np.float64)
    frames = (len(padded) - k.shape[1]) // p + 1
    direct = (padded[np.arange(frames)[:, None] * p + np.arange(k.shape[1])] @ k.T).reshape(-1)[: len(got)]
    assert np.abs(got - direct).max() < 2e-6
    with pytest.raises(ValueError, match="kernel must be one of"):
        resample(x, 44100, 16000, kernel="fast")
