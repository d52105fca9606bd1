"""Ordinary I/O errors are not bugs: a reader that closes the pipe early, stdout on a full disk."""
from __future__ import annotations

import os
import subprocess


def _with_stdout(sa, stdout_fd: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(sa.cmd(*args), env=sa.env, cwd=sa.work, stdout=stdout_fd, stderr=subprocess.PIPE,
                          text=True, timeout=60)


def _closed_pipe() -> int:
    """The write end of a pipe whose reader is already gone (`… | head -0`)."""
    read, write = os.pipe()
    os.close(read)
    return write


def _to_stdout(sa, text: str) -> list[str]:
    args = sa.clone_args("unused.wav", text)
    return args[:args.index("-o")] + ["-o", "-"]


def _clean(stderr: str) -> bool:
    return "Traceback" not in stderr and "this is a bug" not in stderr and "Exception ignored" not in stderr


def test_a_reader_that_goes_away_is_not_an_error(sa):
    sa.status()  # a running daemon: `status` takes the fast path
    for args in (["status"], ["status", "--json"], ["list-edits"], ["config", "show"]):
        fd = _closed_pipe()
        try:
            result = _with_stdout(sa, fd, *args)
        finally:
            os.close(fd)
        # quiet, as Unix filters: 141 (128 + SIGPIPE), or 1 where rich's console handles it itself
        assert result.returncode in (1, 141) and result.stderr == "", (args, result.stderr)


def test_audio_to_a_closed_or_full_stdout_is_a_clear_failure(sa):
    fd = _closed_pipe()
    try:
        closed = _with_stdout(sa, fd, *_to_stdout(sa, "to a closed pipe"))
    finally:
        os.close(fd)
    assert closed.returncode == 1 and _clean(closed.stderr), closed.stderr
    assert "went away" in closed.stderr
    with open("/dev/full", "wb") as full:
        result = _with_stdout(sa, full.fileno(), *_to_stdout(sa, "to a full disk"))
    assert result.returncode == 1 and _clean(result.stderr), result.stderr
    assert "No space left on device" in result.stderr
    full_list = open("/dev/full", "wb")
    try:
        listed = _with_stdout(sa, full_list.fileno(), "list-edits")
    finally:
        full_list.close()
    assert listed.returncode == 1 and "No space left on device" in listed.stderr and _clean(listed.stderr)
    assert not sa.stray_files() and not (sa.work / "-").exists()
