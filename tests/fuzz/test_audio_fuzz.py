"""Fuzzing the audio-input checks and decoding (stepaudio_engine.audio), and the CLI's fast-path protobuf decoder.

Properties:
* check_audio / load_audio on any bytes: either success (a finite float32 mono array at a sane rate) or
  EngineError(BAD_INPUT) with a hint; never another exception, never a hang, never a huge allocation
  (the process's peak RSS may grow by at most RSS_GROWTH_LIMIT over the whole run);
* stepaudio_cli.fast.wire.decode on any bytes: a dict, or WireError (a ValueError) / UnicodeDecodeError, the
  two errors stepaudio_cli/fast/status.py catches to fall back to the full client.

CI runs a short, derandomized budget (DEFAULT_EXAMPLES per test). A long run by hand:

    STEPAUDIO_FUZZ_EXAMPLES=20000 PYTHONPATH=daemon:protos:. pytest -q tests/fuzz -p no:cacheprovider

(set STEPAUDIO_FUZZ_RANDOM=1 as well to explore new random inputs instead of the fixed CI sequence).
"""
from __future__ import annotations

import atexit
import io
import math
import os
import resource
import shutil
import struct
import tempfile
import wave
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stepaudio_cli.fast.wire import WireError
from stepaudio_engine.api import EngineError, Reason
from stepaudio_engine.audio import MAX_SAMPLE_RATE, check_audio, load_audio

# read at import: the autouse hermetic-home fixture removes STEPAUDIO_* variables while tests run
EXAMPLES = int(os.environ.get("STEPAUDIO_FUZZ_EXAMPLES", "0")) or None
DEFAULT_EXAMPLES = 200
RANDOM = os.environ.get("STEPAUDIO_FUZZ_RANDOM") == "1"
RSS_GROWTH_LIMIT = 256 * 1024 * 1024   # bytes; no input here is larger than ~1 MB once decoded
MAX_SECONDS = 30.0

FUZZ = settings(max_examples=EXAMPLES or DEFAULT_EXAMPLES, deadline=None, derandomize=not RANDOM, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _max_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


_SCRATCH = Path(tempfile.mkdtemp(prefix="sa-fuzz-"))
atexit.register(shutil.rmtree, _SCRATCH, True)  # also after a bare --collect-only
_BASELINE: dict[str, int] = {}


def _rss_growth() -> int:
    """Peak-RSS growth since this test began. ru_maxrss is a high-water mark, so the baseline is taken per
    test (other tests in the same process, e.g. the engine's, may have peaked higher before this one)."""
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
    if _BASELINE.get("test") != test:
        _BASELINE.update(test=test, rss=_max_rss())  # type: ignore[arg-type]
    return _max_rss() - int(_BASELINE["rss"])


def _file(data: bytes, suffix: str = ".wav") -> str:
    path = _SCRATCH / f"input{suffix}"
    path.write_bytes(data)
    return str(path)


def _assert_clean(data: bytes, suffix: str = ".wav") -> None:
    """The property: success with sane output, or BAD_INPUT with a message and a hint."""
    _rss_growth()  # the first call of a test takes the baseline before anything is decoded
    path = _file(data, suffix)
    try:
        wav, rate = load_audio(path, MAX_SECONDS)
    except EngineError as exc:
        assert exc.reason == Reason.BAD_INPUT, exc
        assert exc.message and exc.hint
    else:
        assert wav.dtype == np.float32 and wav.ndim == 1 and wav.size > 0
        assert 0 < rate <= MAX_SAMPLE_RATE and wav.size / rate <= MAX_SECONDS
        assert np.all(np.isfinite(wav)) and float(np.max(np.abs(wav))) <= 0.6 + 1e-6
        assert check_audio(path, MAX_SECONDS).frames >= wav.size  # the header check agrees with the decode
    assert _rss_growth() < RSS_GROWTH_LIMIT, "memory grew: a header made us allocate too much"


# ---- seeds: small valid files to mutate ---------------------------------------------------------------------


def _wav_bytes(rate: int = 16000, channels: int = 1, width: int = 2, frames: int = 400) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        peak = (1 << (8 * width - 1)) - 1
        fmt = {1: "B", 2: "<h", 4: "<i"}[width]
        frame = b"".join(struct.pack(fmt, int(peak * 0.3 * math.sin(i / 5)) + (128 if width == 1 else 0))
                         for i in range(frames))
        w.writeframes(b"".join(frame[i * width:(i + 1) * width] * channels for i in range(frames)))
    return buf.getvalue()


def _soundfile_bytes(fmt: str, subtype: str | None = None) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(np.arange(1600) / 5)).astype(np.float32), 16000, format=fmt, subtype=subtype)
    return buf.getvalue()


