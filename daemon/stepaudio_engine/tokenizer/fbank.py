"""vq02 front end: Kaldi-style log-mel filterbank, low frame rate (LFR) stacking and CMVN.

The filterbank reproduces `torchaudio.compliance.kaldi.fbank` as upstream calls it from FunASR's
`WavFrontendOnline.forward_fbank` (engine-spec §3.3): samples x 32768, 25 ms / 10 ms frames with snip_edges,
DC removal, pre-emphasis 0.97 (first sample replicated), symmetric Hamming window, zero pad to 512, power
spectrum, 80 Kaldi mel bins from 20 Hz to Nyquist, log with a float32-epsilon floor. Dither is off here so the
codes are deterministic (engine-spec §3.9); upstream's default dither 1.0 adds N(0, 1) noise per sample.
Computed in float32 torch so it follows torchaudio's arithmetic order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from stepaudio_engine.api import EngineError, Reason


@dataclass(frozen=True)
class FbankOptions:
    sample_rate: int = 16000
    n_mels: int = 80
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    preemphasis: float = 0.97
    low_freq: float = 20.0
    lfr_m: int = 7       # frames stacked per LFR frame
    lfr_n: int = 6       # LFR stride

    @property
    def window_size(self) -> int:
        return int(self.sample_rate * self.frame_length_ms * 0.001)

    @property
    def window_shift(self) -> int:
        return int(self.sample_rate * self.frame_shift_ms * 0.001)

    @property
    def padded_size(self) -> int:
        return 1 << (self.window_size - 1).bit_length()   # round_to_power_of_two


def _mel(freq: torch.Tensor | float):
    if isinstance(freq, torch.Tensor):
        return 1127.0 * (1.0 + freq / 700.0).log()
    return 1127.0 * math.log(1.0 + freq / 700.0)


@lru_cache(maxsize=4)
def kaldi_mel_banks(opts: FbankOptions) -> torch.Tensor:
    """(n_mels, n_fft/2 + 1) triangular Kaldi mel filters (last FFT bin gets weight 0, as in torchaudio)."""
    n_fft_bins = opts.padded_size / 2
    nyquist = 0.5 * opts.sample_rate
    bin_width = opts.sample_rate / opts.padded_size
    mel_low, mel_high = _mel(opts.low_freq), _mel(nyquist)
    delta = (mel_high - mel_low) / (opts.n_mels + 1)
    b = torch.arange(opts.n_mels).unsqueeze(1)
    left = mel_low + b * delta
    center = mel_low + (b + 1.0) * delta
    right = mel_low + (b + 2.0) * delta
    mel = _mel(bin_width * torch.arange(n_fft_bins)).unsqueeze(0)
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    banks = torch.max(torch.zeros(1), torch.min(up, down))          # (n_mels, n_fft/2)
    return torch.nn.functional.pad(banks, (0, 1))                    # + Nyquist bin with weight 0


def fbank_frame_count(n_samples: int, opts: FbankOptions = FbankOptions()) -> int:
    """Frames produced with snip_edges: 1 + (n - 400) // 160, or 0 if shorter than one window."""
    if n_samples < opts.window_size:
        return 0
    return 1 + (n_samples - opts.window_size) // opts.window_shift


def kaldi_fbank(samples: torch.Tensor, opts: FbankOptions = FbankOptions()) -> torch.Tensor:
    """float32 samples in [-1, 1] (N,) -> log-mel (T, n_mels); no dither."""
    x = samples.to(torch.float32) * 32768.0
    n_frames = fbank_frame_count(x.numel(), opts)
    if n_frames == 0:
        return torch.zeros(0, opts.n_mels)
    frames = x.as_strided((n_frames, opts.window_size), (opts.window_shift, 1))
    frames = frames - frames.mean(dim=1, keepdim=True)
    previous = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
    frames = frames - opts.preemphasis * previous
    window = torch.hamming_window(opts.window_size, periodic=False, alpha=0.54, beta=0.46)
    frames = frames * window.unsqueeze(0)
    frames = torch.nn.functional.pad(frames, (0, opts.padded_size - opts.window_size))
    power = torch.fft.rfft(frames).abs().pow(2.0)
    mel = torch.mm(power, kaldi_mel_banks(opts).T)   # transposed view, as torchaudio multiplies
    return torch.max(mel, torch.tensor(torch.finfo(torch.float32).eps)).log()


def load_cmvn(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse FunASR's Kaldi-nnet text `am.mvn`: the <AddShift> and <Rescale> vectors (engine-spec §3.3)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise EngineError(Reason.MODEL_CORRUPT, f"cannot read {path}: {exc}", "re-download the tokenizer")
    found: dict[str, np.ndarray] = {}
    for i, line in enumerate(lines[:-1]):
        head = line.split()[:1]
        if head and head[0] in ("<AddShift>", "<Rescale>"):
            values = lines[i + 1].split()
            # "<LearnRateCoef> 0 [ v1 v2 ... ]": numbers between the brackets
            if values and values[0] == "<LearnRateCoef>":
                try:
                    found[head[0]] = np.array(values[3:-1], dtype=np.float32)
                except ValueError as exc:
                    raise EngineError(Reason.MODEL_CORRUPT, f"{path}: bad number in {head[0]}: {exc}",
                                      "re-download the tokenizer")
    if "<AddShift>" not in found or "<Rescale>" not in found:
        raise EngineError(Reason.MODEL_CORRUPT, f"{path}: no <AddShift>/<Rescale> vectors",
                          "re-download the tokenizer")
    shift, scale = found["<AddShift>"], found["<Rescale>"]
    if shift.shape != scale.shape:
        raise EngineError(Reason.MODEL_CORRUPT, f"{path}: shift {shift.shape} and scale {scale.shape} differ",
                          "re-download the tokenizer")
    return shift, scale


def stack_lfr(frames: torch.Tensor, count: int, m: int, n: int) -> torch.Tensor:
    """Stack `count` windows of m frames with stride n; windows past the end repeat the last frame."""
    need = (count - 1) * n + m if count > 0 else 0
    if need > frames.shape[0]:
        pad = frames[-1:].expand(need - frames.shape[0], -1)
        frames = torch.cat([frames, pad], dim=0)
    rows = [frames[i * n: i * n + m].reshape(1, -1) for i in range(count)]
    return torch.cat(rows, dim=0) if rows else frames.new_zeros(0, m * frames.shape[1])
