"""Audio input: header checks before decoding, loading, and the tokenizer's pre-processing steps.

Steps and numbers follow docs/engine/audio.md (UP:tts.py `preprocess_prompt_wav`, UP:utils.py `energy_norm_fn`,
`trim_silence`, `resample_audio`):

* load -> mono (mean over channels) -> peak cap 0.6 (only attenuates; quiet audio is left alone);
* tokenizer path: resample to 16 kHz -> energy norm (peak 0.999, floor 0.01) -> silence trim
  (librosa.effects.trim's definition, restated in dsp.py: top_db 20, frame 512, hop 128; keep 800 samples
  before the onset; length rounded up to a multiple of 240 samples plus 4320).
"""
from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass

import numpy as np

from stepaudio_engine.api import EngineError, Reason

log = logging.getLogger(__name__)

PEAK_CAP = 0.6                # docs/engine/audio.md#peak-cap
ENERGY_NORM_PEAK = 0.999      # docs/engine/audio.md#energy-norm
ENERGY_NORM_FLOOR = 0.01
TOKENIZER_RATE = 16000
# Upstream's tokenizer asserts sr > 16000 whenever sr != 16000 (UP:utils.py `resample_audio`,
# docs/engine/audio.md#peak-cap):
# the codebooks were trained on 16 kHz audio and upsampled narrow-band audio lacks the 4-8 kHz band, so we
# reject lower rates up front with a clear message instead of an assertion deep inside the pipeline.
MIN_SAMPLE_RATE = 16000
MAX_SAMPLE_RATE = 384000      # above any real recording rate; larger values mean a broken header
MAX_CHANNELS = 32
# A header may claim any frame count; refuse before decoding if the claim would exceed this many seconds,
# even when the caller asked for a large limit (protects the daemon from huge allocations).
ABSURD_SECONDS = 3600.0
# Decoding makes a float32 (frames, channels) array, and FLAC/OGG compress silence to almost nothing: a
# 96 KB FLAC of 30 s x 8 channels x 384 kHz decoded to 425 MB (measured). Cap the decoded samples at 30 s
# of 8 channels at 96 kHz (~92 MB as float32); real reference recordings are far below it.
MAX_DECODED_SAMPLES = 24_000_000
# A WAV written to a pipe cannot go back to fill in its sizes, so writers put an "unknown length" marker
# in the data chunk's size: espeak-ng 0x7ffff000, ffmpeg/sox 0xFFFFFFFF (seen in their output) and some
# writers 0. A FLAC stream's STREAMINFO then says 0 total samples, which libsndfile reports as
# SF_COUNT_MAX. For both we count the frames actually present (decoding at most the sample cap).
WAV_STREAM_SIZES = (0xFFFFFFFF, 0x7FFFF000, 0x7FFFFFFF, 0)
SF_COUNT_MAX = 2 ** 63 - 1

TRIM_TOP_DB = 20              # docs/engine/audio.md#silence-trim
TRIM_FRAME = 512
TRIM_HOP = 128
TRIM_KEEP_BEFORE = 800        # 0.05 s at 16 kHz
TRIM_STEP = 240               # 15 ms hop of the length rounding
TRIM_TAIL = 4320              # (0.05 + 0.22) s at 16 kHz


@dataclass
class AudioInfo:
    path: str
    format: str          # soundfile container name, e.g. "WAV", "FLAC"
    subtype: str         # sample encoding, e.g. "PCM_16", "FLOAT"
    channels: int
    sample_rate: int
    frames: int
    duration_s: float
    streamed: bool = False   # the header gave no length (a pipe): frames were counted from the data


def _bad(message: str, hint: str) -> EngineError:
    return EngineError(Reason.BAD_INPUT, message, hint)


def _read_header(path: str):
    import soundfile as sf

    try:
        return sf.info(path)
    except Exception as exc:  # soundfile raises LibsndfileError/RuntimeError for unknown formats
        raise _bad(f"{path}: not a readable audio file ({exc})",
                   "use WAV, FLAC or OGG audio (soundfile/libsndfile formats)") from exc


