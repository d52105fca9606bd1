"""Two small signal-processing definitions the engine needs, in numpy, instead of importing librosa.

#silence-trim; vq06 mel: docs/engine/tokenizer.md#vq06-log-mel;
Upstream computes these with librosa (trim: docs/engine/audio.md
prompt mel: docs/engine/vocoder.md#prompt-mel). Importing
librosa's filters and effects pulls in scipy.signal and numba: about 1 s at load and up to 3 s more on the
first job after every load, for a few lines of arithmetic. These are our statements of the same
definitions (librosa 0.11: `filters.mel` with htk=False, norm="slaney"; `effects.trim` with ref=np.max,
centred constant-padded frame RMS); tests/engine/test_dsp.py checks them against librosa exactly.
"""
from __future__ import annotations

import functools

import numpy as np

# Slaney's auditory-toolbox mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / _F_SP
    high = hz >= _MIN_LOG_HZ
    mel[high] = _MIN_LOG_MEL + np.log(hz[high] / _MIN_LOG_HZ) / _LOGSTEP
    return mel


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    hz = _F_SP * mel
    high = mel >= _MIN_LOG_MEL
    hz[high] = _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel[high] - _MIN_LOG_MEL))
    return hz


@functools.lru_cache(maxsize=8)
def slaney_mel_filters(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0,
                       fmax: float | None = None) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) float32 triangular filters on the Slaney mel scale, each scaled to unit
    area (norm "slaney"). Cached: callers share one array and must not modify it."""
    fmax = sr / 2 if fmax is None else fmax
    fft_hz = np.fft.rfftfreq(n_fft, d=1.0 / sr)
    edges = mel_to_hz(np.linspace(hz_to_mel(np.array([fmin]))[0], hz_to_mel(np.array([fmax]))[0], n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    # float32 before the area scaling, as librosa stores them, so the result matches it bit for bit
    weights = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    area = 2.0 / (edges[2:] - edges[:-2])
    return (weights * area[:, None]).astype(np.float32)


def frame_db(x: np.ndarray, frame_length: int, hop_length: int, amin: float = 1e-5) -> np.ndarray:
    """Per-frame RMS level in dB relative to the loudest frame (0 dB); frames centred on multiples of
    hop_length, the signal zero-padded by frame_length // 2 on both sides."""
    x = np.asarray(x, dtype=np.float32)
    half = frame_length // 2
    padded = np.pad(x, (half, half), mode="constant")
    if padded.size < frame_length:
        raise ValueError(f"input too short ({x.size} samples) for frame_length {frame_length}")
    # (frame_length, n_frames) view, reduced along its first axis: the layout librosa reduces, so the
    # float32 sums round the same way
    frames = np.lib.stride_tricks.sliding_window_view(padded, frame_length)[::hop_length].T
    rms = np.sqrt(np.mean(np.square(frames), axis=0))
    power = np.square(rms)
    return 10.0 * np.log10(np.maximum(amin ** 2, power)) - 10.0 * np.log10(np.maximum(amin ** 2, power.max()))


def nonsilent_span(x: np.ndarray, top_db: float, frame_length: int, hop_length: int) -> tuple[int, int]:
    """[start, end) in samples from the first to one past the last frame louder than -top_db relative to
    the loudest frame; (0, 0) if there is none."""
    loud = np.flatnonzero(frame_db(x, frame_length, hop_length) > -top_db)
    if loud.size == 0:
        return 0, 0
    return int(loud[0]) * hop_length, min(len(x), (int(loud[-1]) + 1) * hop_length)
