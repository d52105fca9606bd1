"""Finding, checking and starting the daemon process, without grpc (cheap; used on every command).

Auto-start is race-free: a flock on spawn.lock serialises "check, then spawn" across any number of
CLIs, and the daemon itself holds a lifetime lock so a second daemon refuses to start anyway.
"""
from __future__ import annotations

import fcntl
import os
import signal
import socket
import struct
import sys
import time
from pathlib import Path

from stepaudio_cli.errors import CliError
from stepaudio_protos.errors import Exit
from stepaudio_protos.paths import Paths, check_socket_path, ensure_private_dir

START_DEADLINE_S = 30.0


def peer_check(paths: Paths, timeout: float = 2.0) -> bool:
    """True if a daemon listens on the socket AND runs as our uid (SO_PEERCRED); False if nothing
    listens (no file, or connection refused: a stale socket). Raises if someone else owns it."""
    if not paths.socket.exists():
        return False
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(paths.socket))
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except OSError as exc:
        raise CliError(f"cannot reach the daemon socket {paths.socket}: {exc.strerror}",
                       "check the runtime folder's permissions", Exit.UNAVAILABLE) from None
    try:
        uid = _peer_uid(sock)
    finally:
        sock.close()
    if uid is not None and uid != os.getuid():
        raise CliError(f"the process on {paths.socket} runs as uid {uid}, not as you (uid {os.getuid()}); "
                       "refusing to talk to it", "remove the socket file and start your own daemon",
                       Exit.UNAVAILABLE)
    return True


def _peer_uid(sock: socket.socket) -> int | None:
    if hasattr(socket, "SO_PEERCRED"):
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return struct.unpack("3i", creds)[1]
    return None  # macOS: the 0700 runtime dir is the access control


def read_token(paths: Paths) -> str:
    try:
        return paths.token_file.read_text().strip()
    except FileNotFoundError:
        raise CliError("the daemon's token file is missing", "restart it: stepaudio daemon restart",
                       Exit.UNAVAILABLE) from None


class SpawnLock:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> "SpawnLock":
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def start_daemon(paths: Paths, extra_args: list[str], env: dict[str, str] | None = None,
                 deadline_s: float = START_DEADLINE_S) -> None:
    """Start stepaudiod detached (own session, our interpreter so versions match) and return once its
    socket accepts calls. The daemon says so on a pipe (`--ready-fd`): we block on it rather than
    poll the socket, so the wait ends the moment it is ready; EOF first means it died."""
    import select
    import subprocess  # only when starting a daemon: ~3 ms that `stepaudio status` should not pay

    paths.log_dir.mkdir(parents=True, exist_ok=True)
    start_log = paths.log_dir / "stepaudiod.start.log"
    ready_r, ready_w = os.pipe()
    try:
        with open(start_log, "wb") as err:
            proc = subprocess.Popen([sys.executable, "-m", "stepaudiod.main", "--ready-fd", str(ready_w),
                                     *extra_args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=err, start_new_session=True, pass_fds=(ready_w,), env=env)
    finally:
        os.close(ready_w)  # the daemon holds the only write end now: its exit means EOF for us
    try:
        readable, _, _ = select.select([ready_r], [], [], deadline_s)
        said = os.read(ready_r, 64) if readable else None
    finally:
        os.close(ready_r)
    if said and said.startswith(b"ready"):
        return
    if said is None:
        raise CliError(f"the daemon did not come up within {deadline_s:.0f} s", log_tail_hint(paths),
                       Exit.UNAVAILABLE)
    code = proc.wait(timeout=5)
    raise CliError(f"the daemon exited during start-up (code {code})", log_tail_hint(paths), Exit.UNAVAILABLE)


def log_tail_hint(paths: Paths, lines: int = 10) -> str:
    chunks = []
    for path in (paths.log_dir / "stepaudiod.start.log", paths.log_file):
        try:
            text = path.read_text(errors="replace").strip()
        except OSError:
            continue
        if text:
            chunks.append(f"{path}:\n    " + "\n    ".join(text.splitlines()[-lines:]))
    return "\n".join(chunks) or f"no daemon log found under {paths.log_dir}"


def ensure_runtime_dir(paths: Paths) -> None:
    try:
        ensure_private_dir(paths.runtime_dir)
        check_socket_path(paths.socket)
    except (OSError, ValueError) as exc:
        raise CliError(str(exc), "", Exit.UNAVAILABLE) from None


def _alive(pid: int, marker: str = "") -> bool:
    """pid still runs (not a zombie), and its command line names `marker` (pids are reused)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            if fh.read().rsplit(b")", 1)[-1].split()[0] == b"Z":
                return False
        if marker:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                return marker.encode() in fh.read()
        return True
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    except OSError:
        return True


def wait_gone(pid: int, seconds: float, paths: Paths) -> bool:
    """Wait until the daemon process `pid` has exited (0 = unknown: wait for its socket to go)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if (pid and not _alive(pid)) or (not pid and not peer_check(paths)):
            return True
        time.sleep(0.02)
    return False


def kill_if(pid: int, marker: str) -> None:
    """SIGKILL pid if it is still the stepaudio process we think it is."""
    if pid and _alive(pid, marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

