"""`-` for audio: stdin is saved to a private temp file the daemon can read; an output of `-` is
written by the daemon to a private temp file and then copied to stdout (WAV, for pipes).

The temp folder lives in the 0700 runtime dir, so other users can't read or swap the files.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from stepaudio_cli.errors import CliError, stdout_closed
from stepaudio_protos.errors import Exit, Reason
from stepaudio_protos.paths import Paths, ensure_private_dir

MAX_STDIN_BYTES = 512 * 1024 * 1024  # far beyond any input the engine accepts (30 s)
# far beyond what fits a prompt (8192 ids); without a bound, --text-file /dev/zero read until memory ran out
MAX_TEXT_CHARS = 1024 * 1024


@contextmanager
def scratch(paths: Paths) -> Iterator[Path]:
    ensure_private_dir(paths.runtime_dir)
    # the pid in the name lets the daemon sweep the folder of a CLI that was killed (outputs.sweep_scratch)
    folder = Path(tempfile.mkdtemp(prefix=f"io-{os.getpid()}-", dir=paths.runtime_dir))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def stdin_audio(folder: Path) -> str:
    if sys.stdin.isatty():
        raise CliError("audio '-' means standard input, but stdin is a terminal", "pipe a WAV file in: cat in.wav | …",
                       Exit.USAGE)
    data = sys.stdin.buffer.read(MAX_STDIN_BYTES + 1)
    if len(data) > MAX_STDIN_BYTES:
        raise CliError("the audio on stdin is too large", "give a file of at most 30 s", Reason.TOO_LARGE)
    if not data:
        raise CliError("stdin is empty: no audio arrived", "pipe a WAV file in: cat in.wav | …", Exit.USAGE)
    path = folder / ("stdin" + _suffix(data))
    path.write_bytes(data)
    return str(path)


# the container named by stdin's first bytes, so nothing downstream calls a FLAC stream "stdin.wav"
_SUFFIXES = ((b"fLaC", ".flac"), (b"OggS", ".ogg"), (b"ID3", ".mp3"), (b"FORM", ".aiff"), (b"caff", ".caf"))


def _suffix(data: bytes) -> str:
    return next((suffix for magic, suffix in _SUFFIXES if data.startswith(magic)), ".wav")


def name_stdin(exc: CliError, temp_path: str) -> CliError:
    """The same error with the private temp copy of stdin called 'stdin' (the name the user gave)."""
    if temp_path and (temp_path in exc.message or temp_path in exc.hint):
        exc.message = exc.message.replace(temp_path, "stdin")
        exc.hint = exc.hint.replace(temp_path, "stdin")
        exc.args = (exc.message,)
    return exc


def stdin_text(what: str) -> str:
    if sys.stdin.isatty():
        raise CliError(f"the {what} '-' means standard input, but stdin is a terminal", "pipe the text in",
                       Exit.USAGE)
    return _bounded(sys.stdin.read(MAX_TEXT_CHARS + 1), what)


def _bounded(text: str, what: str) -> str:
    if len(text) > MAX_TEXT_CHARS:
        raise CliError(f"the {what} is longer than {MAX_TEXT_CHARS} characters",
                       "the model speaks a few hundred words per job: split the text into several jobs",
                       Reason.TOO_LARGE)
    return text


def read_text_file(path: str, what: str) -> str:
    if path == "-":
        return stdin_text(what)
    try:
        with open(path, encoding="utf-8") as fh:
            return _bounded(fh.read(MAX_TEXT_CHARS + 1), what)
    except (OSError, UnicodeDecodeError) as exc:
        raise text_file_error(path, f"the {what}", exc, "text") from None


def text_file_error(path: str, what: str, exc: Exception, kind: str) -> CliError:
    """A text input that cannot be read, said plainly: a missing file is not an encoding problem."""
    if isinstance(exc, FileNotFoundError):
        return CliError(f"cannot read {what}: {path} does not exist", "check the path")
    if isinstance(exc, IsADirectoryError):
        return CliError(f"cannot read {what}: {path} is a folder", f"give a {kind} file")
    if isinstance(exc, UnicodeDecodeError):
        return CliError(f"cannot read {what}: {path} is not UTF-8 (it has the byte "
                        f"{exc.object[exc.start]:#04x})",
                        f"save it as UTF-8 (e.g. iconv -f latin1 -t utf-8 {path} > new.txt)", Reason.BAD_INPUT)
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return CliError(f"cannot read {what} from {path}: {reason}", f"give a readable UTF-8 {kind} file")


def copy_to_stdout(path: str) -> None:
    try:
        with open(path, "rb") as src:
            shutil.copyfileobj(src, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        stdout_closed()
        raise CliError("the WAV was not delivered: the program reading stdout closed the pipe early",
                       "check the command after the |", Exit.FAILED) from None
    except OSError as exc:
        raise CliError(f"cannot write the WAV to standard output: {exc.strerror}",
                       "check the free space where stdout goes, or write a file with -o FILE") from None


def stdout_is_terminal() -> bool:
    return os.isatty(sys.stdout.fileno())
