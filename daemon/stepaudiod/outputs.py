"""Output files: checked before a job runs, written under a temp name next to the target, and moved
into place only when the job succeeded (DESIGN.md §6). A failed or cancelled job leaves nothing.

No-clobber without --force is atomic: os.link() fails if the target appeared in the meantime.
A daemon killed mid-job cannot delete its temp file, so each one is recorded in a journal (`Pending`)
while it may exist, and the next daemon deletes what the records name.
"""
from __future__ import annotations

from stepaudio_protos.errors import Reason

import errno
import logging
import os
from pathlib import Path

from stepaudiod.errors import DaemonError

TEMP_MARK = ".stepaudio-tmp-"

log = logging.getLogger(__name__)


def check_output(path: str, force: bool) -> Path:
    """Raise OUTPUT_* errors for a target we could not (or must not) write."""
    try:
        return _check_output(path, force)
    except OSError as exc:  # stat itself failed, e.g. ENAMETOOLONG: not a daemon bug, a bad path
        raise DaemonError(Reason.OUTPUT_UNWRITABLE, f"cannot write {path}: {exc.strerror}",
                          "choose another -o") from None


def _check_output(path: str, force: bool) -> Path:
    target = Path(path)
    if not target.is_absolute():
        raise DaemonError(Reason.BAD_INPUT, f"output path must be absolute: {path}", "the CLI sends absolute paths")
    if target.is_dir():
        raise DaemonError(Reason.OUTPUT_UNWRITABLE, f"output {target} is a directory",
                          "give a file name, e.g. -o out.wav")
    parent = target.parent
    if not parent.is_dir():
        raise DaemonError(Reason.OUTPUT_UNWRITABLE, f"folder {parent} does not exist", "create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DaemonError(Reason.OUTPUT_UNWRITABLE, f"cannot write to folder {parent}: permission denied")
    if target.exists() and not force:
        raise DaemonError(Reason.OUTPUT_EXISTS, f"{target} already exists")
    if target.exists() and not target.is_file():
        raise DaemonError(Reason.OUTPUT_UNWRITABLE, f"{target} is not a regular file", "choose another -o")
    return target


def temp_path_for(target: Path, job_id: str) -> Path:
    # Same directory as the target so the final rename is atomic (same filesystem); hidden name.
    return target.parent / f".{target.name}{TEMP_MARK}{job_id}.wav"


def commit(temp: Path, target: Path, force: bool) -> None:
    """Move the finished temp file into place (no-clobber unless force) and fsync the directory."""
    try:
        # A symlink as the output is replaced by the file, never written through: --force replaces the link
        # (the file it points at is untouched), and a dangling link holds nothing, so it is a new output.
        if force or (target.is_symlink() and not target.exists()):
            os.replace(temp, target)
        else:
            _link_no_clobber(temp, target)
    except FileExistsError:
        discard(temp)
        raise DaemonError(Reason.OUTPUT_EXISTS, f"{target} appeared while the job ran; it was kept") from None
    except OSError as exc:
        discard(temp)
        raise DaemonError(Reason.OUTPUT_UNWRITABLE, f"cannot write {target}: {exc.strerror}") from None
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


class Pending:
    """Journal of output temp files that a job may be writing: a record (file named after the job, holding
    the temp path) exists from before the worker gets the job until the temp file is committed or
    discarded. Only one daemon runs per state folder (its lifetime lock), so the records are ours."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def add(self, job_id: str, temp: Path) -> None:
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            (self.folder / job_id).write_text(str(temp), encoding="utf-8")
        except OSError as exc:  # the journal is a safety net: a full state disk must not fail the job
            log.warning("could not record temp file %s: %s", temp, exc)

    def remove(self, job_id: str) -> None:
        try:
            (self.folder / job_id).unlink()
        except OSError:
            pass

    def sweep(self) -> list[Path]:
        """Delete the temp files named by records a dead daemon left; returns the ones deleted."""
        deleted = []
        for record in sorted(self.folder.glob("*")) if self.folder.is_dir() else []:
            try:
                temp = Path(record.read_text(encoding="utf-8").strip())
            except (OSError, UnicodeDecodeError):
                temp = None
            # only ever our own hidden temp names: a damaged record must not delete a user's file
            if temp is not None and TEMP_MARK in temp.name and temp.name.startswith("."):
                try:
                    if temp.is_file() and not temp.is_symlink():
                        os.unlink(temp)
                        deleted.append(temp)
                except OSError as exc:
                    log.warning("could not delete %s left by an earlier daemon: %s", temp, exc)
            self.remove(record.name)
        if deleted:
            log.info("deleted %d temp file(s) left by an earlier daemon: %s", len(deleted),
                     ", ".join(map(str, deleted)))
        return deleted


def sweep_scratch(runtime_dir: Path) -> list[str]:
    """Remove the `io-<pid>-*` folders (private copies of a CLI's stdin/stdout audio) whose CLI is gone:
    a CLI killed with SIGKILL cannot clean up after itself. Returns the names removed."""
    import shutil

    removed: list[str] = []
    try:
        entries = list(runtime_dir.glob("io-*-*"))
    except OSError:
        return removed
    for folder in entries:
        try:
            pid = int(folder.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if folder.is_dir() and not _process_alive(pid):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