def check_audio(path: str, max_seconds: float = 30.0) -> AudioInfo:
    """Validate an audio file from its header only, before any sample is decoded."""
    if not os.path.exists(path):
        raise _bad(f"{path}: no such file", "check the path of the audio file")
    if os.path.isdir(path):
        raise _bad(f"{path}: is a directory, not an audio file", "pass the path of one audio file")
    if not os.path.isfile(path):
        # a FIFO or device: soundfile would block on a pipe without a writer, or read a device forever
        raise _bad(f"{path}: is not a regular file (a pipe or device)", "save the audio to a file first")
    if os.path.getsize(path) == 0:
        raise _bad(f"{path}: file is empty", "record or export the audio again")
    info = _read_header(path)
    frames, rate, channels = int(info.frames), int(info.samplerate), int(info.channels)
    if not (1 <= channels <= MAX_CHANNELS):
        raise _bad(f"{path}: header claims {channels} channels", "the file header looks corrupt; re-export it")
    if rate <= 0:
        raise _bad(f"{path}: header claims a sample rate of {rate} Hz", "the file header looks corrupt")
    if rate > MAX_SAMPLE_RATE:
        raise _bad(f"{path}: sample rate {rate} Hz is too high (the limit is {MAX_SAMPLE_RATE} Hz)",
                   "resample it, e.g. ffmpeg -i in.wav -ar 48000 out.wav")
    if rate < MIN_SAMPLE_RATE:
        raise _bad(f"{path}: sample rate {rate} Hz is below {MIN_SAMPLE_RATE} Hz",
                   "the audio tokenizer needs at least 16 kHz audio (narrow-band audio cannot be upsampled "
                   "into the 4-8 kHz band); use a higher-rate recording")
    streamed = _streamed(path, info)
    if streamed:
        frames = _count_frames(path, channels, _frame_limit(channels, rate, max_seconds))
    if frames <= 0:
        raise _bad(f"{path}: contains no audio samples", "the file is empty; record or export it again")
    duration = frames / rate
    if not streamed and (duration > ABSURD_SECONDS or _header_exceeds_file(path, info)):
        raise _bad(f"{path}: header claims {frames} frames ({duration:.0f} s), which the file cannot hold",
                   "the file header looks corrupt; re-export the audio")
    if duration > max_seconds and streamed:  # counting stopped just past the limit
        raise _bad(f"{path}: audio is longer than {max_seconds:g} s, the limit is {max_seconds:g} s",
                   f"cut the audio to at most {max_seconds:g} s")
    if duration > max_seconds:
        raise _bad(f"{path}: audio is {duration:.1f} s long, the limit is {max_seconds:g} s",
                   f"cut the audio to at most {max_seconds:g} s")
    if frames * channels > sample_cap(max_seconds):
        raise _bad(f"{path}: {channels} channels at {rate} Hz is too much audio data to decode "
                   f"({frames * channels} samples, the limit is {sample_cap(max_seconds)})",
                   "mix the recording down to mono or stereo, or resample it to 48 kHz")
    return AudioInfo(path=path, format=str(info.format), subtype=str(info.subtype), channels=channels,
                     sample_rate=rate, frames=frames, duration_s=duration, streamed=streamed)


def sample_cap(max_seconds: float) -> int:
    """Decoded samples allowed for an input of up to max_seconds: MAX_DECODED_SAMPLES for the usual 30 s,
    and for long edits (max_edit_seconds) as much as stereo at 48 kHz needs."""
    return max(MAX_DECODED_SAMPLES, int(max_seconds * 96000))


