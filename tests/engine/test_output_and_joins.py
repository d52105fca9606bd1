"""Output files in every format (read back by soundfile) and the joining of chunks (joins.Stitcher)."""
from __future__ import annotations

import errno

import numpy as np
import pytest
import soundfile as sf

from stepaudio_engine import output_writer
from stepaudio_engine.api import EngineError
from stepaudio_engine.joins import CROSSFADE_S, Stitcher, trim_edges
from stepaudio_protos import formats

RATE = 24000


def _tone(seconds: float, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_the_engine_writes_every_format_the_protocol_names() -> None:
    assert set(output_writer.CONTAINERS) == set(formats.FORMATS)
    for name, spec in formats.FORMATS.items():
        assert set(output_writer.CONTAINERS[name][1]) == set(spec.sample_formats)


@pytest.mark.parametrize("fmt,sample,subtype", [("wav", "s16", "PCM_16"), ("wav", "float", "FLOAT"),
                                                ("flac", "s16", "PCM_16"), ("mp3", "s16", "MPEG_LAYER_III"),
                                                ("opus", "s16", "OPUS")])
def test_written_in_pieces_and_read_back(tmp_path, fmt, sample, subtype) -> None:
    path = tmp_path / f"o.{fmt}"
    wav = _tone(1.0)
    writer = output_writer.OutputWriter(str(path), fmt, sample, RATE)
    for piece in np.array_split(wav, 7):
        writer.write(piece)
    writer.close()
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (RATE, 1, subtype)
    data, _ = sf.read(str(path), dtype="float32")
    assert abs(len(data) - len(wav)) < 0.1 * RATE   # lossy codecs pad a little
    if fmt in ("wav", "flac"):
        assert np.max(np.abs(data - wav)) < 1e-4


def test_raw_pcm_is_headerless_little_endian(tmp_path) -> None:
    wav = _tone(0.5)
    for sample, dtype in (("s16", "<i2"), ("float", "<f4")):
        path = tmp_path / f"o-{sample}.pcm"
        output_writer.write_all(str(path), wav, "pcm", sample, RATE)
        data = np.frombuffer(path.read_bytes(), dtype=dtype)
        assert len(data) == len(wav)
        # the streamed encoding is byte for byte what the file holds
        assert output_writer.pcm_bytes(wav, sample)[1] == path.read_bytes()


def test_bad_format_choices_are_refused(tmp_path) -> None:
    with pytest.raises(EngineError, match="cannot store float"):
        output_writer.OutputWriter(str(tmp_path / "o.mp3"), "mp3", "float")
    with pytest.raises(formats.FormatProblem, match="does not match"):
        formats.resolve("out.mp3", "wav")
    with pytest.raises(formats.FormatProblem, match="cannot tell"):
        formats.resolve("out.xyz")
    assert formats.resolve("OUT.FLAC") == ("flac", "s16")
    assert formats.resolve("-", "pcm", "float") == ("pcm", "float")
    assert formats.resolve("x.ogg") == ("opus", "s16") and formats.resolve("noext") == ("wav", "s16")


class _FullDisk:
    def __init__(self, fh) -> None:
        self.fh = fh

    def write(self, data) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.fh, name)


def test_a_full_disk_is_reported_with_its_cause(tmp_path) -> None:
    writer = output_writer.OutputWriter(str(tmp_path / "o.wav"))
    writer._sink.fh = _FullDisk(writer._sink.fh)
    with pytest.raises(EngineError, match="No space left on device"):
        writer.write(_tone(1.0))
        writer.close()


def test_stitched_pieces_equal_the_whole_and_pause_where_asked() -> None:
    a, b, c = _tone(0.5), _tone(0.4, 330), _tone(0.3, 440)
    st = Stitcher(RATE)
    pieces = [st.add(a, 0.3), st.add(b, 0.0), st.add(c, 0.3), st.finish()]
    out = np.concatenate(pieces)
    xf = int(CROSSFADE_S * RATE)
    # a, then 0.3 s of silence, then b overlapped with c by one crossfade
    assert len(out) == len(a) + int(0.3 * RATE) + len(b) + len(c) - xf
    gap = out[len(a):len(a) + int(0.3 * RATE)]
    assert np.all(gap == 0)
    assert abs(out[len(a) - 1]) < 0.01 and abs(out[len(a) + int(0.3 * RATE)]) < 0.05  # faded, no click
    assert len(pieces[0]) == len(a) - xf  # only the crossfade is held back: the first chunk goes out at once


def test_trim_keeps_the_voice_and_drops_silent_edges() -> None:
    voice = _tone(0.5)
    padded = np.concatenate([np.zeros(RATE, np.float32), voice, np.zeros(RATE, np.float32)])
    trimmed = trim_edges(padded, RATE)
    assert len(voice) <= len(trimmed) < len(voice) + int(0.1 * RATE)
    silent = np.zeros(RATE, np.float32)
    assert len(trim_edges(silent, RATE)) == RATE
