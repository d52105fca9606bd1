"""Writing the output file piece by piece in the format the user chose.

The format names and which sample formats each takes are the protocol's (stepaudio_protos/formats.py, which
the CLI and daemon check against before a job starts); this module knows how libsndfile writes each one.

Audio goes to disk as it is made (a long text's chunks one after another), so the worker's memory does not
grow with the length of the output. libsndfile reports a full disk only as "System error.", so the file is
written through a small Python sink that keeps the real OSError (ENOSPC, EDQUOT, EFBIG) for the message.
"""
from __future__ import annotations

from typing import BinaryIO, Optional

import numpy as np

from stepaudio_engine.api import EngineError, Reason

# format -> (libsndfile container, {sample format -> libsndfile subtype})
CONTAINERS = {
    "wav": ("WAV", {"s16": "PCM_16", "float": "FLOAT"}),
    "flac": ("FLAC", {"s16": "PCM_16"}),
    "mp3": ("MP3", {"s16": "MPEG_LAYER_III"}),
    "opus": ("OGG", {"s16": "OPUS"}),
    "pcm": ("RAW", {"s16": "PCM_16", "float": "FLOAT"}),
}


class _Sink:
    """File object for libsndfile's virtual I/O that remembers the first OSError instead of losing it."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.error: Optional[OSError] = None

    def write(self, data) -> int:
        if self.error is not None:
            return 0
        try:
            return self.fh.write(data)
        except OSError as exc:
            self.error = exc
            return 0

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.fh.seek(offset, whence)

    def tell(self) -> int:
        return self.fh.tell()

    def read(self, size: int = -1) -> bytes:
        return self.fh.read(size)


class OutputWriter:
    """Opens `path` for the format, takes float32 mono samples in pieces, and finishes the file on close."""

    def __init__(self, path: str, fmt: str = "wav", sample_format: str = "s16", rate: int = 24000) -> None:
        import soundfile as sf

        self.path = path
        self.format, self.sample_format = fmt or "wav", sample_format or "s16"
        container, subtypes = _container(self.format, self.sample_format)
        self.rate = rate
        self.frames = 0
        try:
            self._fh = open(path, "w+b")
        except OSError as exc:
            raise _unwritable(exc) from exc
        self._sink = _Sink(self._fh)
        try:
            self._file = sf.SoundFile(self._sink, "w", rate, 1, subtype=subtypes[self.sample_format],
                                      format=container, endian="LITTLE" if container == "RAW" else "FILE")
        except Exception as exc:
            self._fh.close()
            raise self._error(exc) from exc

    def write(self, samples: np.ndarray) -> None:
        if len(samples) == 0:
            return
        try:
            self._file.write(np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0))
        except Exception as exc:
            self.abort()
            raise self._error(exc) from exc
        if self._sink.error is not None:
            self.abort()
            raise _unwritable(self._sink.error)
        self.frames += len(samples)

    def close(self) -> None:
        try:
            self._file.close()
            self._fh.flush()
        except Exception as exc:
            self.abort()
            raise self._error(exc) from exc
        finally:
            self._fh.close()
        if self._sink.error is not None:
            raise _unwritable(self._sink.error)

    def abort(self) -> None:
        """Stop writing; the caller (the daemon) deletes the temp file."""
        try:
            self._file.close()
        except Exception:
            pass
        try:
            self._fh.close()
        except OSError:
            pass

    def _error(self, exc: Exception) -> EngineError:
        if self._sink.error is not None:
            return _unwritable(self._sink.error)
        if isinstance(exc, OSError) and exc.errno is not None:  # the disk or folder, not the format (ENOSPC…)
            return _unwritable(exc)
        return EngineError(Reason.OUTPUT_UNWRITABLE, f"cannot write the {self.format} output: {exc}",
                           "try another --format (wav always works)")


def _container(fmt: str, sample_format: str) -> tuple[str, dict]:
    """Other clients than the CLI may send anything: check again here."""
    if fmt not in CONTAINERS:
        raise EngineError(Reason.BAD_INPUT, f"unknown output format '{fmt}'", f"formats: {', '.join(CONTAINERS)}")
    container, subtypes = CONTAINERS[fmt]
    if sample_format not in subtypes:
        raise EngineError(Reason.BAD_INPUT, f"{fmt} cannot store {sample_format} samples",
                          "use --sample-format s16, or wav/pcm for float")
    return container, subtypes


def _unwritable(exc: OSError) -> EngineError:
    return EngineError(Reason.OUTPUT_UNWRITABLE, f"cannot write the output file: {exc.strerror or exc}",
                       "free some disk space, or write to another folder with -o")


def write_all(path: str, wav: np.ndarray, fmt: str = "wav", sample_format: str = "s16", rate: int = 24000) -> None:
    writer = OutputWriter(path, fmt, sample_format, rate)
    writer.write(wav)
    writer.close()


def pcm_bytes(samples: np.ndarray, sample_format: str) -> tuple[str, bytes]:
    """(encoding, bytes) of samples as a streamed piece: the same conversion libsndfile applies to the file
    (encoded by libsndfile itself), so a streamed WAV and the written WAV hold the same samples."""
    import io

    import soundfile as sf

    subtype, encoding = ("FLOAT", "f32le") if sample_format == "float" else ("PCM_16", "s16le")
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0), 24000, subtype=subtype,
             format="RAW", endian="LITTLE")
    return encoding, buffer.getvalue()
