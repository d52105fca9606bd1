"""Audio input checks, mono/peak cap, the sinc resampler, energy norm and silence trimming (docs/engine/audio.md)."""
from __future__ import annotations

import math
import struct

import numpy as np
import pytest
import soundfile as sf

from stepaudio_engine.api import EngineError, Reason
from stepaudio_engine.audio import (AudioInfo, check_audio, energy_norm, load_audio, peak_cap, prepare_for_tokenizer,
                                    trim_silence, trimmed_length)
from stepaudio_engine.resample import output_length, resample, resample_reference_f64, sinc_kernel_f64


def _write(path, samples, sr, subtype="PCM_16"):
    sf.write(str(path), samples, sr, subtype=subtype)
    return str(path)


def _bad_input(path, **kw) -> EngineError:
    with pytest.raises(EngineError) as info:
        check_audio(str(path), **kw)
    assert info.value.reason == Reason.BAD_INPUT
    assert info.value.hint
    return info.value


# --- check_audio -------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    assert "no such file" in _bad_input(tmp_path / "nope.wav").message


def test_directory(tmp_path):
    assert "directory" in _bad_input(tmp_path).message


def test_text_file(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\n" * 20)
    assert "not a readable audio file" in _bad_input(path).message


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    assert "empty" in _bad_input(path).message


def test_zero_frames(tmp_path):
    path = _write(tmp_path / "zero.wav", np.zeros(0, np.int16), 16000)
    assert "no audio samples" in _bad_input(path).message


def test_header_claiming_huge_frame_count_is_rejected_before_decoding(tmp_path):
    path = _write(tmp_path / "small.wav", np.zeros(1600, np.int16), 16000)
    data = bytearray(open(path, "rb").read())
    at = data.find(b"data")
    data[at + 4:at + 8] = struct.pack("<I", 0xFFFFFFF0)   # claims ~2^31 frames, file holds 1600
    data[4:8] = struct.pack("<I", 0xFFFFFFF8)
    open(path, "wb").write(bytes(data))
    err = _bad_input(path)
    assert "header claims" in err.message


def test_flac_header_claiming_huge_duration(tmp_path):
    path = _write(tmp_path / "small.flac", np.zeros(1600, np.int16), 16000)
    data = bytearray(open(path, "rb").read())
    # STREAMINFO: bytes 18..25 hold rate(20) ch(3) bps(5) total_samples(36), big-endian
    packed = int.from_bytes(data[18:26], "big")
    packed |= (1 << 36) - 1
    data[18:26] = packed.to_bytes(8, "big")
    open(path, "wb").write(bytes(data))
    err = _bad_input(path, max_seconds=1e9)
    assert "header claims" in err.message


def _stream_wav(path, samples: np.ndarray, rate: int, marker: int, channels: int = 1) -> str:
    """A 16-bit WAV as a writer on a pipe makes it: RIFF and data sizes are 'unknown' markers."""
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * 2 * channels, 2 * channels, 16)
    pcm = np.asarray(samples, "<i2").tobytes()
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", marker) + pcm
    path.write_bytes(b"RIFF" + struct.pack("<I", marker) + body)
    return str(path)


def _stream_flac(path, samples: np.ndarray, rate: int) -> str:
    """A FLAC as a writer on a pipe makes it: STREAMINFO's total samples is 0 (unknown)."""
    _write(path, samples, rate)
    data = bytearray(path.read_bytes())
    packed = int.from_bytes(data[18:26], "big") & ~((1 << 36) - 1)
    data[18:26] = packed.to_bytes(8, "big")
    path.write_bytes(bytes(data))
    return str(path)


@pytest.mark.parametrize("marker", [0x7FFFF000, 0xFFFFFFFF])   # espeak-ng; ffmpeg and sox
def test_a_streamed_wav_header_counts_the_frames_present(tmp_path, marker):
    tone = (np.sin(np.arange(16000) / 7) * 9000).astype(np.int16)
    path = _stream_wav(tmp_path / "piped.wav", tone, 16000, marker)
    info = check_audio(path)
    assert info.frames == 16000 and info.streamed and info.format == "WAV"
    wav, sr = load_audio(path)
    assert sr == 16000 and wav.shape == (16000,)


