"""`stepaudiod`: the daemon's entry point.

Start-up order matters: settings → private runtime dir → lifetime lock (a second daemon refuses to
start) → logging → token file → socket → serve. The CLI normally starts this for you.
"""
from __future__ import annotations

import argparse
import asyncio
import fcntl
import logging
import os
import secrets
import signal
import sys
from dataclasses import fields
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import IO, Optional

from stepaudio_protos import __version__
from stepaudio_protos.paths import Paths, check_socket_path, ensure_private_dir
from stepaudio_protos.settings import Settings, SettingsError, load_settings

log = logging.getLogger("stepaudiod")

EXIT_USAGE, EXIT_UNAVAILABLE = 2, 3


def build_parser() -> argparse.ArgumentParser:
    epilog = ["settings (flag > environment > config.toml > default):"]
    parser = argparse.ArgumentParser(prog="stepaudiod", formatter_class=argparse.RawDescriptionHelpFormatter,
                                     description="The stepaudio daemon: serves the stepaudio CLI over a "
                                                 "per-user Unix socket and loads models lazily.")
    parser.add_argument("--version", action="version", version=f"stepaudiod {__version__}")
    parser.add_argument("--log-stderr", action="store_true", help="also log to stderr")
    parser.add_argument("--ready-fd", type=int, default=None, help=argparse.SUPPRESS)  # see notify_ready
    for f in fields(Settings):
        if f.metadata.get("hidden") or f.metadata.get("scope") == "http":  # `stepaudio serve`'s, not ours
            continue
        flag = "--" + f.name.replace("_", "-")
        parser.add_argument(flag, dest=f.name, default=None, help=f.metadata["help"])
        epilog.append(f"  {Settings.env_name(f.name):32s} {flag}")
    parser.epilog = "\n".join(epilog)
    return parser


class LifetimeLock:
    """flock held for the daemon's whole life: the kernel drops it if we die, so it never goes stale."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file: Optional[IO[str]] = None

    def acquire(self) -> bool:
        self.file = open(self.path, "a+")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self.file.seek(0)
        self.file.truncate()
        self.file.write(f"{os.getpid()}\n")
        self.file.flush()
        return True

    def holder(self) -> str:
        try:
            return self.path.read_text().strip()
        except OSError:
            return "?"


def setup_logging(paths: Paths, level: str, to_stderr: bool) -> None:
    paths.log_dir.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(paths.log_file, maxBytes=5 * 1024 * 1024, backupCount=3)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    if to_stderr:
        root.addHandler(logging.StreamHandler(sys.stderr))
    root.setLevel(level.upper())


def write_token(path: Path) -> str:
    token = secrets.token_urlsafe(32)
    tmp = path.with_name(path.name + f".{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token)
    os.replace(tmp, path)
    return token


def notify_ready(fd: Optional[int]) -> None:
    """Tell the CLI that started us that the socket accepts calls: one line on the pipe it passed
    (`--ready-fd`), then close it. The CLI blocks on that pipe instead of polling the socket, so a cold
    `stepaudio status` waits no longer than start-up itself; EOF without the line means we died."""
    if fd is None:
        return
    try:
        os.write(fd, b"ready\n")
    except OSError:
        pass  # the CLI gave up waiting; nothing to tell
    finally:
        os.close(fd)


async def serve(loaded, token: str, ready_fd: Optional[int] = None) -> int:
    import grpc

    from stepaudio_protos.v1 import stepaudio_pb2_grpc as pb_grpc
    from stepaudiod.scheduler import Scheduler
    from stepaudiod.rpc_errors import ErrorInterceptor
    from stepaudiod.server import StepAudioService, TokenInterceptor

    paths = loaded.paths
    stop = asyncio.Event()
    scheduler = Scheduler(loaded)
    server = grpc.aio.server(interceptors=[TokenInterceptor(token), ErrorInterceptor()],
                             options=[("grpc.max_receive_message_length", 16 * 1024 * 1024)])
    service = StepAudioService(scheduler, loaded, paths.socket, stop.set)
    pb_grpc.add_StepAudioServicer_to_server(service, server)
    _remove_stale_socket(paths.socket)
    old_umask = os.umask(0o177)  # the socket file is created 0600
    try:
        server.add_insecure_port(f"unix:{paths.socket}")
        await server.start()
    finally:
        os.umask(old_umask)
    os.chmod(paths.socket, 0o600)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    log.info("stepaudiod %s serving on %s (pid %d)", __version__, paths.socket, os.getpid())
    notify_ready(ready_fd)
    watcher = asyncio.create_task(_idle_watch(scheduler, loaded.settings.idle_shutdown, stop))
    await stop.wait()
    log.info("shutting down")
    watcher.cancel()
    await scheduler.shutdown()
    await server.stop(grace=1.0)
    for path in (paths.socket, paths.token_file):
        _unlink(path)
    log.info("stopped")
    return 0


async def _idle_watch(scheduler, limit: float, stop: asyncio.Event) -> None:
    if limit <= 0:
        return
    while True:
        await asyncio.sleep(min(1.0, max(0.01, limit / 4)))
        if scheduler.idle() and scheduler.idle_for() >= limit:
            log.info("idle for %.0f s with nothing loaded or queued; exiting", limit)
            stop.set()
            return


def _remove_stale_socket(path: Path) -> None:
    # We hold the lifetime lock, so no live daemon owns this file: it is stale.
    _unlink(path)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def main(argv: list[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    to_stderr = args.pop("log_stderr")
    ready_fd = args.pop("ready_fd")
    try:
        loaded = load_settings(flags=args)
    except SettingsError as exc:
        print(f"stepaudiod: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    paths = loaded.paths
    try:
        ensure_private_dir(paths.runtime_dir)
        check_socket_path(paths.socket)
    except (OSError, ValueError) as exc:
        print(f"stepaudiod: error: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    lock = LifetimeLock(paths.daemon_lock)
    if not lock.acquire():
        print(f"stepaudiod: error: another stepaudiod is already running (pid {lock.holder()}) "
              f"for {paths.runtime_dir}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    setup_logging(paths, loaded.settings.log_level, to_stderr)
    token = write_token(paths.token_file)
    return asyncio.run(serve(loaded, token, ready_fd))


if __name__ == "__main__":
    sys.exit(main())
