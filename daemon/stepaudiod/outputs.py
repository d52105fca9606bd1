"""Output files: checked before a job runs, written under a temp name next to the target, and moved
into place only when the job succeeded (DESIGN.md §6). A failed or cancelled job leaves nothing.

No-clobber without --force is atomic: os.link() fails if the target appeared in the meantime.
"""
from __future__ import annotations

import errno
import os
from pathlib import Path

from stepaudiod.errors import DaemonError

TEMP_MARK = ".stepaudio-tmp-"


def check_output(path: str, force: bool) -> Path:
    """Raise OUTPUT_* errors for a target we could not (or must not) write."""
    try:
        return _check_output(path, force)
    except OSError as exc:  # stat itself failed, e.g. ENAMETOOLONG: not a daemon bug, a bad path
        raise DaemonError("OUTPUT_UNWRITABLE", f"cannot write {path}: {exc.strerror}", "choose another -o") from None


def _check_output(path: str, force: bool) -> Path:
    target = Path(path)
    if not target.is_absolute():
        raise DaemonError("BAD_INPUT", f"output path must be absolute: {path}", "the CLI sends absolute paths")
    if target.is_dir():
        raise DaemonError("OUTPUT_UNWRITABLE", f"output {target} is a directory", "give a file name, e.g. -o out.wav")
    parent = target.parent
    if not parent.is_dir():
        raise DaemonError("OUTPUT_UNWRITABLE", f"folder {parent} does not exist", "create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DaemonError("OUTPUT_UNWRITABLE", f"cannot write to folder {parent}: permission denied")
    if target.exists() and not force:
        raise DaemonError("OUTPUT_EXISTS", f"{target} already exists")
    if target.exists() and not target.is_file():
        raise DaemonError("OUTPUT_UNWRITABLE", f"{target} is not a regular file", "choose another -o")
    return target


def temp_path_for(target: Path, job_id: str) -> Path:
    # Same directory as the target so the final rename is atomic (same filesystem); hidden name.
    return target.parent / f".{target.name}{TEMP_MARK}{job_id}.wav"


def commit(temp: Path, target: Path, force: bool) -> None:
    """Move the finished temp file into place (no-clobber unless force) and fsync the directory."""
    try:
        if force:
            os.replace(temp, target)
        else:
            _link_no_clobber(temp, target)
    except FileExistsError:
        discard(temp)
        raise DaemonError("OUTPUT_EXISTS", f"{target} appeared while the job ran; it was kept") from None
    except OSError as exc:
        discard(temp)
        raise DaemonError("OUTPUT_UNWRITABLE", f"cannot write {target}: {exc.strerror}") from None
    _fsync_dir(target.parent)


def _link_no_clobber(temp: Path, target: Path) -> None:
    try:
        os.link(temp, target)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        # a filesystem without hard links: fall back to check-then-rename (a tiny window remains)
        if target.exists():
            raise FileExistsError(str(target)) from None
        os.rename(temp, target)
        return
    os.unlink(temp)


def discard(temp: Path) -> None:
    try:
        os.unlink(temp)
    except FileNotFoundError:
        pass
    except OSError:
        pass


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
