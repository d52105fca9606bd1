"""CAM++ front end: our Kaldi fbank against independent implementations, and the speaker ONNX wrapper."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from stepaudio_engine.api import EngineError, Reason
from stepaudio_engine.kaldi_fbank import CAMPPLUS_FBANK, kaldi_fbank_np
from stepaudio_engine.vocoder.speaker import SpeakerEncoder, campplus_input


def _signal(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    x = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 3100 * t) + 0.02 * rng.standard_normal(n)
    return (x + 0.05).astype(np.float32)  # a DC offset exercises the per-frame DC removal


def _direct_fbank_f64(x: np.ndarray) -> np.ndarray:
    """Straight loops from the Kaldi recipe (torchaudio.compliance.kaldi.fbank defaults), float64."""
    sr, flen, fshift, nfft, nbins = 16000, 400, 160, 512, 80
    x = x.astype(np.float64)
    n_frames = 1 + (len(x) - flen) // fshift
    mel = lambda f: 1127.0 * math.log(1.0 + f / 700.0)  # noqa: E731
    lo, hi = mel(20.0), mel(8000.0)
    delta = (hi - lo) / (nbins + 1)
    out = np.zeros((n_frames, nbins))
    for f in range(n_frames):
        frame = x[f * fshift: f * fshift + flen].copy()
        frame -= frame.mean()
        emph = np.empty(flen)
        for i in range(flen - 1, 0, -1):
            emph[i] = frame[i] - 0.97 * frame[i - 1]
        emph[0] = frame[0] - 0.97 * frame[0]
        for i in range(flen):
            emph[i] *= (0.5 - 0.5 * math.cos(2 * math.pi * i / (flen - 1))) ** 0.85
        padded = np.zeros(nfft)
        padded[:flen] = emph
        k = np.arange(nfft // 2 + 1)[:, None]
        dft = (padded[None, :] * np.exp(-2j * np.pi * k * np.arange(nfft)[None, :] / nfft)).sum(axis=1)
        power = np.abs(dft) ** 2
        for b in range(nbins):
            left, center, right = lo + b * delta, lo + (b + 1) * delta, lo + (b + 2) * delta
            acc = 0.0
            for i in range(nfft // 2):
                m = mel(i * sr / nfft)
                if left < m < right:
                    acc += power[i] * ((m - left) / (center - left) if m <= center else (right - m) / (right - center))
            out[f, b] = math.log(max(acc, float(np.finfo(np.float32).eps)))
    return out


def test_fbank_matches_direct_float64_loops() -> None:
    x = _signal(400 + 160 * 5 + 77)  # 6 whole frames and a partial one that snip_edges drops
    ours = kaldi_fbank_np(x)
    ref = _direct_fbank_f64(x)
    assert ours.shape == ref.shape == (6, 80)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, atol=2e-5, rtol=0)


def test_fbank_matches_kaldi_native_fbank() -> None:
    knf = pytest.importorskip("kaldi_native_fbank", reason="kaldi-native-fbank not installed")
    x = _signal(16000, seed=3)
    opts = knf.FbankOptions()
    opts.frame_opts.dither = 0.0
    opts.frame_opts.samp_freq = 16000
    opts.frame_opts.snip_edges = True
    opts.mel_opts.num_bins = 80
    fb = knf.OnlineFbank(opts)
    fb.accept_waveform(16000, x.tolist())
    fb.input_finished()
    ref = np.stack([fb.get_frame(i) for i in range(fb.num_frames_ready)])
    ours = kaldi_fbank_np(x)
    assert ours.shape == ref.shape == (98, 80)
    # kaldi-native-fbank computes in float32 (measured max 1.1e-4, mean 5e-6 in the log domain)
    np.testing.assert_allclose(ours, ref, atol=5e-4, rtol=0)


def test_fbank_short_input_gives_no_frames() -> None:
    assert kaldi_fbank_np(np.zeros(399, np.float32)).shape == (0, 80)
    assert kaldi_fbank_np(np.zeros(400, np.float32)).shape == (1, 80)


def test_fbank_options_geometry() -> None:
    o = CAMPPLUS_FBANK
    assert (o.window_size, o.window_shift, o.padded_size) == (400, 160, 512)


def test_campplus_input_is_mean_normalised() -> None:
    feat = campplus_input(_signal(8000))
    assert feat.shape == (48, 80) and feat.dtype == np.float32
    np.testing.assert_allclose(feat.mean(axis=0), 0.0, atol=1e-4)


def test_campplus_input_too_short() -> None:
    with pytest.raises(EngineError) as err:
        campplus_input(np.zeros(100, np.float32))
    assert err.value.reason == Reason.BAD_INPUT


def test_speaker_encoder_on_tiny_model(tmp_path: Path) -> None:
    from stepaudio_engine.tiny.vocoder import write_tiny_vocoder

    folder = write_tiny_vocoder(tmp_path, seed=0)
    enc = SpeakerEncoder(folder / "campplus.onnx")
    emb = enc.embed(_signal(16000))
    assert emb.shape == (192,) and emb.dtype == np.float32 and np.all(np.isfinite(emb))
    assert np.abs(emb).max() > 0


def test_speaker_encoder_missing_and_corrupt(tmp_path: Path) -> None:
    with pytest.raises(EngineError) as err:
        SpeakerEncoder(tmp_path / "campplus.onnx")
    assert err.value.reason == Reason.MODEL_MISSING and "campplus.onnx" in err.value.message
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model")
    with pytest.raises(EngineError) as err:
        SpeakerEncoder(bad)
    assert err.value.reason == Reason.MODEL_CORRUPT
