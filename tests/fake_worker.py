"""An in-process stand-in for stepaudiod.worker_runner.WorkerProcess, injected into the Scheduler
through its worker_factory (as ollama tests its scheduler with a mock runner), so tiers, keep-alive,
LRU and the queue are tested with millisecond timers and without processes.

Jobs whose text contains "[[hold]]" run until the test calls worker.release(); "[[crash]]" makes the
worker die mid-job; FakeWorkers.fail_load = DaemonError(...) makes the next load fail.
"""
from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any, Optional

from stepaudio_protos.errors import Reason
from stepaudiod.errors import DaemonError
from stepaudiod.jobs import Audio, Progress
from stepaudiod.worker_runner import WorkerSpec

_pids = itertools.count(90001)


class FakeWorker:
    def __init__(self, spec: WorkerSpec, owner: "FakeWorkers") -> None:
        self.spec = spec
        self.owner = owner
        self.pid = next(_pids)
        self.ops: list[str] = []
        self.exited = asyncio.Event()
        self.running = asyncio.Event()     # set while a job op runs
        self._release = asyncio.Event()
        self._cancelled = False
        self.killed_on_purpose = False

    # ---- the WorkerProcess interface the scheduler uses ---------------------------------------
    async def start(self, timeout: float) -> dict[str, Any]:
        return {"ev": "ready"}

    async def request(self, op: str, payload: dict[str, Any], progress=None,
                      stall_timeout: Optional[float] = None, audio=None, stall_reason=None) -> dict[str, Any]:
        if not self.alive:
            raise self.crash_error()
        self.ops.append(op)
        if op == "load":
            if self.owner.fail_load is not None:
                error, self.owner.fail_load = self.owner.fail_load, None
                raise error
            if progress is not None:
                progress(Progress("weights", 1.0))
            return {"device": "cpu", "model_bytes": 1234, "folder": payload["options"]["models_dir"]}
        if op in ("offload", "resume"):
            return {"device": "cpu"}
        return await self._job(op, payload["request"], progress, audio)

    def cancel(self) -> None:
        self._cancelled = True
        self._release.set()

    async def stop(self, grace: float = 5.0) -> None:
        self.killed_on_purpose = True
        self.exited.set()

    async def kill(self) -> None:
        await self.stop()

    @property
    def alive(self) -> bool:
        return not self.exited.is_set()

    def crash_error(self) -> DaemonError:
        return DaemonError(Reason.WORKER_CRASHED, f"the model worker (pid {self.pid}) was killed by SIGKILL")

    def tail_text(self) -> str:
        return ""

    # ---- test controls ------------------------------------------------------------------------
    def release(self) -> None:
        """Let a held job finish."""
        self._release.set()

    async def _job(self, op: str, request: dict[str, Any], progress, audio) -> dict[str, Any]:
        text = str(request.get("text", ""))
        self._cancelled = False
        self._release.clear()
        self.running.set()
        try:
            if progress is not None:
                progress(Progress("generating", 0.5, tokens=4))
            if "[[crash]]" in text:
                self.exited.set()
                raise self.crash_error()
            if "[[hold]]" in text:
                await self._release.wait()
            if self._cancelled:
                raise DaemonError(Reason.CANCELLED, "cancelled")
            if request.get("stream") and audio is not None:
                for index in range(2):
                    audio(Audio(index, 24000, "s16le", b"\x01\x00" * 4))
        finally:
            self.running.clear()
        if op == "transcribe":
            return {"output": "", "report": {"transcript": "fake"}}
        Path(request["output"]).write_bytes(b"RIFF fake")
        return {"output": request["output"], "sample_rate": 24000, "duration_s": 1.0, "timings": {"generate": 0.001},
                "options": {"seed": request.get("seed")}, "notes": [], "report": {},
                "prompt_cache_hits": 1, "prompt_cache_misses": 0}


class FakeWorkers:
    """The worker_factory: remembers every worker it made."""

    def __init__(self) -> None:
        self.made: list[FakeWorker] = []
        self.fail_load: Optional[DaemonError] = None

    def __call__(self, spec: WorkerSpec) -> FakeWorker:
        worker = FakeWorker(spec, self)
        self.made.append(worker)
        return worker

    def of(self, variant: str) -> list[FakeWorker]:
        return [w for w in self.made if w.spec.variant == variant]
