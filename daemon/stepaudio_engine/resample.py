"""Windowed-sinc resampling with the numerics of torchaudio's default `Resample`.

#peak-cap;
Upstream resamples the tokenizer input with `torchaudio.transforms.Resample(orig, 16000)` (docs/engine/audio.md
UP:utils.py `resample_audio`), whose defaults are `sinc_interp_hann`, `lowpass_filter_width=6`, `rolloff=0.99`.
torchaudio is not allowed here, so this module rebuilds the same polyphase kernel from its definition:

* reduce the rates by their gcd to (p, q) = (orig/g, new/g); the cutoff is `base = min(p, q) * rolloff`;
* `width = ceil(lowpass_width * p / base)` input samples of context on each side;
* for output phase j (0..q-1) and tap k (0..2*width+p-1) the time (in units of the cutoff period) is
  `t = (k - width)/p - j/q`, scaled by `base` and clamped to +-lowpass_width;
* kernel = sinc(pi t) * cos^2(pi t / (2 lowpass_width)) * base / p   (Hann window).
  As in torchaudio, the phase j/q is rounded to float32 first, everything else is float64.
  (Formula and dtype handling checked against a vendored copy of torchaudio's `_get_sinc_resample_kernel`.)

Like `Resample` (which builds its kernel with dtype=None), the kernel is evaluated in float64 and then cast to
float32 (`kernel="transform"`, the tokenizer path). `torchaudio.functional.resample`, which upstream's CosyVoice
front end calls for the vocoder prompt (UP:stepvocoder/cosyvoice2/cli/frontend.py), builds the same kernel in
the waveform's dtype, float32, every step rounded to float32 (`kernel="functional"`; docs/engine/vocoder.md
"Resampling"). Either way the signal is padded by `width` zeros on the left and `width + p` on the right,
convolved with stride p
(one output per phase) and cut to `ceil(q * n / p)` samples. The convolution runs in float32 with torch's
conv1d, the same operator torchaudio uses, so the results agree to float32 rounding.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

LOWPASS_FILTER_WIDTH = 6
ROLLOFF = 0.99


def kernel_params(sr_in: int, sr_out: int, rolloff: float = ROLLOFF,
                  lowpass_width: int = LOWPASS_FILTER_WIDTH) -> tuple[int, int, float, int]:
    """Return (p, q, base, width): the gcd-reduced rates, the cutoff and the one-sided context."""
    g = math.gcd(int(sr_in), int(sr_out))
    p, q = int(sr_in) // g, int(sr_out) // g
    base = min(p, q) * rolloff
    width = math.ceil(lowpass_width * p / base)
    return p, q, base, width


def sinc_kernel_f64(sr_in: int, sr_out: int, rolloff: float = ROLLOFF,
                    lowpass_width: int = LOWPASS_FILTER_WIDTH) -> np.ndarray:
    """The (q, 2*width + p) polyphase kernel in float64 (row j produces output phase j).

    Evaluated with torch in the same operation order and dtypes as torchaudio (so that the float32 cast
    of this kernel is the kernel torchaudio's `Resample` uses)."""
    import torch

    return _sinc_kernel(sr_in, sr_out, rolloff, lowpass_width, torch.float64)


def sinc_kernel_f32(sr_in: int, sr_out: int, rolloff: float = ROLLOFF,
                    lowpass_width: int = LOWPASS_FILTER_WIDTH) -> np.ndarray:
    """The (q, 2*width + p) kernel as `torchaudio.functional.resample` builds it for float32 audio: the tap
    times, phases, clamp, window and sinc all in float32 (the Python-float constants base, pi and base/p
    enter as float32 scalars), same operation order as sinc_kernel_f64."""
    import torch

    return _sinc_kernel(sr_in, sr_out, rolloff, lowpass_width, torch.float32)


def _sinc_kernel(sr_in: int, sr_out: int, rolloff: float, lowpass_width: int, taps_dtype) -> np.ndarray:
    """Both kernels: torchaudio's operation order, with the tap times in `taps_dtype`. The integer phase
    index is divided in float32 (torch's default dtype) either way, then promoted with the taps."""
    import torch

    p, q, base, width = kernel_params(sr_in, sr_out, rolloff, lowpass_width)
    taps = torch.arange(-width, width + p, dtype=taps_dtype)[None, :] / p
    t = torch.arange(0, -q, -1)[:, None] / q + taps
    t *= base
    t = t.clamp_(-lowpass_width, lowpass_width)
    window = torch.cos(t * math.pi / lowpass_width / 2) ** 2
    t *= math.pi
    kernel = torch.where(t == 0, torch.tensor(1.0).to(t), t.sin() / t)
    kernel *= window * (base / p)
    return kernel.numpy()


KERNELS = ("transform", "functional")


@lru_cache(maxsize=16)
def _kernel_f32(sr_in: int, sr_out: int, kernel: str = "transform") -> np.ndarray:
    if kernel == "functional":
        return sinc_kernel_f32(sr_in, sr_out)
    if kernel != "transform":
        raise ValueError(f"kernel must be one of {KERNELS}, not {kernel!r}")
    return sinc_kernel_f64(sr_in, sr_out).astype(np.float32)


def output_length(n: int, sr_in: int, sr_out: int) -> int:
    """Number of output samples for n input samples: ceil(q * n / p)."""
    p, q, _, _ = kernel_params(sr_in, sr_out)
    return -(-q * n // p)


def resample(wav: np.ndarray, sr_in: int, sr_out: int, kernel: str = "transform") -> np.ndarray:
    """Resample a 1-D signal from sr_in to sr_out; returns float32 of length ceil(n * sr_out / sr_in).
    kernel: "transform" (torchaudio.transforms.Resample, float64-built) or "functional"
    (torchaudio.functional.resample on float32 audio, float32-built)."""
    import torch  # heavy import kept local: callers that never resample do not pay for it

    x = np.asarray(wav, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"resample expects a 1-D signal, got shape {x.shape}")
    if sr_in <= 0 or sr_out <= 0:
        raise ValueError(f"sample rates must be positive, got {sr_in} -> {sr_out}")
    if sr_in == sr_out:
        return x.copy()
    p, q, _, width = kernel_params(sr_in, sr_out)
    weights = torch.from_numpy(_kernel_f32(sr_in, sr_out, kernel))[:, None, :]  # (q, 1, taps)
    signal = torch.from_numpy(x)[None, None, :]
    signal = torch.nn.functional.pad(signal, (width, width + p))
    with torch.no_grad():
        out = torch.nn.functional.conv1d(signal, weights, stride=p)  # (1, q, frames)
    out = out.transpose(1, 2).reshape(-1)  # interleave the phases in time order
    return out[: output_length(len(x), sr_in, sr_out)].numpy().astype(np.float32, copy=False)


def resample_reference_f64(wav: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Slow float64 direct evaluation of the same formula (for tests and for measuring our error)."""
    x = np.asarray(wav, dtype=np.float64)
    p, q, _, width = kernel_params(sr_in, sr_out)
    kernel = sinc_kernel_f64(sr_in, sr_out)
    padded = np.concatenate([np.zeros(width), x, np.zeros(width + p)])
    n_frames = (len(padded) - kernel.shape[1]) // p + 1
    # frames[f] = padded[f*p : f*p + taps]; out[f, j] = frames[f] . kernel[j]
    idx = np.arange(n_frames)[:, None] * p + np.arange(kernel.shape[1])[None, :]
    out = padded[idx] @ kernel.T
    return out.reshape(-1)[: output_length(len(x), sr_in, sr_out)]
