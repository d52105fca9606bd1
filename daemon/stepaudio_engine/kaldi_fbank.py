"""Kaldi-compatible log-mel filterbank, our own torch code (no torchaudio), shared by the vq02 front end and CAM++.

#vq02-front-end, docs/engine/vocoder.md#speaker-embedding):
It reproduces `torchaudio.compliance.kaldi.fbank` with dither 0 and snip_edges (docs/engine/tokenizer.md
25 ms / 10 ms frames (only whole frames), per-frame DC removal, pre-emphasis 0.97 (the first sample uses itself
as predecessor), a window, zero pad to the next power of two (512 at 16 kHz), power spectrum, Kaldi triangular
mel bins on 1127 ln(1 + f/700) from 20 Hz to Nyquist (last FFT bin weight 0), natural log floored at the float32
epsilon (torchaudio's floor for the float32 audio both callers feed). Two callers, two presets:

* VQ02_FBANK: samples x 32768, symmetric Hamming window, float32 arithmetic in torchaudio's order, as FunASR's
  `WavFrontendOnline.forward_fbank` calls it (UP:funasr_detach/frontends/wav_frontend.py). Dither is off so the
  codes are deterministic (docs/engine/tokenizer.md#determinism; upstream's default 1.0 adds N(0, 1) noise per sample).
* CAMPPLUS_FBANK: samples as they are (not scaled), Povey window (Hann ** 0.85, Kaldi's default), computed in
  float64 (UP:stepvocoder/cosyvoice2/cli/frontend.py `kaldi.fbank(speech, num_mel_bins=80, dither=0)`).
The result is float32 either way.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

LOG_FLOOR = float(torch.finfo(torch.float32).eps)   # torchaudio _get_epsilon for float32 input
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class FbankOptions:
    sample_rate: int = 16000
    n_mels: int = 80
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    preemphasis: float = 0.97
    low_freq: float = 20.0
    high_freq: float = 0.0       # <= 0 means Nyquist + high_freq (Kaldi convention)
    window: str = "povey"        # "povey" (Kaldi default) or "hamming"
    scale: float = 1.0           # samples are multiplied by this first (32768 turns [-1, 1] into int16 range)
    dtype: str = "float32"       # arithmetic precision: "float32" or "float64"

    def __post_init__(self) -> None:
        if self.window not in ("povey", "hamming"):
            raise ValueError(f"unknown fbank window {self.window!r}")
        if self.dtype not in _DTYPES:
            raise ValueError(f"unknown fbank dtype {self.dtype!r}")

    @property
    def window_size(self) -> int:
        return int(self.sample_rate * self.frame_length_ms * 0.001)

    @property
    def window_shift(self) -> int:
        return int(self.sample_rate * self.frame_shift_ms * 0.001)

    @property
    def padded_size(self) -> int:
        return 1 << (self.window_size - 1).bit_length()   # Kaldi round_to_power_of_two

    @property
    def torch_dtype(self) -> torch.dtype:
        return _DTYPES[self.dtype]


VQ02_FBANK = FbankOptions(window="hamming", scale=32768.0, dtype="float32")
CAMPPLUS_FBANK = FbankOptions(window="povey", scale=1.0, dtype="float64")


def _mel(freq):
    if isinstance(freq, torch.Tensor):
        return 1127.0 * (1.0 + freq / 700.0).log()
    return 1127.0 * math.log(1.0 + freq / 700.0)


@lru_cache(maxsize=8)
def kaldi_mel_banks(opts: FbankOptions) -> torch.Tensor:
    """(n_mels, padded_size/2 + 1) triangular Kaldi mel filters in opts' dtype (last FFT bin weight 0)."""
    dtype = opts.torch_dtype
    n_fft_bins = opts.padded_size // 2
    nyquist = 0.5 * opts.sample_rate
    high = opts.high_freq if opts.high_freq > 0 else nyquist + opts.high_freq
    mel_low, mel_high = _mel(opts.low_freq), _mel(high)
    delta = (mel_high - mel_low) / (opts.n_mels + 1)
    b = torch.arange(opts.n_mels, dtype=dtype).unsqueeze(1)
    left = mel_low + b * delta
    center = mel_low + (b + 1.0) * delta
    right = mel_low + (b + 2.0) * delta
    mel = _mel((opts.sample_rate / opts.padded_size) * torch.arange(n_fft_bins, dtype=dtype)).unsqueeze(0)
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    banks = torch.clamp(torch.min(up, down), min=0.0)                 # (n_mels, n_fft/2)
    return torch.nn.functional.pad(banks, (0, 1))                     # + Nyquist bin with weight 0


def window_function(opts: FbankOptions) -> torch.Tensor:
    """The symmetric analysis window, (window_size,) in opts' dtype."""
    n, dtype = opts.window_size, opts.torch_dtype
    if opts.window == "hamming":
        return torch.hamming_window(n, periodic=False, alpha=0.54, beta=0.46, dtype=dtype)
    return torch.hann_window(n, periodic=False, dtype=dtype).pow(0.85)


def fbank_frame_count(n_samples: int, opts: FbankOptions = VQ02_FBANK) -> int:
    """Frames produced with snip_edges: 1 + (n - 400) // 160, or 0 if shorter than one window."""
    if n_samples < opts.window_size:
        return 0
    return 1 + (n_samples - opts.window_size) // opts.window_shift


def kaldi_fbank(samples: torch.Tensor, opts: FbankOptions = VQ02_FBANK) -> torch.Tensor:
    """Samples (N,) -> float32 log-mel (T, n_mels); (0, n_mels) when shorter than one window."""
    x = samples.reshape(-1).to(opts.torch_dtype) * opts.scale
    n_frames = fbank_frame_count(x.numel(), opts)
    if n_frames == 0:
        return torch.zeros(0, opts.n_mels)
    frames = x.as_strided((n_frames, opts.window_size), (opts.window_shift, 1))
    frames = frames - frames.mean(dim=1, keepdim=True)
    previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
    frames = frames - opts.preemphasis * previous
    frames = frames * window_function(opts).unsqueeze(0)
    frames = torch.nn.functional.pad(frames, (0, opts.padded_size - opts.window_size))
    power = torch.fft.rfft(frames).abs().pow(2.0)
    mel = torch.mm(power, kaldi_mel_banks(opts).T)   # transposed view, as torchaudio multiplies
    floor = torch.tensor(LOG_FLOOR, dtype=mel.dtype)
    return torch.max(mel, floor).log().to(torch.float32)


def kaldi_fbank_np(wav: np.ndarray, opts: FbankOptions = CAMPPLUS_FBANK) -> np.ndarray:
    """numpy convenience: mono waveform (N,) -> float32 (T, n_mels)."""
    return kaldi_fbank(torch.from_numpy(np.ascontiguousarray(wav)), opts).numpy()
