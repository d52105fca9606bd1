"""The worker process: hosts one engine object for one model variant.

Started by the daemon with spawn/exec (never fork: grpc and CUDA both forbid it):
    python -m stepaudiod.worker_main --fd N --engine module:Class
It talks to the daemon over the socketpair end N (see worker_protocol). It exits by itself when the
daemon dies: EOF on the pipe, and PR_SET_PDEATHSIG on Linux as a second line of defence.

This is the only stepaudiod module that touches the engine, and only through stepaudio_engine.api
types (the engine object satisfies api.Engine). The class is named by the daemon's `engine` setting,
whose default is stepaudio_engine.engine:Engine (protos/stepaudio_protos/settings.py); the indirection
exists for tests, which host tests/fake_engine.py:FakeEngine in a real worker to force faults.
"""
from __future__ import annotations

import argparse
import base64
import ctypes
import importlib
import os
import signal
import socket
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

from stepaudio_protos import __version__
from stepaudiod.worker_protocol import WORKER_PROTOCOL, decode, encode


PROGRESS_INTERVAL_S = 0.1


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL us when the daemon dies (pipe EOF covers the other platforms)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def _load_engine(spec: str):
    """An instance of the engine class `spec` (module:Class) names; it must satisfy api.Engine."""
    module_name, _, class_name = spec.partition(":")
    return getattr(importlib.import_module(module_name), class_name)()


class WorkerLoop:
    """Reads ops from the daemon; runs engine calls one at a time on an executor thread, so cancel
    messages are still read while a job runs."""

    def __init__(self, sock: socket.socket, engine: Any) -> None:
        from stepaudio_engine import api

        self.api = api
        self.sock = sock
        self.engine = engine
        self.send_lock = threading.Lock()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine")
        self.cancels: dict[str, Any] = {}

    def send(self, message: dict[str, Any]) -> None:
        data = encode(message)
        with self.send_lock:
            self.sock.sendall(data)

    def progress_for(self, op_id: str):
        """A ProgressFn that forwards stage changes at once and other updates at most every
        PROGRESS_INTERVAL_S: the engine reports every generated token, and relaying each one through
        daemon and CLI cost the worker about half its CPU on a 2-core machine (benchmarks/batch_throughput.py)."""
        last: dict[str, Any] = {"stage": None, "at": 0.0}
        audio_stage = self.api.AUDIO_STAGE

        def progress(stage: str, fraction: float, detail: dict) -> None:
            if stage == audio_stage:  # audio pieces are never dropped or rate-limited
                self.send({"ev": "audio", "id": op_id, "index": int(detail["index"]), "rate": int(detail["rate"]),
                           "encoding": str(detail["encoding"]), "pcm": base64.b64encode(detail["pcm"]).decode()})
                return
            now = time.monotonic()
            if stage == last["stage"] and fraction < 1.0 and now - last["at"] < PROGRESS_INTERVAL_S:
                return
            last["stage"], last["at"] = stage, now
            self.send({"ev": "progress", "id": op_id, "stage": stage, "fraction": fraction,
                       "detail": detail or {}})
        return progress

    def run_op(self, msg: dict[str, Any]) -> None:
        op_id = msg["id"]
        cancel = self.cancels[op_id]
        try:
            result = self.dispatch(msg, cancel)
            self.send({"ev": "ok", "id": op_id, "result": result})
        except Exception as exc:  # an engine error, or a bug in the engine: report it, keep serving
            self.send({"ev": "error", "id": op_id, **engine_failure(exc)})
        finally:
            self.cancels.pop(op_id, None)

    def dispatch(self, msg: dict[str, Any], cancel: Any) -> dict[str, Any]:
        api, op = self.api, msg["op"]
        progress = self.progress_for(msg["id"])
        if op == "load":
            info = self.engine.load(api.LoadOptions(**msg["options"]), progress)
            return dict(info or {})
        if op in ("clone", "edit"):
            return run_engine_job(self.engine, op, msg["request"], progress, cancel)
        if op == "transcribe":
            return asdict(self.engine.transcribe(api.TranscribeRequest(**msg["request"]), progress, cancel))
        elif op == "offload":
            return dict(self.engine.offload() or {})
        elif op == "resume":
            return dict(self.engine.resume(progress) or {})
        raise ValueError(f"unknown op {op!r}")

    def serve(self) -> None:
        reader = self.sock.makefile("rb")
        for line in reader:
            msg = decode(line)
            if msg["op"] == "exit":
                break
            if msg["op"] == "cancel":
                token = self.cancels.get(msg.get("target", ""))
                if token is not None:
                    token.set()
                continue
            self.cancels[msg["id"]] = self.api.CancelToken()
            self.executor.submit(self.run_op, msg)
        # EOF (the daemon died or closed us) or exit: leave at once, whatever the engine is doing.
        os._exit(0)


def run_engine_job(engine: Any, op: str, request: dict[str, Any], progress: Any, cancel: Any) -> dict[str, Any]:
    """One clone or edit on a loaded engine, its output synced to disk; the result as a dict. The worker
    and the Ray batch actors (stepaudio_ray.actor) both call this, so a seeded job gives the same audio."""
    from stepaudio_engine import api

    if op == "clone":
        result = engine.clone(api.CloneRequest(**request), progress, cancel)
    elif op == "edit":
        result = engine.edit(api.EditRequest(**request), progress, cancel)
    else:
        raise ValueError(f"not a clone or edit: {op!r}")
    _fsync(result.output)
    return asdict(result)


def engine_failure(exc: BaseException) -> dict[str, str]:
    """reason, message and hint of an exception an engine call raised; a bug's traceback goes to stderr
    (the daemon log, or the Ray actor's log) and, shortened, into the message as `trace`."""
    from stepaudio_engine import api

    error = api.error_from_exception(exc)
    failure = {"reason": error.reason.value, "message": error.message, "hint": error.hint}
    if error is not exc:  # not classified by the engine
        trace = traceback.format_exc()
        print(trace, file=sys.stderr, flush=True)
        failure["trace"] = trace[-4000:]
    return failure


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="stepaudiod-worker")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--engine", required=True)
    args = parser.parse_args(argv)
    _die_with_parent()
    if os.getppid() == 1:  # the daemon died before prctl took effect
        os._exit(0)
    # Library prints must not reach the protocol or a terminal: stdout joins stderr, which the daemon keeps.
    os.dup2(2, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the daemon's terminal is the daemon's business
    sock = socket.socket(fileno=args.fd)
    engine = _load_engine(args.engine)
    loop = WorkerLoop(sock, engine)
    loop.send({"ev": "ready", "version": __version__, "protocol": WORKER_PROTOCOL, "pid": os.getpid(),
               "engine": args.engine})
    loop.serve()


if __name__ == "__main__":
    main()
