"""Output formats: one table shared by the CLI (which picks a format from `-o` and `--format`), the daemon
(which re-checks what a client sends) and the engine (which writes the file). Plain Python: no numpy.

Every format is written by soundfile's bundled libsndfile (1.1+ writes MP3 and Opus; no ffmpeg) in the
engine (stepaudio_engine/output_writer.py holds the libsndfile names; a test checks both tables agree). Output
is always 24 kHz mono. `sample_format` is how samples are stored: `s16` (16-bit PCM, the default, as upstream
writes its outputs) or `float` (32-bit float), which only WAV and raw PCM can hold.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Optional

SAMPLE_FORMATS = ("s16", "float")


@dataclass(frozen=True)
class OutputFormat:
    name: str                      # what --format and batch lines take
    extensions: tuple[str, ...]    # file name endings that mean this format (lower case, with the dot)
    sample_formats: tuple[str, ...]  # what --sample-format may be for it
    streamable: bool               # `-o -` can send it while the job runs (no header to patch afterwards)
    description: str


FORMATS: dict[str, OutputFormat] = {f.name: f for f in (
    OutputFormat("wav", (".wav", ".wave"), ("s16", "float"), True,
                 "WAV, 16-bit PCM (or 32-bit float with --sample-format float)"),
    OutputFormat("flac", (".flac",), ("s16",), False, "FLAC, lossless 16-bit"),
    OutputFormat("mp3", (".mp3",), ("s16",), False, "MP3 (MPEG layer III)"),
    OutputFormat("opus", (".opus", ".ogg"), ("s16",), False, "Ogg/Opus"),
    OutputFormat("pcm", (".pcm", ".raw"), ("s16", "float"), True,
                 "raw little-endian samples, no header (s16le, or f32le with --sample-format float)"),
)}
DEFAULT_FORMAT = "wav"
NAMES = tuple(FORMATS)


class FormatProblem(ValueError):
    """A format choice that cannot be honoured: message says what, hint what to do."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def from_extension(path: str) -> Optional[str]:
    """The format a file name's ending names, or None (no ending we know, or '-')."""
    suffix = PurePath(path).suffix.lower()
    return next((f.name for f in FORMATS.values() if suffix and suffix in f.extensions), None)


def resolve(output: str, fmt: Optional[str] = None, sample_format: Optional[str] = None) -> tuple[str, str]:
    """(format, sample format) for an output path and the user's choices. An extension that names another
    format than `fmt` is an error (never a mislabelled file); an unknown extension without `fmt` is too."""
    chosen = _format_name(fmt)
    named = from_extension(output) if output != "-" else None
    if chosen and named and chosen != named:
        raise FormatProblem(f"--format {chosen} does not match the output name {PurePath(output).name} "
                            f"(which means {named})",
                            f"name the file {PurePath(output).stem}{FORMATS[chosen].extensions[0]}, "
                            f"or drop --format")
    if not chosen and not named and output != "-" and PurePath(output).suffix:
        raise FormatProblem(f"cannot tell the audio format from the name {PurePath(output).name}",
                            f"use one of {', '.join(e for f in FORMATS.values() for e in f.extensions)}, "
                            "or give --format")
    name = chosen or named or DEFAULT_FORMAT
    return name, check_sample_format(name, sample_format)


def check_sample_format(fmt: str, sample_format: Optional[str]) -> str:
    sample = (sample_format or "s16").lower()
    if sample not in SAMPLE_FORMATS:
        raise FormatProblem(f"unknown sample format '{sample_format}'", f"sample formats: {', '.join(SAMPLE_FORMATS)}")
    if sample not in FORMATS[fmt].sample_formats:
        takers = [f.name for f in FORMATS.values() if sample in f.sample_formats]
        raise FormatProblem(f"{fmt} cannot store {sample} samples", f"--sample-format {sample} works with "
                            f"{' and '.join(takers)}")
    return sample


def check(fmt: str, sample_format: str) -> tuple[str, str]:
    """The daemon's and engine's re-check of what a client sent ("" = the defaults)."""
    name = _format_name(fmt) or DEFAULT_FORMAT
    return name, check_sample_format(name, sample_format or "s16")


def _format_name(fmt: Optional[str]) -> Optional[str]:
    if not fmt:
        return None
    name = fmt.lower().lstrip(".")
    if name not in FORMATS:
        aliases = {e.lstrip("."): f.name for f in FORMATS.values() for e in f.extensions}
        if name in aliases:
            return aliases[name]
        raise FormatProblem(f"unknown output format '{fmt}'", f"formats: {', '.join(NAMES)}")
    return name
