"""`-o -` streaming writer: a WAV redirected into a regular file gets its real sizes at the end."""
from __future__ import annotations

import os
import wave
from types import SimpleNamespace

from stepaudio_cli.stream_out import UNKNOWN_SIZE, StdoutStream


def _piece(index: int, frames: int):
    return SimpleNamespace(index=index, pcm=b"\x01\x00" * frames, sample_rate=24000, encoding="s16le")


def _stream_into(out, frames=(100, 50)) -> StdoutStream:
    stream = StdoutStream("wav", out)
    for i, n in enumerate(frames):
        stream(_piece(i, n))
    stream.finish()
    return stream


def test_a_redirected_file_gets_the_true_length(tmp_path):
    path = tmp_path / "out.wav"          # what `stepaudio clone … -o - > out.wav` hands the CLI
    with open(path, "wb") as out:
        _stream_into(out)
    with wave.open(str(path), "rb") as w:
        assert w.getnframes() == 150 and w.getframerate() == 24000
    assert int.from_bytes(path.read_bytes()[4:8], "little") == 36 + 300


def test_a_file_with_bytes_before_the_header_is_patched_at_the_header(tmp_path):
    path = tmp_path / "out.bin"          # `{ printf x; stepaudio … -o -; } > out.bin`
    with open(path, "wb") as out:
        out.write(b"x")
        _stream_into(out)
    data = path.read_bytes()
    assert data[:1] == b"x" and data[1:5] == b"RIFF"
    assert int.from_bytes(data[41:45], "little") == 300


def test_a_pipe_or_an_appended_file_keeps_the_streaming_header(tmp_path):
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as out:
        _stream_into(out)
    with os.fdopen(read_end, "rb") as pipe:
        assert pipe.read()[40:44] == UNKNOWN_SIZE.to_bytes(4, "little")
    path = tmp_path / "log.wav"          # `>> log.wav`: pwrite would append, so nothing is rewritten
    path.write_bytes(b"old")
    with open(path, "ab") as out:
        _stream_into(out)
    assert path.read_bytes()[:3] == b"old" and path.read_bytes()[43:47] == UNKNOWN_SIZE.to_bytes(4, "little")