def _frame_limit(channels: int, rate: int, max_seconds: float) -> int:
    """Frames worth counting in a stream: one past the duration limit, never past the sample cap."""
    return min(int(max_seconds * rate) + 1, sample_cap(max_seconds) // channels + 1)


def _streamed(path: str, info) -> bool:
    """True for a header written without a length: a WAV data size marker, or FLAC without a total."""
    if str(info.format) == "WAV":
        claim = _riff_data_chunk(path)
        return claim is not None and claim[0] in WAV_STREAM_SIZES and os.path.getsize(path) > claim[1]
    return str(info.format) == "FLAC" and int(info.frames) in (0, SF_COUNT_MAX)


def _read_stream(path: str, channels: int, limit: int, keep: bool) -> tuple[int, list[np.ndarray]]:
    """Decode a stream whose length is unknown, block by block, up to `limit` frames.

    soundfile's read() moves its position with a seek after each block, and that seek fails at the end of
    a stream without a known length (libsndfile: "psf_fseek() failed"), losing the last block. So this
    calls libsndfile's sf_readf_float directly, which returns how many frames it decoded."""
    import soundfile as sf
    from soundfile import _ffi, _snd  # the same library soundfile wraps; stable since soundfile 0.10

    block, total, parts = 16384, 0, []
    with sf.SoundFile(path) as f:
        while total < limit:
            want = min(block, limit - total)
            buf = np.empty((want, channels), np.float32)
            got = int(_snd.sf_readf_float(f._file, _ffi.cast("float *", buf.ctypes.data), want))
            if got <= 0:
                break
            total += got
            if keep:
                parts.append(buf[:got])
            if got < want:
                break
    return total, parts


def _count_frames(path: str, channels: int, limit: int) -> int:
    try:
        return _read_stream(path, channels, limit, keep=False)[0]
    except Exception as exc:
        raise _bad(f"{path}: audio data could not be decoded ({exc})", "re-export the audio file") from exc


def _header_exceeds_file(path: str, info) -> bool:
    """True if a RIFF/WAVE header's `data` chunk claims more bytes than the file holds.

    libsndfile silently clamps such a claim to the file size, so we read the chunk table ourselves: a claim
    beyond the end of the file means a truncated or forged header (or a WAV written to a pipe), and we
    refuse it before decoding rather than guess.
    """
    if str(info.format) != "WAV":
        return False  # other containers: the duration bounds are the check
    claim = _riff_data_chunk(path)
    return claim is not None and claim[0] > os.path.getsize(path) - claim[1]


def _riff_data_chunk(path: str) -> tuple[int, int] | None:
    """(claimed size, offset) of the first `data` chunk of a RIFF/WAVE file, or None."""
    import struct

    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        pos = 12
        for _ in range(64):   # a WAV has a handful of chunks; stop early on garbage
            f.seek(pos)
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            size = struct.unpack("<I", chunk[4:])[0]
            if chunk[:4] == b"data":
                return size, pos + 8
            pos += 8 + size + (size & 1)
    return None


def to_mono(samples: np.ndarray) -> np.ndarray:
    """(N,) or (N, C) -> float32 (N,), mean over channels (docs/engine/audio.md#entry-mono)."""
    x = np.asarray(samples, dtype=np.float32)
    return x if x.ndim == 1 else x.mean(axis=1, dtype=np.float32)


def peak_cap(wav: np.ndarray, cap: float = PEAK_CAP) -> np.ndarray:
    """Scale down so that max|x| <= cap; never boosts (docs/engine/audio.md#peak-cap)."""
    x = np.asarray(wav, dtype=np.float32)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak > cap:
        x = (x / np.float32(peak) * np.float32(cap)).astype(np.float32)
    return x


def load_audio(path: str, max_seconds: float = 30.0) -> tuple[np.ndarray, int]:
    """Check, read, mix to mono and cap the peak at 0.6; float32 (N,) at the file's own rate."""
    import soundfile as sf

    info = check_audio(path, max_seconds)
    try:
        if info.streamed:
            _, parts = _read_stream(path, info.channels, info.frames, keep=True)
            data = np.concatenate(parts) if parts else np.zeros((0, info.channels), np.float32)
            rate = info.sample_rate
        else:
            data, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as exc:
        raise _bad(f"{path}: audio data could not be decoded ({exc})", "re-export the audio file") from exc
    if data.shape[0] == 0:
        raise _bad(f"{path}: contains no audio samples", "record or export the audio again")
    if not np.all(np.isfinite(data)):
        raise _bad(f"{path}: contains NaN or infinite samples", "re-export the audio as PCM")
    log.debug("loaded %s: %d frames, %d ch, %d Hz", path, data.shape[0], info.channels, rate)
    return peak_cap(to_mono(data)), int(rate)


def energy_norm(wav: np.ndarray) -> np.ndarray:
    """x / max(max|x|, 0.01) * 0.999 (docs/engine/audio.md#energy-norm)."""
    x = np.asarray(wav, dtype=np.float32)
    peak = max(float(np.max(np.abs(x))) if x.size else 0.0, ENERGY_NORM_FLOOR)
    return (x / np.float32(peak) * np.float32(ENERGY_NORM_PEAK)).astype(np.float32)


def trimmed_length(start: int, end: int) -> int:
    """Output length of `trim_silence` for a detected span [start, end) (docs/engine/audio.md#silence-trim)."""
    return math.ceil((end - start) / TRIM_STEP) * TRIM_STEP + TRIM_TAIL


def trim_silence(wav: np.ndarray) -> np.ndarray:
    """Upstream's silence trim for 16 kHz audio: 50 ms before the onset, fixed-formula length."""
    from stepaudio_engine.dsp import nonsilent_span

    x = np.asarray(wav, dtype=np.float32)
    if x.size == 0:
        return np.zeros(TRIM_TAIL, dtype=np.float32)
    start, end = nonsilent_span(x, top_db=TRIM_TOP_DB, frame_length=TRIM_FRAME, hop_length=TRIM_HOP)
    length = trimmed_length(start, end)
    shift = int(start) - TRIM_KEEP_BEFORE
    x = x[shift:] if shift > 0 else np.concatenate([np.zeros(-shift, dtype=np.float32), x])
    if len(x) >= length:
        return x[:length].copy()
    return np.concatenate([x, np.zeros(length - len(x), dtype=np.float32)])


@dataclass
class TokenizerAudio:
    """Every intermediate of the tokenizer front end (for the stage tool and for debugging)."""

    at_16k: np.ndarray       # float32, after resampling to 16 kHz
    normed: np.ndarray       # float32, after energy normalisation
    trimmed: np.ndarray      # float32, after silence trimming: what vq02 and vq06 see


def prepare_for_tokenizer(wav: np.ndarray, sr: int) -> TokenizerAudio:
    """16 kHz resample (downsampling only, as upstream), energy norm, trim (docs/engine/audio.md)."""
    from stepaudio_engine.resample import resample

    x = np.asarray(wav, dtype=np.float32)
    if x.ndim != 1:
        raise _bad(f"audio must be mono 1-D, got shape {x.shape}", "mix the audio to mono first")
    if sr < TOKENIZER_RATE:
        raise _bad(f"sample rate {sr} Hz is below {TOKENIZER_RATE} Hz",
                   "the audio tokenizer needs at least 16 kHz audio")
    at_16k = x if sr == TOKENIZER_RATE else resample(x, sr, TOKENIZER_RATE)
    normed = energy_norm(at_16k)
    return TokenizerAudio(at_16k=at_16k, normed=normed, trimmed=trim_silence(normed))
