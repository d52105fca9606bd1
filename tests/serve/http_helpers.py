"""`stepaudio serve` as a subprocess on 127.0.0.1 and a free port, for tests."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from typing import Optional

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HttpServer:
    """One `stepaudio serve` process for a hermetic installation (`sa` or `real`)."""

    def __init__(self, inst, *args: str, env: Optional[dict[str, str]] = None, api_key: str = "",
                 global_args: tuple[str, ...] = ()) -> None:
        self.inst = inst
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_key = api_key
        full_env = dict(inst.env, **(env or {}))
        if api_key:
            full_env["STEPAUDIO_API_KEY"] = api_key
        self.log = open(inst.root / f"serve-{self.port}.log", "w+")
        if "--ui" not in args:
            args = (*args, "--no-ui")  # the API's tests: no Gradio import (seconds per start); tests/web has the UI
        self.proc = subprocess.Popen(inst.cmd(*global_args, "serve", "--port", str(self.port), "--log-level", "warning",
                                              *args),
                                     env=full_env, stdout=self.log, stderr=subprocess.STDOUT, cwd=inst.work)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"stepaudio serve exited ({self.proc.returncode}): {self.output()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"stepaudio serve did not answer within {timeout} s: {self.output()}")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def client(self, **kw) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=kw.pop("timeout", 300.0), **kw)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
