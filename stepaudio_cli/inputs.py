"""Cheap checks of the user's files before anything is sent to the daemon: fail fast, with a hint,
and never after minutes of model loading. The engine checks audio for real (soundfile.info) in the
worker; this only catches what can be seen without decoding.
"""
from __future__ import annotations

import os
from pathlib import Path

from stepaudio_cli.errors import CliError
from stepaudio_protos.errors import Exit, Reason

# magic bytes of the containers libsndfile reads (WAV/RF64/W64, FLAC, OGG/Opus, AIFF, CAF, MP3, AU)
_MAGIC = (b"RIFF", b"RIFX", b"RF64", b"riff", b"fLaC", b"OggS", b"FORM", b"caff", b"ID3", b".snd")


def check_input_audio(path_text: str) -> str:
    if path_text == "":
        raise CliError("the input path is empty", "give the path of a recording", Exit.USAGE)
    try:
        return _input_audio(path_text)
    except OSError as exc:  # the checks' own stat calls: a name too long, a parent we may not search, ...
        raise CliError(f"cannot use {path_text}: {exc.strerror}", "check the path") from None


def _input_audio(path_text: str) -> str:
    path = Path(path_text).expanduser()
    if not path.exists():
        if path.is_symlink():
            raise CliError(f"input file {path_text} is a broken symlink (or a symlink loop)",
                           "point the link at an existing recording")
        raise CliError(f"input file {path_text} does not exist", "check the path")
    if path.is_dir():
        raise CliError(f"{path_text} is a directory, not an audio file", "give a WAV/FLAC/OGG/MP3 file")
    if not path.is_file():
        # a FIFO or device: opening it to sniff the header could block forever (no writer) or eat the data
        raise CliError(f"{path_text} is not a regular file (a pipe or device)",
                       "save the audio to a file first, or pass '-' to read it from stdin")
    if not os.access(path, os.R_OK):
        raise CliError(f"cannot read {path_text}: permission denied", "check the file's permissions")
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError as exc:
        raise CliError(f"cannot read {path_text}: {exc.strerror}") from None
    if not head:
        raise CliError(f"{path_text} is empty", "give a recording with speech in it")
    if not (head.startswith(_MAGIC) or _mpeg_sync(head)):
        raise CliError(f"{path_text} is not an audio file stepaudio can read (unknown format)",
                       "convert it to WAV, e.g. ffmpeg -i in.m4a -ar 24000 out.wav")
    return str(path.absolute())


def _mpeg_sync(head: bytes) -> bool:
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0


def check_output_path(path_text: str, force: bool) -> str:
    if path_text == "":
        raise CliError("the output path is empty", "pass -o out.wav", Exit.USAGE)
    try:
        return _output_path(path_text, force)
    except OSError as exc:  # e.g. ENAMETOOLONG from the checks' stat calls
        raise CliError(f"cannot write {path_text}: {exc.strerror}", "choose another output path") from None


def _output_path(path_text: str, force: bool) -> str:
    path = Path(path_text).expanduser().absolute()
    if path.is_dir():
        raise CliError(f"output {path_text} is a directory", "give a file name, e.g. -o out.wav")
    if path.parent.exists() and not path.parent.is_dir():
        raise CliError(f"output folder {path.parent} is not a folder (it is a file)", "choose another output path")
    if not path.parent.is_dir():
        raise CliError(f"output folder {path.parent} does not exist", "create it first (mkdir -p)")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise CliError(f"cannot write to {path.parent}: permission denied", "choose another output folder")
    if path.exists() and not force:
        raise CliError(f"{path_text} already exists", "pass --force to overwrite it", Reason.OUTPUT_EXISTS)
    if path.exists() and not path.is_file():
        raise CliError(f"{path_text} is not a regular file", "choose another output path")
    return str(path)


def check_text(text: str, what: str) -> str:
    if not text.strip():
        raise CliError(f"the {what} is empty", f"give the {what} as a non-empty string")
    return text
