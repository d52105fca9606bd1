"""Jobs as the scheduler sees them, and the events it streams back to the client.

Events are plain dicts here (type = queued | progress | audio | done | failed) so the scheduler stays free of
protobuf; server.py translates them.
"""
from __future__ import annotations

from stepaudio_protos.errors import Reason

import asyncio
import itertools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

_counter = itertools.count(1)


def new_job_id() -> str:
    # unique within this daemon, and across daemons for temp-file names
    return f"{os.getpid():x}-{next(_counter)}"


@dataclass
class Job:
    kind: str                          # clone | edit | load
    variant: str
    payload: dict[str, Any]            # the engine request without its output path
    target: Optional[Path] = None      # final output file (None for load)
    force: bool = False
    keep_alive: Optional[float] = None  # seconds, already capped; None = the daemon's keep_alive
    id: str = field(default_factory=new_job_id)
    created: float = field(default_factory=time.monotonic)
    started: float = 0.0
    state: str = "queued"              # queued | running | done | failed | cancelled
    cancel_requested: bool = False
    cancel_reason: tuple[Reason, str] = (Reason.CANCELLED, "cancelled")  # (reason code, message) the job fails with
    position: int = 0
    first_audio: float = 0.0           # monotonic time the first streamed audio piece arrived (0 = none yet)
    events: asyncio.Queue = field(default_factory=asyncio.Queue)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    def emit(self, type_: str, **data: Any) -> None:
        self.events.put_nowait({"type": type_, **data})

    def fail(self, reason: Reason, message: str, hint: str = "") -> None:
        self.state = "cancelled" if reason == Reason.CANCELLED else "failed"
        self.emit("failed", reason=reason, message=message, hint=hint)
