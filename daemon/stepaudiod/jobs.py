"""Jobs as the scheduler sees them, the events it streams back to the client, and the typed results
the worker's replies become.

Events and results are dataclasses (Queued | Progress | Audio | Done | Failed) so the scheduler stays
free of protobuf; server.py translates them. Worker replies are JSON objects; they become LoadInfo and
JobResult here, in one place, with defaults for keys an engine leaves out.
"""
from __future__ import annotations

import asyncio
import itertools
import os
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Optional, Union

from stepaudio_protos.errors import Reason

_counter = itertools.count(1)


def new_job_id() -> str:
    # unique within this daemon, and across daemons for temp-file names
    return f"{os.getpid():x}-{next(_counter)}"


@dataclass(frozen=True)
class LoadInfo:
    """What the engine reports after load, offload and resume."""

    device: str = ""
    model_bytes: int = 0
    vram_bytes: int = 0
    folder: str = ""
    kernel: str = ""          # what multiplies the LLM weights (after a load; "" after offload/resume)
    bits: int = 0             # bits per LLM decoder weight

    @classmethod
    def from_worker(cls, data: dict[str, Any]) -> "LoadInfo":
        return cls(device=str(data.get("device") or ""), model_bytes=int(data.get("model_bytes") or 0),
                   vram_bytes=int(data.get("vram_bytes") or 0), folder=str(data.get("folder") or ""),
                   kernel=str(data.get("llm_kernel") or ""), bits=int(data.get("llm_bits") or 0))


@dataclass
class JobResult:
    """A finished job: the engine's EngineResult as the worker sent it, plus what the daemon adds
    (the final output path, queue/load timings, the variant)."""

    output: str = ""
    sample_rate: int = 0
    duration_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    prompt_cache_hits: int = 0
    prompt_cache_misses: int = 0

    @classmethod
    def from_worker(cls, data: dict[str, Any]) -> "JobResult":
        known = {f.name for f in fields(cls)}
        result = cls(**{k: v for k, v in data.items() if k in known and v is not None})
        result.timings = {k: float(v) for k, v in result.timings.items()}
        return result


@dataclass(frozen=True)
class Queued:
    position: int                      # 1 = next to run; 0 = started


@dataclass(frozen=True)
class Progress:
    stage: str
    fraction: float                    # 0..1, or -1 when unknown
    tokens: int = 0
    detail: str = ""


@dataclass(frozen=True)
class Audio:
    """A piece of a streamed job's audio (requests with stream_audio), in order."""

    index: int
    rate: int
    encoding: str                      # s16le | f32le
    pcm: bytes


@dataclass(frozen=True)
class Done:
    result: JobResult


@dataclass(frozen=True)
class Failed:
    reason: Reason
    message: str
    hint: str = ""


JobEvent = Union[Queued, Progress, Audio, Done, Failed]


@dataclass
class Job:
    kind: str                          # clone | edit | transcribe | load
    variant: str
    payload: dict[str, Any]            # the engine request without its output path
    target: Optional[Path] = None      # final output file (None for load and transcribe)
    force: bool = False
    keep_alive: Optional[float] = None  # seconds, already capped; None = the daemon's keep_alive
    id: str = field(default_factory=new_job_id)
    created: float = field(default_factory=time.monotonic)
    started: float = 0.0
    state: str = "queued"              # queued | running | done | failed | cancelled
    cancel_requested: bool = False
    cancel_reason: tuple[Reason, str] = (Reason.CANCELLED, "cancelled")  # (reason, message) the job fails with
    position: int = 0
    first_audio: float = 0.0           # monotonic time the first streamed audio piece arrived (0 = none yet)
    events: "asyncio.Queue[JobEvent]" = field(default_factory=asyncio.Queue)
    failure: str = ""                  # "REASON: message" once failed (for the daemon's one log line per job)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    def emit(self, event: JobEvent) -> None:
        self.events.put_nowait(event)

    def finish(self, result: JobResult) -> None:
        self.state = "done"
        self.emit(Done(result))

    def fail(self, reason: Reason, message: str, hint: str = "") -> None:
        self.state = "cancelled" if reason == Reason.CANCELLED else "failed"
        self.failure = f"{Reason.parse(reason).value}: {message}"
        self.emit(Failed(Reason.parse(reason), message, hint or Reason.parse(reason).hint))
