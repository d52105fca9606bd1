"""Daemon side of one worker process: spawn, handshake, requests with progress, cancel, kill, crash.

One WorkerProcess serves one variant and runs one request at a time (the scheduler guarantees it).
A crash (OOM kill, segfault, SIGKILL) fails the request in flight with the tail of the worker's
stderr; the scheduler then forgets the worker and the next job starts a fresh one.
"""
from __future__ import annotations

from stepaudio_protos.errors import Reason

import asyncio
import base64
import collections
import itertools
import logging
import os
import signal
import socket
import sys
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Optional

from stepaudio_protos import __version__
from stepaudiod.errors import DaemonError
from stepaudiod.jobs import Audio, Progress
from stepaudiod.worker_protocol import MAX_LINE, WORKER_PROTOCOL, decode, encode

log = logging.getLogger(__name__)

STDERR_TAIL_BYTES = 8192  # as ollama does: the last 8 KiB of the child's stderr go into the error
ProgressCb = Callable[[Progress], Awaitable[None] | None]
AudioCb = Callable[[Audio], None]   # the audio pieces of a streamed job
STDERR_DRAIN_S = 2.0  # a grandchild that inherited the worker's stderr may hold it open: wait no longer


@dataclass
class WorkerSpec:
    variant: str
    engine: str                 # module:Class the worker hosts
    env: dict[str, str]


