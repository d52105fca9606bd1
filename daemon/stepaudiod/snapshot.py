"""A point-in-time copy of the scheduler's state for `status` (Scheduler.snapshot()), so the server
translates plain values and never reads the scheduler's internals."""
from __future__ import annotations

from dataclasses import dataclass

from stepaudiod.tiers import Tier


@dataclass(frozen=True)
class VariantSnapshot:
    variant: str
    tier: Tier
    device: str
    worker_pid: int          # 0 when no worker runs
    model_bytes: int
    vram_bytes: int
    folder: str
    load_time_s: float
    jobs_served: int
    idle_s: float            # since the last job ended; 0 while a job runs or when unloaded
    next_tier: str           # "" when no step down is armed
    next_tier_in_s: float    # -1 when no step down is armed
    running_job: str         # job id, "" if none
    keep_alive_s: float
    kernel: str = ""         # what multiplies the LLM weights, "" when unloaded
    bits: int = 0            # bits per LLM decoder weight, 0 when unloaded


@dataclass(frozen=True)
class QueuedSnapshot:
    job_id: str
    kind: str
    variant: str
    position: int            # 1 = next to run
    waited_s: float


@dataclass(frozen=True)
class SchedulerSnapshot:
    variants: list[VariantSnapshot]
    queue: list[QueuedSnapshot]
    idle: bool               # nothing loaded, running or queued
    idle_for_s: float        # seconds idle so far (0 when not idle)