def test_a_streamed_flac_without_total_frames_is_read_and_reported_as_flac(tmp_path):
    tone = (np.sin(np.arange(20000) / 7) * 9000).astype(np.int16)
    path = _stream_flac(tmp_path / "piped.flac", tone, 16000)
    info = check_audio(path)
    assert info.format == "FLAC" and info.frames == 20000 and info.streamed
    wav, sr = load_audio(path)
    assert wav.shape == (20000,) and np.allclose(wav, peak_cap(tone / 32768.0), atol=1e-4)


def test_a_streamed_header_is_still_bounded_by_the_duration_limit(tmp_path):
    path = _stream_wav(tmp_path / "long.wav", np.zeros(3 * 16000, np.int16), 16000, 0xFFFFFFFF)
    assert "limit is 2 s" in _bad_input(path, max_seconds=2.0).message
    flac = _stream_flac(tmp_path / "long.flac", np.zeros(3 * 16000, np.int16), 16000)
    assert "limit is 2 s" in _bad_input(flac, max_seconds=2.0).message


def test_a_valid_768k_wav_is_too_high_a_rate_not_a_corrupt_header(tmp_path):
    path = _write(tmp_path / "hi.wav", np.zeros(7680, np.int16), 768000)
    err = _bad_input(path)
    assert "too high" in err.message and "corrupt" not in err.message + err.hint


def test_too_long(tmp_path):
    path = _write(tmp_path / "long.wav", np.zeros(2 * 16000, np.int16), 16000)
    err = _bad_input(path, max_seconds=1.5)
    assert "2.0 s long" in err.message and "1.5" in err.message
    assert check_audio(path, max_seconds=2.0).frames == 32000


def test_rate_below_16k(tmp_path):
    path = _write(tmp_path / "nb.wav", np.zeros(8000, np.int16), 8000)
    assert "below 16000 Hz" in _bad_input(path).message


def test_info_fields(tmp_path):
    path = _write(tmp_path / "ok.wav", np.zeros((4410, 2), np.int16), 44100)
    info = check_audio(path)
    assert info == AudioInfo(path=path, format="WAV", subtype="PCM_16", channels=2, sample_rate=44100,
                             frames=4410, duration_s=0.1)


# --- load_audio: mono + peak cap ---------------------------------------------------------------------------


def test_load_mixes_to_mono_and_caps_peak(tmp_path):
    t = np.arange(4800) / 48000
    left, right = 1.0 * np.sin(2 * np.pi * 440 * t), 0.8 * np.sin(2 * np.pi * 660 * t)
    path = _write(tmp_path / "st.wav", np.stack([left, right], 1).astype(np.float32), 48000, "FLOAT")
    wav, sr = load_audio(path)
    assert sr == 48000 and wav.dtype == np.float32 and wav.shape == (4800,)
    mono = ((left + right) / 2).astype(np.float32)
    expected = mono / np.abs(mono).max() * 0.6
    np.testing.assert_allclose(wav, expected, atol=1e-6)
    assert abs(np.abs(wav).max() - 0.6) < 1e-6


def test_quiet_audio_is_not_boosted():
    quiet = (0.1 * np.sin(np.arange(1000) / 7)).astype(np.float32)
    np.testing.assert_array_equal(peak_cap(quiet), quiet)


def test_energy_norm():
    x = np.array([0.0, 0.25, -0.5], np.float32)
    np.testing.assert_allclose(energy_norm(x), x / 0.5 * 0.999, rtol=1e-6)
    tiny = np.array([0.0, 0.001], np.float32)   # floor 0.01: a near-silent file is not blown up
    np.testing.assert_allclose(energy_norm(tiny), tiny / 0.01 * 0.999, rtol=1e-6)