class WorkerProcess:
    _ids = itertools.count(1)

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.proc: Optional[asyncio.subprocess.Process] = None
        self.pid = 0
        self.stderr_tail: collections.deque[bytes] = collections.deque()
        self._tail_size = 0
        self._lines_seen = 0   # stderr lines ever read; _mark = the count when the current op began
        self._mark = 0
        self._writer: Optional[asyncio.StreamWriter] = None
        self._pending: dict[str, asyncio.Queue] = {}
        self._ready: asyncio.Future = asyncio.get_running_loop().create_future()
        self._tasks: list[asyncio.Task] = []
        self.exited = asyncio.Event()
        self.killed_on_purpose = False

    # ---- life cycle -------------------------------------------------------------------------
    async def start(self, timeout: float) -> dict[str, Any]:
        """Spawn the worker (exec, never fork) and wait for its ready message."""
        parent, child = socket.socketpair()
        cmd = [sys.executable, "-m", "stepaudiod.worker_main", "--fd", str(child.fileno()),
               "--engine", self.spec.engine]
        env = {**os.environ, **self.spec.env}
        self.proc = await asyncio.create_subprocess_exec(
            *cmd, pass_fds=(child.fileno(),), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env)
        child.close()
        self.pid = self.proc.pid
        reader, self._writer = await asyncio.open_unix_connection(sock=parent, limit=MAX_LINE)
        self._stderr_task = asyncio.create_task(self._read_stderr())
        self._tasks = [asyncio.create_task(self._read_events(reader)), self._stderr_task,
                       asyncio.create_task(self._wait_exit())]
        try:
            ready = await asyncio.wait_for(asyncio.shield(self._ready), timeout)
        except asyncio.TimeoutError:
            await self.kill()
            raise DaemonError(Reason.LOAD_STALLED, f"the worker did not start within {timeout:.0f} s",
                              self.tail_hint()) from None
        if ready.get("protocol") != WORKER_PROTOCOL or ready.get("version") != __version__:
            await self.kill()
            raise DaemonError(Reason.INTERNAL, f"worker speaks protocol {ready.get('protocol')} / version "
                              f"{ready.get('version')}, daemon expects {WORKER_PROTOCOL} / {__version__}",
                              "reinstall stepaudio so the daemon and worker match")
        log.info("worker %s for %s started (pid %d)", self.spec.engine, self.spec.variant, self.pid)
        return ready

    async def stop(self, grace: float = 5.0) -> None:
        """Ask the worker to exit; SIGKILL it after `grace` seconds."""
        if self.exited.is_set():
            return
        self.killed_on_purpose = True
        try:
            self._send({"op": "exit"})
        except (ConnectionError, RuntimeError):
            pass
        try:
            await asyncio.wait_for(self.exited.wait(), grace)
        except asyncio.TimeoutError:
            await self.kill()

    async def kill(self) -> None:
        self.killed_on_purpose = True
        if self.proc is not None and self.proc.returncode is None:
            try:
                self.proc.send_signal(signal.SIGKILL)
            except ProcessLookupError:
                pass
        await self.exited.wait()

    @property
    def alive(self) -> bool:
        return not self.exited.is_set()

    # ---- requests ---------------------------------------------------------------------------
    async def request(self, op: str, payload: dict[str, Any], progress: Optional[ProgressCb] = None,
                      stall_timeout: Optional[float] = None, audio: Optional[AudioCb] = None,
                      stall_reason: Reason = Reason.LOAD_STALLED) -> dict[str, Any]:
        """Send one op and wait for its ok/error; relay progress. A stall (no message for
        `stall_timeout` s) kills the worker and fails with `stall_reason`: the stall timer resets on every
        message (progress, audio). A hint shows only the worker output written during this op."""
        op_id = f"{op}-{next(self._ids)}"
        self._mark = self._lines_seen
        queue: asyncio.Queue = asyncio.Queue()
        self._pending[op_id] = queue
        try:
            self._send({"op": op, "id": op_id, **payload})
            while True:
                try:
                    msg = await asyncio.wait_for(queue.get(), stall_timeout)
                except asyncio.TimeoutError:
                    await self.kill()
                    what = "loading" if stall_reason is Reason.LOAD_STALLED else "the job"
                    setting = "load_stall_timeout" if stall_reason is Reason.LOAD_STALLED else "job_stall_timeout"
                    raise DaemonError(stall_reason, f"{op}: {what} made no progress for {stall_timeout:.0f} s "
                                      f"({setting}); the worker (pid {self.pid}) was stopped",
                                      self.tail_hint() or stall_reason.hint) from None
                if msg["ev"] == "progress" and progress is not None:
                    maybe = progress(_progress(msg))
                    if asyncio.iscoroutine(maybe):
                        await maybe
                elif msg["ev"] == "audio" and audio is not None:
                    audio(_audio(msg))
                elif msg["ev"] == "ok":
                    return msg.get("result") or {}
                elif msg["ev"] == "error":
                    raise DaemonError(msg["reason"], msg["message"], msg.get("hint", ""))
                elif msg["ev"] == "exited":
                    raise self.crash_error()
        finally:
            self._pending.pop(op_id, None)

    def cancel(self, op_prefix: str = "") -> None:
        """Ask the engine to stop the running op between steps (all pending ops)."""
        for op_id in list(self._pending):
            try:
                self._send({"op": "cancel", "target": op_id})
            except (ConnectionError, RuntimeError):
                pass

    def crash_error(self) -> DaemonError:
        code = self.proc.returncode if self.proc else None
        how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
        if code is not None and code < 0:
            try:
                how = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                pass
        return DaemonError(Reason.WORKER_CRASHED, f"the model worker (pid {self.pid}) {how}", self.tail_hint())

    def tail_text(self) -> str:
        return b"".join(self.stderr_tail).decode("utf-8", "replace").strip()

    def tail_hint(self) -> str:
        """The worker's last stderr lines written since the current op began (an earlier job's warnings
        are no explanation of this failure)."""
        fresh = min(len(self.stderr_tail), self._lines_seen - self._mark)
        recent = list(self.stderr_tail)[len(self.stderr_tail) - fresh:] if fresh > 0 else []
        tail = b"".join(recent).decode("utf-8", "replace").strip()
        if not tail:
            return ""
        lines = tail.splitlines()[-12:]
        return "last worker output:\n    " + "\n    ".join(lines)

    # ---- internals --------------------------------------------------------------------------
    def _send(self, message: dict[str, Any]) -> None:
        if self._writer is None or self._writer.is_closing() or self.exited.is_set():
            raise ConnectionError("worker is gone")
        self._writer.write(encode(message))

    async def _read_events(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                msg = decode(line)
                if msg.get("ev") == "ready":
                    if not self._ready.done():
                        self._ready.set_result(msg)
                    continue
                queue = self._pending.get(msg.get("id", ""))
                if queue is not None:
                    queue.put_nowait(msg)
        except (ValueError, asyncio.LimitOverrunError, ConnectionError) as exc:
            if self.killed_on_purpose and isinstance(exc, ConnectionError):
                return  # we killed it: its socket closing is no news
            log.error("bad message from worker %d: %s; killing it", self.pid, exc)
            if self.proc and self.proc.returncode is None:
                self.proc.send_signal(signal.SIGKILL)

    async def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        wlog = logging.getLogger("stepaudiod.worker." + self.spec.variant)
        while True:
            line = await self.proc.stderr.readline()
            if not line:
                return
            self.stderr_tail.append(line)
            self._lines_seen += 1
            self._tail_size += len(line)
            while self._tail_size > STDERR_TAIL_BYTES and len(self.stderr_tail) > 1:
                self._tail_size -= len(self.stderr_tail.popleft())
            wlog.info("%s", line.decode("utf-8", "replace").rstrip())

    async def _wait_exit(self) -> None:
        assert self.proc is not None
        await self.proc.wait()
        # let the stderr reader drain so the crash message carries the last words
        await asyncio.wait([self._stderr_task], timeout=STDERR_DRAIN_S)
        self.exited.set()
        if self._writer is not None:
            self._writer.close()
        if not self._ready.done():
            self._ready.set_exception(self.crash_error())
            self._ready.exception()  # mark retrieved
        for queue in self._pending.values():
            queue.put_nowait({"ev": "exited"})
        log.log(logging.INFO if self.killed_on_purpose else logging.ERROR,
                "worker %d for %s exited (code %s)", self.pid, self.spec.variant, self.proc.returncode)


def _progress(msg: dict[str, Any]) -> Progress:
    """A worker progress message ({stage, fraction, detail: {tokens?, text?}}) as a typed event."""
    detail = msg.get("detail") or {}
    return Progress(stage=str(msg["stage"]), fraction=float(msg["fraction"]), tokens=int(detail.get("tokens") or 0),
                    detail=str(detail.get("text") or ""))


def _audio(msg: dict[str, Any]) -> Audio:
    """A worker audio message ({index, rate, encoding, pcm: base64}) as a typed event."""
    return Audio(index=int(msg["index"]), rate=int(msg["rate"]), encoding=str(msg["encoding"]),
                 pcm=base64.b64decode(msg["pcm"]))
