"""`-o -` while the job runs: audio pieces (AudioChunk events) go to stdout as they arrive.

WAV goes out with an "unknown length" header: the RIFF and data sizes are 0xFFFFFFFF, the convention of
streamed WAV that sox, ffmpeg, aplay and soundfile accept (the length is not known until the job ends, and
a pipe cannot be seeked back to patch it). When stdout is a regular file (`-o - > out.wav`), `finish()`
writes the true sizes over the placeholders at the end, so the file's header tells its real length
(soxi, players and `wave` otherwise see ~24 h). `--format pcm` sends the bare samples. A reader that goes away
(`| head -c 1000`) ends the stream quietly: the job is cancelled and the daemon goes on serving.
"""
from __future__ import annotations

import fcntl
import os
import stat
import struct
import sys
from typing import BinaryIO, Optional

from stepaudio_cli.errors import CliError
from stepaudio_protos.errors import Exit

UNKNOWN_SIZE = 0xFFFFFFFF
_WAVE_FORMAT = {"s16le": (1, 16), "f32le": (3, 32)}   # PCM, IEEE float


def streaming_wav_header(rate: int, encoding: str, channels: int = 1) -> bytes:
    tag, bits = _WAVE_FORMAT[encoding]
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    return (b"RIFF" + struct.pack("<I", UNKNOWN_SIZE) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"data" + struct.pack("<I", UNKNOWN_SIZE))


class ReaderGone(CliError):
    def __init__(self) -> None:
        super().__init__("the reader of the audio on stdout went away; the job was cancelled",
                         "this is expected with e.g. `| head`; the daemon keeps serving", Exit.FAILED)


class StdoutStream:
    """Writes AudioChunk events to stdout in order, with a WAV header first unless raw PCM."""

    def __init__(self, fmt: str, out: Optional[BinaryIO] = None) -> None:
        self.fmt = fmt
        self.out = out or sys.stdout.buffer
        self.pieces = 0
        self.bytes = 0
        self.header_at: Optional[int] = None   # offset of the WAV header in a seekable stdout, else None

    def __call__(self, chunk) -> None:
        if chunk.index != self.pieces:
            raise CliError(f"audio piece {chunk.index} arrived out of order (expected {self.pieces})",
                           "this is a bug; `stepaudio daemon logs` shows details")
        data = chunk.pcm
        if self.pieces == 0 and self.fmt == "wav":
            self.header_at = _patchable_offset(self.out)
            data = streaming_wav_header(chunk.sample_rate, chunk.encoding) + data
        self._write(data)
        self.pieces += 1
        self.bytes += len(chunk.pcm)

    def finish(self) -> None:
        """The job ended well: if stdout is a regular file, write the real RIFF and data sizes."""
        if self.header_at is None or self.bytes > UNKNOWN_SIZE - 36:
            return
        self.out.flush()
        fd = self.out.fileno()
        os.pwrite(fd, struct.pack("<I", 36 + self.bytes), self.header_at + 4)
        os.pwrite(fd, struct.pack("<I", self.bytes), self.header_at + 40)

    def _write(self, data: bytes) -> None:
        try:
            self.out.write(data)
            self.out.flush()
        except BrokenPipeError:
            _silence_stdout()
            raise ReaderGone() from None


def _patchable_offset(out: BinaryIO) -> Optional[int]:
    """Where the header will start if `out` is a regular file we may write back into, else None
    (a pipe, a terminal, a device, or a file opened for appending: `>>` makes pwrite append on Linux)."""
    try:
        fd = out.fileno()
        if not stat.S_ISREG(os.fstat(fd).st_mode) or fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND:
            return None
        out.flush()
        return os.lseek(fd, 0, os.SEEK_CUR)
    except (OSError, ValueError, AttributeError):   # no real descriptor (e.g. a BytesIO in tests)
        return None


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so Python's exit-time flush does not print a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except OSError:
        pass
