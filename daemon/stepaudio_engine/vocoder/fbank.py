"""Kaldi-compatible log mel filter bank, our own numpy implementation (no torchaudio).

Matches `torchaudio.compliance.kaldi.fbank` with the defaults CosyVoice uses for CAM++ (engine-spec §7.3):
25 ms frames every 10 ms with snip_edges (only whole frames), dither 0, DC removal per frame, pre-emphasis 0.97
(the first sample uses itself as predecessor), Povey window (Hann ** 0.85), zero-pad to the next power of two
(512 at 16 kHz), power spectrum, Kaldi triangular mel bins on the mel scale 1127*ln(1+f/700) between 20 Hz and
Nyquist, natural log floored at float32 epsilon. Computed in float64, returned as float32.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

FLOAT32_EPS = float(np.finfo(np.float32).eps)  # torchaudio's log floor (_get_epsilon for float32)


@dataclass(frozen=True)
class FbankOptions:
    sample_rate: int = 16000
    num_mel_bins: int = 80
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    preemphasis: float = 0.97
    low_freq: float = 20.0
    high_freq: float = 0.0  # <= 0 means Nyquist + high_freq (Kaldi convention)

    @property
    def frame_length(self) -> int:
        return int(self.sample_rate * self.frame_length_ms * 0.001)

    @property
    def frame_shift(self) -> int:
        return int(self.sample_rate * self.frame_shift_ms * 0.001)

    @property
    def padded_length(self) -> int:
        return 1 << (self.frame_length - 1).bit_length()


def _mel(freq: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log(1.0 + np.asarray(freq, dtype=np.float64) / 700.0)


@functools.lru_cache(maxsize=4)
def kaldi_mel_banks(opts: FbankOptions) -> np.ndarray:
    """Triangular mel weights (num_mel_bins, padded_length//2 + 1) in Kaldi's construction (last column 0)."""
    n_fft_bins = opts.padded_length // 2
    nyquist = 0.5 * opts.sample_rate
    high = opts.high_freq if opts.high_freq > 0 else nyquist + opts.high_freq
    mel_low, mel_high = _mel(opts.low_freq), _mel(high)
    delta = (mel_high - mel_low) / (opts.num_mel_bins + 1)
    fft_mel = _mel(np.arange(n_fft_bins) * (opts.sample_rate / opts.padded_length))
    banks = np.zeros((opts.num_mel_bins, n_fft_bins + 1), dtype=np.float64)
    for b in range(opts.num_mel_bins):
        left, center, right = mel_low + b * delta, mel_low + (b + 1) * delta, mel_low + (b + 2) * delta
        up = (fft_mel - left) / (center - left)
        down = (right - fft_mel) / (right - center)
        w = np.maximum(0.0, np.minimum(up, down))
        banks[b, :n_fft_bins] = w
    return banks


def povey_window(length: int) -> np.ndarray:
    n = np.arange(length, dtype=np.float64)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * n / (length - 1))) ** 0.85


def kaldi_fbank(wav: np.ndarray, opts: FbankOptions | None = None) -> np.ndarray:
    """Log mel fbank of a mono waveform (values in [-1, 1], not scaled by 32768); float32 (frames, bins).

    Returns an empty (0, bins) array when the audio is shorter than one frame (Kaldi snip_edges behaviour).
    """
    opts = opts or FbankOptions()
    x = np.asarray(wav, dtype=np.float64).reshape(-1)
    flen, fshift = opts.frame_length, opts.frame_shift
    if x.size < flen:
        return np.zeros((0, opts.num_mel_bins), dtype=np.float32)
    n_frames = 1 + (x.size - flen) // fshift
    idx = np.arange(flen)[None, :] + fshift * np.arange(n_frames)[:, None]
    frames = x[idx]
    frames = frames - frames.mean(axis=1, keepdims=True)
    # pre-emphasis: y[i] = x[i] - k * x[i-1], with x[-1] taken as x[0]
    prev = np.concatenate([frames[:, :1], frames[:, :-1]], axis=1)
    frames = frames - opts.preemphasis * prev
    frames = frames * povey_window(flen)[None, :]
    spec = np.fft.rfft(frames, n=opts.padded_length, axis=1)
    power = spec.real ** 2 + spec.imag ** 2
    energies = power @ kaldi_mel_banks(opts).T
    return np.log(np.maximum(energies, FLOAT32_EPS)).astype(np.float32)
