"""Prompt mel spectrogram at 24 kHz (docs/engine/vocoder.md#prompt-mel; UP:stepvocoder/cosyvoice2/matcha/audio.py).

Reflect-pad (n_fft - hop) / 2 on both sides, STFT without centering (periodic Hann window), magnitude with a
1e-9 floor inside the square root, librosa's Slaney mel filter bank, natural log clamped at 1e-5.
Output: float32 (T_mel, num_mels) with T_mel = floor(N / hop) (50 frames per second at 24 kHz).
"""
from __future__ import annotations

import numpy as np

from stepaudio_engine.dsp import slaney_mel_filters

from .config import MelConfig


def mel_filters(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """librosa.filters.mel with its defaults (Slaney scale, Slaney norm), as matcha uses; (n_mels, n_fft//2+1)."""
    return slaney_mel_filters(sr, n_fft, n_mels, fmin, fmax)


def prompt_mel(wav_24k: np.ndarray, cfg: MelConfig | None = None) -> np.ndarray:
    """Log-mel of a mono float waveform already at cfg.sampling_rate; returns float32 (T_mel, num_mels)."""
    import torch

    cfg = cfg or MelConfig()
    wav = np.asarray(wav_24k, dtype=np.float32).reshape(-1)
    pad = (cfg.n_fft - cfg.hop_size) // 2
    if wav.size <= pad:
        # reflect padding needs more samples than the pad; such a prompt is too short to describe a voice
        raise ValueError(f"prompt audio too short for the mel front end ({wav.size} samples)")
    x = torch.from_numpy(wav)[None, None]
    x = torch.nn.functional.pad(x, (pad, pad), mode="reflect")[0]
    window = torch.hann_window(cfg.win_size, periodic=True)
    spec = torch.stft(
        x, cfg.n_fft, hop_length=cfg.hop_size, win_length=cfg.win_size, window=window,
        center=False, pad_mode="reflect", normalized=False, onesided=True, return_complex=True,
    )
    spec = torch.view_as_real(spec)
    mag = torch.sqrt(spec.pow(2).sum(-1) + 1e-9)  # (1, n_fft//2+1, T)
    basis = torch.from_numpy(
        mel_filters(cfg.sampling_rate, cfg.n_fft, cfg.num_mels, float(cfg.fmin), float(cfg.fmax))
    )
    mel = torch.matmul(basis, mag)
    logmel = torch.log(torch.clamp(mel, min=1e-5))
    return logmel[0].T.contiguous().numpy().astype(np.float32)
