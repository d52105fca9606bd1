"""Test helpers: a hermetic STEPAUDIO_HOME, the real CLI as a subprocess, daemon inspection."""
from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Callable

import psutil

TESTS_DIR = Path(__file__).resolve().parent


def wait_for(predicate: Callable[[], object], timeout: float = 15.0, interval: float = 0.02, what: str = "") -> object:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")


def process_gone(pid: int) -> bool:
    """True once `pid` has exited (reaped or a zombie). Race-free: the process may vanish between any two
    psutil calls, so there is exactly one call and NoSuchProcess means gone."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def write_wav(path: Path, seconds: float = 1.0, rate: int = 16000) -> Path:
    import math

    n = int(seconds * rate)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(6000 * math.sin(i / 9))) for i in range(n)))
    return path


class StepAudio:
    """One hermetic stepaudio installation: its own STEPAUDIO_HOME, daemon settings and fake engine."""

    def __init__(self, root: Path, engine: str = "fake_engine:FakeEngine", **settings: object) -> None:
        self.root = root
        self.home = root / "h"
        self.work = root / "w"
        self.work.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("STEPAUDIO_", "FAKE_"))}
        self.env.update({"STEPAUDIO_HOME": str(self.home), "STEPAUDIO_ENGINE": engine,
                         "STEPAUDIO_IDLE_SHUTDOWN": "120", "PYTHONUNBUFFERED": "1"})
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS_DIR), self.env.get("PYTHONPATH", "")]))
        self.set(**settings)

    def set(self, **settings: object) -> None:
        for key, value in settings.items():
            name = key if key.startswith("FAKE_") else "STEPAUDIO_" + key.upper()
            self.env[name] = str(value)

    # ---- running the CLI --------------------------------------------------------------------
    def cmd(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "stepaudio_cli.entry", *args]

    def run(self, *args: str, timeout: float = 60, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(self.cmd(*args), env=self.env, capture_output=True, text=True, timeout=timeout,
                              input=input, cwd=self.work)

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.cmd(*args), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=self.work)

    def status(self) -> dict:
        """The daemon's status, starting the daemon first when none runs (`stepaudio status` itself never
        starts one; tests of that call self.run("status") directly)."""
        result = self.run("status", "--json")
        assert result.returncode == 0, result.stderr
        reply = json.loads(result.stdout)
        if reply.get("running") is False:
            started = self.run("daemon", "start")
            assert started.returncode == 0, started.stderr
            return self.status()
        return reply

    def variant(self, name: str = "base") -> dict:
        return next(v for v in self.status()["variants"] if v["variant"] == name)

    def clone_args(self, out: str = "out.wav", text: str = "hello world", *extra: str) -> list[str]:
        ref = self.work / "ref.wav"
        if not ref.exists():
            write_wav(ref)
        return ["clone", str(ref), text, "--ref-text", "a reference", "-o", str(self.work / out), *extra]

    # ---- the daemon process -----------------------------------------------------------------
    @property
    def socket(self) -> Path:
        return self.home / "run" / "stepaudiod.sock"

    def daemon_pids(self) -> list[int]:
        """stepaudiod processes serving this STEPAUDIO_HOME."""
        pids = []
        for proc in psutil.process_iter(["cmdline"]):
            try:
                cmdline = proc.info["cmdline"] or []
                if "stepaudiod.main" in cmdline and proc.environ().get("STEPAUDIO_HOME") == str(self.home):
                    pids.append(proc.pid)
            except psutil.Error:
                continue
        return pids

    def worker_pids(self) -> list[int]:
        pids = []
        for proc in psutil.process_iter(["cmdline"]):
            try:
                if "stepaudiod.worker_main" in (proc.info["cmdline"] or []) and \
                        proc.environ().get("STEPAUDIO_HOME") == str(self.home):
                    pids.append(proc.pid)
            except psutil.Error:
                continue
        return pids

    def stray_files(self) -> list[str]:
        """Temp outputs left behind anywhere in the work dir (must always be empty)."""
        return [p.name for p in self.work.rglob("*") if ".stepaudio-tmp-" in p.name]

    def shutdown(self) -> None:
        for pid in self.daemon_pids():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            wait_for(lambda: not self.daemon_pids(), timeout=10, what="daemon exit")
        except AssertionError:
            for pid in self.daemon_pids():
                os.kill(pid, signal.SIGKILL)
        for pid in self.worker_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def short_tmp() -> Path:
    # Unix socket paths must be short (sun_path): pytest's tmp_path can be too long.
    return Path(tempfile.mkdtemp(prefix="sa-", dir="/tmp"))


def cleanup(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