# --- resampler --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sr_in", [48000, 44100, 24000, 22050])
def test_resampler_matches_float64_reference(sr_in):
    rng = np.random.default_rng(sr_in)
    x = (0.5 * rng.standard_normal(sr_in // 5)).astype(np.float32)   # 0.2 s of white noise
    ours = resample(x, sr_in, 16000)
    ref = resample_reference_f64(x, sr_in, 16000)
    assert ours.dtype == np.float32
    assert len(ours) == len(ref) == math.ceil(len(x) * 16000 / sr_in)
    assert np.max(np.abs(ours - ref)) < 1e-6   # float32 kernel + float32 accumulation vs float64 (~2e-7)


def test_kernel_definition():
    # 48k -> 16k: p=3, q=1, cutoff 0.99, width ceil(6 * 3 / 0.99) = 19, taps 2*19 + 3
    kernel = sinc_kernel_f64(48000, 16000)
    assert kernel.shape == (1, 41)
    center = kernel[0, 19]                      # t = 0 -> sinc 1, window 1, scale base / p
    assert center == pytest.approx(0.99 / 3)
    assert kernel[0].sum() == pytest.approx(1.0, abs=2e-3)   # ~unity DC gain


def test_resampler_sanity_against_soxr_and_scipy():
    import soxr
    from scipy.signal import resample_poly

    sr_in = 48000
    t = np.arange(sr_in // 2) / sr_in
    x = (0.5 * np.sin(2 * np.pi * 1000 * t) + 0.2 * np.sin(2 * np.pi * 3700 * t)).astype(np.float32)
    ours = resample(x, sr_in, 16000)
    mid = slice(200, len(ours) - 200)   # ignore the edges, where padding conventions differ
    assert np.max(np.abs(ours[mid] - soxr.resample(x, sr_in, 16000, "VHQ")[mid])) < 5e-3
    assert np.max(np.abs(ours[mid] - resample_poly(x, 1, 3)[mid])) < 5e-3


def test_resample_identity_and_lengths():
    x = np.arange(10, dtype=np.float32)
    np.testing.assert_array_equal(resample(x, 16000, 16000), x)
    assert output_length(44100, 44100, 16000) == 16000
    assert output_length(1, 48000, 16000) == 1


# --- trim -------------------------------------------------------------------------------------------------


def test_trimmed_length_formula():
    assert trimmed_length(0, 0) == 4320
    assert trimmed_length(1000, 1240) == 240 + 4320
    assert trimmed_length(1000, 1241) == 480 + 4320


def test_trim_keeps_50ms_before_onset_and_fixed_length():
    sr = 16000
    tone = 0.8 * np.sin(2 * np.pi * 300 * np.arange(sr) / sr)
    x = np.concatenate([np.zeros(sr), tone, np.zeros(sr)]).astype(np.float32)
    out = trim_silence(x)
    import librosa

    _, (start, end) = librosa.effects.trim(x, top_db=20, frame_length=512, hop_length=128)
    assert len(out) == math.ceil((end - start) / 240) * 240 + 4320
    np.testing.assert_array_equal(out, x[start - 800:start - 800 + len(out)])


def test_trim_pads_when_onset_is_early_and_silence_gives_4320_zeros():
    x = (0.5 * np.sin(np.arange(4000) / 3)).astype(np.float32)
    out = trim_silence(x)
    assert np.all(out[:800] == 0)   # onset at 0: 800 zeros are prepended
    np.testing.assert_array_equal(out[800:800 + 4000], x)
    # all-zero input: librosa's dB is relative to the max (0 dB everywhere), so nothing counts as silent and
    # the whole span is kept (the arithmetic of docs/engine/audio.md#silence-trim alone would give 4320 zeros;
    # librosa disagrees, and upstream uses librosa)
    silent = trim_silence(np.zeros(5000, np.float32))
    assert silent.shape == (math.ceil(5000 / 240) * 240 + 4320,) and not silent.any()


def test_prepare_rejects_upsampling():
    with pytest.raises(EngineError) as info:
        prepare_for_tokenizer(np.zeros(800, np.float32), 8000)
    assert info.value.reason == Reason.BAD_INPUT
