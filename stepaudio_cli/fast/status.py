"""`stepaudio status [--json]` against a running daemon of our version, in a few milliseconds.

Returns an exit code, or None to let the full CLI handle the command (daemon not running, other
version, refused call, anything unexpected).
"""
from __future__ import annotations

import os
import socket
import sys
from stepaudio_protos import PROTOCOL_VERSION, TOKEN_METADATA_KEY, __version__
from stepaudio_protos.paths import resolve_paths


def run(json_out: bool) -> int | None:  # no typing import: ~2 ms of a ~30 ms budget
    from stepaudio_cli.fast import h2call, wire

    paths = resolve_paths()
    if not _ensure_daemon(paths):
        return None
    try:
        token = paths.token_file.read_text().strip()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(5.0)
        sock.connect(str(paths.socket))
    except OSError:
        return None
    try:
        if not _same_uid(sock):
            return None  # the full client explains the refusal
        raw = h2call.unary_call(sock, "/stepaudio.v1.StepAudio/Status", b"", [(TOKEN_METADATA_KEY, token)])
        reply = wire.decode("StatusReply", raw) if raw is not None else None
    except (OSError, wire.WireError, UnicodeDecodeError):
        return None
    finally:
        sock.close()
    if reply is None or reply["protocol_version"] != PROTOCOL_VERSION or reply["daemon_version"] != __version__:
        return None
    from stepaudio_cli import render

    if json_out:
        render.print_json(reply)
    else:
        print(render.status_text(reply))
    sys.stdout.flush()
    return 0


def _ensure_daemon(paths) -> bool:
    """Start the daemon if none runs (the same locked auto-start as the full client, without grpc)."""
    from stepaudio_cli import daemon_proc
    from stepaudio_cli.errors import CliError

    try:
        if daemon_proc.peer_check(paths):
            return True
        daemon_proc.ensure_runtime_dir(paths)
        with daemon_proc.SpawnLock(paths.spawn_lock):
            if not daemon_proc.peer_check(paths):
                daemon_proc.start_daemon(paths, [])
        return True
    except CliError:
        return False  # the full client reports it with its hint


def _same_uid(sock: socket.socket) -> bool:
    if not hasattr(socket, "SO_PEERCRED"):
        return True
    import struct

    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1] == os.getuid()