SEEDS = {
    "wav16": (_wav_bytes(), ".wav"),
    "wav8_stereo": (_wav_bytes(width=1, channels=2), ".wav"),
    "wav32_48k": (_wav_bytes(rate=48000, width=4), ".wav"),
    "float_wav": (_soundfile_bytes("WAV", "FLOAT"), ".wav"),
    "flac": (_soundfile_bytes("FLAC"), ".flac"),
    "ogg": (_soundfile_bytes("OGG", "VORBIS"), ".ogg"),
}
MAGICS = [b"RIFF", b"RIFX", b"RF64", b"fLaC", b"OggS", b"FORM", b"caff", b"ID3", b".snd", b"\xff\xfb", b"wvpk"]


@st.composite
def mutated(draw, seed_names=tuple(SEEDS)) -> tuple[bytes, str]:
    """A valid seed file with byte flips and 32-bit overwrites (size fields!) mostly in the header,
    optionally truncated or extended."""
    data, suffix = SEEDS[draw(st.sampled_from(seed_names))]
    buf = bytearray(data)
    header = min(len(buf), 128)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, header - 1) if draw(st.booleans()) else st.integers(0, len(buf) - 1))
        if draw(st.booleans()) and at + 4 <= len(buf):
            value = draw(st.sampled_from([0, 1, 2, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFF0])
                         | st.integers(0, 0xFFFFFFFF))
            buf[at:at + 4] = struct.pack("<I", value)
        else:
            buf[at] = draw(st.integers(0, 255))
    cut = draw(st.none() | st.integers(0, len(buf)))
    if cut is not None:
        buf = buf[:cut]
    return bytes(buf) + draw(st.binary(max_size=64)), suffix


# ---- the audio fuzz tests -----------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_are_rejected_cleanly(data):
    _assert_clean(data)


@FUZZ
@given(st.sampled_from(MAGICS), st.binary(max_size=2048), st.sampled_from([".wav", ".flac", ".ogg", ".mp3"]))
def test_a_known_magic_then_garbage_is_rejected_cleanly(magic, tail, suffix):
    _assert_clean(magic + tail, suffix)


@FUZZ
@given(mutated())
def test_mutated_valid_files_load_or_are_rejected_cleanly(sample):
    _assert_clean(*sample)


@FUZZ
@given(st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF),
       st.integers(0, 0xFFFFFFFF), st.binary(max_size=512))
def test_forged_wav_headers_never_allocate_what_they_claim(riff_size, data_size, channels, bits, rate, body):
    """Hand-made RIFF/WAVE headers with arbitrary size, channel, width and rate fields."""
    align = (channels * bits // 8) & 0xFFFF
    fmt = struct.pack("<HHIIHH", 1, channels, rate, (rate * align) & 0xFFFFFFFF, align, bits)
    data = (b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
            + b"data" + struct.pack("<I", data_size) + body)
    _assert_clean(data)


def test_the_seeds_themselves_load():
    for name, (data, suffix) in SEEDS.items():
        wav, rate = load_audio(_file(data, suffix), MAX_SECONDS)
        assert wav.size > 0 and rate > 0, name


def test_a_small_file_that_would_decode_huge_is_refused_before_decoding():
    """FLAC compresses silence to nearly nothing: 8 channels x 384 kHz x 8 s is ~30 KB on disk but would be
    ~98 MB as float32; the header check refuses it without decoding (found by this suite's author)."""
    import soundfile as sf

    path = _SCRATCH / "dense.flac"
    with sf.SoundFile(str(path), "w", samplerate=384000, channels=8, format="FLAC", subtype="PCM_16") as f:
        block = np.zeros((384000, 8), np.int16)
        for _ in range(8):
            f.write(block)
    assert path.stat().st_size < 100_000
    before = _max_rss()
    with pytest.raises(EngineError) as info:
        load_audio(str(path), MAX_SECONDS)
    assert info.value.reason == Reason.BAD_INPUT and "too much audio data" in info.value.message
    assert _max_rss() - before < 32 * 1024 * 1024


# ---- the fast-path wire decoder -----------------------------------------------------------------------------


def _status_reply_bytes() -> bytes:
    from stepaudio_protos.v1 import stepaudio_pb2 as pb

    reply = pb.StatusReply(daemon_version="0.1.0", protocol_version=1, pid=1234, uptime_s=12.5,
                           socket="/tmp/s.sock", queue_capacity=8, log_file="/tmp/d.log")
    reply.settings.add(name="device", value="cpu", source="default")
    reply.variants.add(variant="base", tier="loaded", worker_pid=99, rss_bytes=1 << 40, load_time_s=1.5,
                       running_job="7-1", keep_alive_s=-1.0)
    reply.queue.add(job_id="7-2", kind="clone", variant="base", position=1, waited_s=0.25)
    reply.cache.hits = 3
    return reply.SerializeToString()


STATUS = _status_reply_bytes()
WIRE_ERRORS = (WireError, UnicodeDecodeError)   # what fast/status.py catches


def _decode_clean(data: bytes) -> None:
    from stepaudio_cli.fast.wire import decode

    before = _max_rss()
    try:
        out = decode("StatusReply", data)
    except WIRE_ERRORS:
        pass
    else:
        assert isinstance(out, dict) and isinstance(out["variants"], list)
    assert _max_rss() - before < RSS_GROWTH_LIMIT


def test_the_wire_decoder_reads_a_real_status_reply():
    from stepaudio_cli.fast.wire import decode

    out = decode("StatusReply", STATUS)
    assert out["pid"] == 1234 and out["variants"][0]["rss_bytes"] == 1 << 40
    assert out["variants"][0]["keep_alive_s"] == -1.0 and out["queue"][0]["job_id"] == "7-2"


@FUZZ
@given(st.binary(max_size=512))
def test_wire_decoder_on_arbitrary_bytes(data):
    _decode_clean(data)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(STATUS) - 1), st.integers(0, 255)), min_size=1, max_size=6),
       st.none() | st.integers(0, len(STATUS)))
def test_wire_decoder_on_mutated_status_replies(flips, cut):
    buf = bytearray(STATUS)
    for at, value in flips:
        buf[at] = value
    _decode_clean(bytes(buf[:cut] if cut is not None else buf))


@FUZZ
@given(st.lists(st.tuples(st.integers(1, 20), st.sampled_from([0, 1, 2, 5]), st.integers(0, (1 << 64) - 1),
                          st.binary(max_size=16)), max_size=8))
def test_wire_decoder_on_fields_of_the_wrong_wire_type(fields):
    """Known field numbers sent with any wire type and value (e.g. a string field as a 2^63 varint)."""
    out = bytearray()
    for number, wire, value, payload in fields:
        out += _varint((number << 3) | wire)
        if wire == 0:
            out += _varint(value)
        elif wire == 1:
            out += struct.pack("<Q", value)
        elif wire == 5:
            out += struct.pack("<I", value & 0xFFFFFFFF)
        else:
            out += _varint(len(payload)) + payload
    _decode_clean(bytes(out))


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)
