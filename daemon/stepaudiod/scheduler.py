"""The lazy, tiered model manager: a bounded FIFO queue, one job at a time per variant worker,
keep-alive timers and the tiers loaded → offloaded (CPU RAM) → unloaded (DESIGN.md §2, §5).

Rules:
- keep-alive counts from the end of the last job, never while a job runs; each job sets it: its
  request's keep-alive (capped by keep_alive_max) or, without one, the daemon's keep_alive (as Ollama:
  a one-off `--keep-alive 0` must not unload every later job's model); 0 = unload after this job
  unless more jobs for the variant are queued; negative = keep until unloaded by hand.
- offload_after (if shorter than keep-alive) moves an idle variant's weights to CPU RAM first.
- at most max_loaded variants have a worker; the least recently used idle one makes room.
- a worker crash fails only the job in flight; the variant goes back to unloaded.
"""
from __future__ import annotations

from stepaudio_protos.errors import Reason

import asyncio
import collections
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from stepaudiod import outputs
from stepaudiod.cache_stats import CacheStats
from stepaudiod.errors import DaemonError
from stepaudiod.jobs import Audio, Job, JobResult, LoadInfo, Progress, Queued
from stepaudiod.snapshot import QueuedSnapshot, SchedulerSnapshot, VariantSnapshot
from stepaudiod.tiers import Tier
from stepaudio_protos import validate
from stepaudio_protos.facts import VARIANTS
from stepaudio_protos.settings import LoadedSettings
from stepaudiod.worker_runner import WorkerProcess, WorkerSpec

log = logging.getLogger(__name__)


@dataclass
class Slot:
    """One model variant: its worker, tier and timers."""

    variant: str
    keep_alive: float
    tier: Tier = Tier.UNLOADED
    worker: Optional[WorkerProcess] = None
    device: str = ""
    model_bytes: int = 0
    vram_bytes: int = 0
    folder: str = ""
    kernel: str = ""                  # what multiplies the LLM weights (engine load info)
    bits: int = 0
    load_time: float = 0.0
    jobs_served: int = 0
    last_end: float = field(default_factory=time.monotonic)
    running: Optional[Job] = None
    timer: Optional[asyncio.Task] = None
    next_tier: Optional[Tier] = None   # the step down armed by the idle timer
    next_at: float = 0.0
    pending: str = ""                 # "unload" | "offload" requested while a job ran

    def reset(self) -> None:
        self.tier, self.worker, self.device, self.model_bytes, self.vram_bytes = Tier.UNLOADED, None, "", 0, 0
        self.kernel, self.bits = "", 0
        self.next_tier, self.next_at, self.pending = None, 0.0, ""

    def take(self, info: LoadInfo) -> None:
        """Record what the engine reported after load, offload or resume."""
        self.device, self.vram_bytes = info.device or self.device, info.vram_bytes
        if info.model_bytes:
            self.model_bytes, self.folder = info.model_bytes, info.folder
        if info.kernel:
            self.kernel, self.bits = info.kernel, info.bits

    def snapshot(self, now: float) -> VariantSnapshot:
        alive = self.worker is not None and self.worker.alive
        return VariantSnapshot(
            variant=self.variant, tier=self.tier, device=self.device,
            worker_pid=self.worker.pid if alive else 0,  # type: ignore[union-attr]
            model_bytes=self.model_bytes, vram_bytes=self.vram_bytes, folder=self.folder,
            load_time_s=self.load_time, jobs_served=self.jobs_served,
            idle_s=0.0 if self.running or self.tier is Tier.UNLOADED else now - self.last_end,
            next_tier=self.next_tier.value if self.next_tier else "",
            next_tier_in_s=max(0.0, self.next_at - now) if self.next_tier else -1.0,
            running_job=self.running.id if self.running else "", keep_alive_s=self.keep_alive,
            kernel=self.kernel, bits=self.bits)


class Scheduler:
    def __init__(self, loaded: LoadedSettings,
                 worker_factory: Callable[[WorkerSpec], WorkerProcess] = WorkerProcess) -> None:
        self.loaded = loaded
        self.settings = loaded.settings
        self.worker_factory = worker_factory
        self.queue: collections.deque[Job] = collections.deque()
        self.slots = {v: Slot(v, self.settings.keep_alive) for v in VARIANTS}
        self.tasks: set[asyncio.Task] = set()
        self.job_tasks: set[asyncio.Task] = set()  # the _run tasks (a subset of tasks)
        self.idle_since = time.monotonic()
        self.closing = False
        self.cache = CacheStats(loaded.paths.prompt_cache_dir, self.settings.cache_max_mb * 1024 * 1024)
        self.pending = outputs.Pending(loaded.paths.pending_dir)
        self.pending.sweep()  # temp outputs of a daemon that was killed mid-job
        self.sweep_scratch()

    # ---- public API used by the server ------------------------------------------------------
    def cap_keep_alive(self, requested: Optional[float]) -> Optional[float]:
        if requested is None:
            return None
        try:  # NaN compares false with everything: the slot would never unload; inf is no time either
            requested = validate.keep_alive(requested, "keep-alive")
        except validate.Invalid as exc:
            raise DaemonError(Reason.BAD_INPUT, exc.message, exc.hint) from None
        ceiling = self.settings.keep_alive_max
        if ceiling >= 0 and (requested < 0 or requested > ceiling):
            return ceiling
        return requested

    def submit(self, job: Job) -> None:
        if self.closing:
            raise DaemonError(Reason.SHUTTING_DOWN, "the daemon is shutting down")
        if len(self.queue) >= self.settings.queue_size:
            raise DaemonError(Reason.BUSY, f"the queue is full ({self.settings.queue_size} jobs waiting)")
        self.queue.append(job)
        job.position = len(self.queue)
        self._dispatch()
        if job in self.queue:  # it has to wait: tell the client where it stands
            job.emit(Queued(job.position))

    def cancel(self, job: Job, why: tuple[Reason, str] = (Reason.CANCELLED, "cancelled")) -> str:
        """Drop a queued job or stop a running one, which then fails with `why` (reason code, message);
        returns dropped | stopping | finished."""
        if job.finished:
            return "finished"
        job.cancel_requested, job.cancel_reason = True, why
        if job in self.queue:
            self.queue.remove(job)
            job.fail(Reason.CANCELLED, "cancelled while queued")
            self._update_positions()
            self._mark_activity()
            return "dropped"
        slot = self.slots[job.variant]
        if slot.running is job and slot.worker is not None:
            slot.worker.cancel()
            self._spawn(self._kill_after_grace(job, slot.worker))
        return "stopping"

    def find(self, job_id: str) -> Optional[Job]:
        for job in self.queue:
            if job.id == job_id:
                return job
        for slot in self.slots.values():
            if slot.running is not None and slot.running.id == job_id:
                return slot.running
        return None

    async def unload(self, variants: list[str], to_cpu: bool,
                     force: bool = False) -> tuple[list[str], list[str], list[str]]:
        """(unloaded, offloaded, deferred). A busy variant is deferred until its job ends, or with `force`
        (and not to_cpu) its worker is killed now and its job fails with UNLOADED."""
        unloaded, offloaded, deferred = [], [], []
        for variant in variants:
            slot = self.slots[variant]
            if (slot.running is not None or slot.tier is Tier.LOADING) and force and not to_cpu:
                await self._force_unload(slot)
                unloaded.append(variant)
            elif slot.running is not None or slot.tier is Tier.LOADING:
                slot.pending = "offload" if to_cpu else "unload"
                deferred.append(variant)
            elif slot.tier.warm:
                if to_cpu:
                    if slot.tier is Tier.LOADED:
                        await self._offload(slot)
                    offloaded.append(variant)
                    self._arm(slot)
                else:
                    await self._unload(slot)
                    unloaded.append(variant)
        self._mark_activity()
        return unloaded, offloaded, deferred

    async def _force_unload(self, slot: Slot) -> None:
        job, worker = slot.running, slot.worker
        if job is not None and not job.finished:
            job.cancel_requested = True
            job.cancel_reason = (Reason.UNLOADED, "unloaded by request (stepaudio unload --force)")
        if worker is not None:
            log.warning("unload --force: killing worker %d of %s%s", worker.pid, slot.variant,
                        f" (job {job.id} fails)" if job is not None else "")
            await worker.kill()
        # the job's own task notices the dead worker, fails the job and resets the slot
        for _ in range(500):
            if job is None or job.finished or slot.running is not job:
                break
            await asyncio.sleep(0.01)
        if slot.running is None and slot.tier is not Tier.UNLOADED:
            self._cancel_timer(slot)
            slot.reset()
        log.info("%s unloaded by request (forced)", slot.variant)

    def idle(self) -> bool:
        return not self.queue and all(s.tier is Tier.UNLOADED and s.running is None for s in self.slots.values())

    def has_jobs(self) -> bool:
        """A job is queued or running (loading a model for one counts)."""
        return bool(self.queue) or any(s.running is not None for s in self.slots.values())

    def idle_for(self) -> float:
        return time.monotonic() - self.idle_since if self.idle() else 0.0

    def snapshot(self) -> SchedulerSnapshot:
        """Everything `status` shows, copied at one instant."""
        now = time.monotonic()
        return SchedulerSnapshot(
            variants=[slot.snapshot(now) for slot in self.slots.values()],
            queue=[QueuedSnapshot(j.id, j.kind, j.variant, i, now - j.created) for i, j in enumerate(self.queue, 1)],
            idle=self.idle(), idle_for_s=self.idle_for())

    async def shutdown(self) -> None:
        self.closing = True
        while self.queue:
            self.queue.popleft().fail(Reason.SHUTTING_DOWN, "the daemon is shutting down")
        for slot in self.slots.values():
            if slot.running is not None:
                self.cancel(slot.running, (Reason.SHUTTING_DOWN, "the daemon was stopped before the job finished"))
        for slot in self.slots.values():
            if slot.worker is not None:
                await slot.worker.stop(self.settings.cancel_grace)
            slot.reset()
        if self.job_tasks:  # their workers are gone: let them report SHUTTING_DOWN before the loop ends
            await asyncio.wait(set(self.job_tasks), timeout=self.settings.cancel_grace)
        for task in list(self.tasks):
            task.cancel()

    # ---- dispatch ---------------------------------------------------------------------------
    def _dispatch(self) -> None:
        started = False
        for job in list(self.queue):
            slot = self.slots[job.variant]
            if slot.running is not None or slot.tier is Tier.UNLOADING:
                continue
            if slot.tier is Tier.UNLOADED and not self._room_for(slot):
                continue
            self.queue.remove(job)
            slot.running = job           # claim the slot before the task starts
            self._cancel_timer(slot)
            task = self._spawn(self._run(job, slot))
            self.job_tasks.add(task)
            task.add_done_callback(self.job_tasks.discard)
            started = True
        if started:
            self._update_positions()

    def _room_for(self, slot: Slot) -> bool:
        others = [s for s in self.slots.values() if s is not slot and s.tier is not Tier.UNLOADED]
        if len(others) < self.settings.max_loaded:
            return True
        return any(s.running is None and s.tier.warm for s in others)

    def _update_positions(self) -> None:
        for index, job in enumerate(self.queue, start=1):
            if job.position != index:
                job.position = index
                job.emit(Queued(index))

    # ---- running a job ----------------------------------------------------------------------
    async def _run(self, job: Job, slot: Slot) -> None:
        job.state, job.started = "running", time.monotonic()
        job.emit(Queued(0))
        timings = {"queued": job.started - job.created}
        temp = None
        try:
            if job.cancel_requested:
                raise DaemonError(*job.cancel_reason)
            load_s = await self._ensure_loaded(slot, job)
            if load_s:
                timings["load"] = load_s
            if job.cancel_requested:  # cancelled while loading: engines do not interrupt a load
                raise DaemonError(*job.cancel_reason)
            result = JobResult()
            if job.kind == "transcribe":
                result = JobResult.from_worker(await slot.worker.request(  # type: ignore[union-attr]
                    job.kind, {"request": job.payload}, progress=self._relay(job), **self._job_stall()))
                slot.jobs_served += 1
            elif job.kind != "load":
                assert job.target is not None
                temp = outputs.temp_path_for(job.target, job.id)
                self.pending.add(job.id, temp)
                request = {**job.payload, "output": str(temp)}
                sent = time.monotonic()
                result = JobResult.from_worker(await slot.worker.request(  # type: ignore[union-attr]
                    job.kind, {"request": request}, progress=self._relay(job), audio=self._relay_audio(job),
                    **self._job_stall()))
                _rebase_first_audio(result, job, sent)
                outputs.commit(temp, job.target, job.force)
                result.output = str(job.target)
                slot.jobs_served += 1
                self.cache.record(result.prompt_cache_hits, result.prompt_cache_misses)
            timings.update(result.timings)
            timings["total"] = time.monotonic() - job.created
            result.timings = timings
            result.options["variant"] = slot.variant
            job.finish(result)
        except DaemonError as exc:
            if job.cancel_requested:
                job.fail(*job.cancel_reason, "")
            else:
                job.fail(exc.reason, exc.message, exc.hint)
        except Exception as exc:  # a daemon bug must fail the job, not the daemon
            log.exception("job %s failed unexpectedly", job.id)
            job.fail(Reason.INTERNAL, f"{type(exc).__name__}: {exc}")
        finally:
            if temp is not None:
                outputs.discard(temp)
                self.pending.remove(job.id)
            if slot.worker is not None and not slot.worker.alive:
                slot.reset()
            slot.running = None
            slot.last_end = time.monotonic()
            # one line per job, whatever its end: id, kind, variant, seconds (queued included), result
            log.info("job %s %s %s %.2f s %s", job.id, job.kind, slot.variant, slot.last_end - job.created,
                     job.state + (f" ({job.failure})" if job.failure else ""))
            slot.keep_alive = self.settings.keep_alive if job.keep_alive is None else job.keep_alive
            self._arm(slot)
            self._mark_activity()
            self._dispatch()
            self.sweep_scratch()  # a CLI killed during its job leaves its stdin copy: remove it now

    def sweep_scratch(self) -> None:
        removed = outputs.sweep_scratch(self.loaded.paths.runtime_dir)
        if removed:
            log.info("removed stdin/stdout copies of CLIs that are gone: %s", ", ".join(removed))

    def _job_stall(self) -> dict:
        """The stall watchdog of a running job: no message from its worker for job_stall_timeout seconds
        (a SIGSTOPped or deadlocked worker) kills the worker and fails the job, so the queue moves on."""
        limit = self.settings.job_stall_timeout
        return {"stall_timeout": limit if limit > 0 else None, "stall_reason": Reason.JOB_STALLED}

    def _relay(self, job: Job):
        return job.emit

    def _relay_audio(self, job: Job):
        """A streamed job's audio pieces go into its event stream as they come (DESIGN.md §9 Streaming)."""
        def relay(piece: Audio) -> None:
            if not job.first_audio:
                job.first_audio = time.monotonic()
            job.emit(piece)
        return relay

    async def _kill_after_grace(self, job: Job, worker: WorkerProcess) -> None:
        await asyncio.sleep(self.settings.cancel_grace)
        if not job.finished and worker.alive:
            log.warning("job %s did not stop within %.1f s of cancel; killing worker %d",
                        job.id, self.settings.cancel_grace, worker.pid)
            await worker.kill()

    # ---- tiers ------------------------------------------------------------------------------
    async def _ensure_loaded(self, slot: Slot, job: Job) -> float:
        """Bring the variant up to 'loaded'; returns seconds spent loading (0 if it was loaded)."""
        if slot.worker is not None and not slot.worker.alive:
            slot.reset()
        if slot.tier is Tier.LOADED:
            return 0.0
        started = time.monotonic()
        stall = self.settings.load_stall_timeout
        if slot.tier is Tier.OFFLOADED:
            job.emit(Progress("loading", -1.0, detail="moving weights back"))
            info = await slot.worker.request("resume", {}, self._relay_loading(job), stall)  # type: ignore
            slot.tier = Tier.LOADED
            slot.take(LoadInfo.from_worker(info))
            return time.monotonic() - started
        await self._make_room(slot)
        slot.tier = Tier.LOADING
        job.emit(Progress("loading", 0.0, detail="starting worker"))
        worker = self.worker_factory(WorkerSpec(slot.variant, self.settings.engine, {}))
        slot.worker = worker
        try:
            await worker.start(timeout=stall)
            info = await worker.request("load", {"options": self._load_options(slot)},
                                        self._relay_loading(job), stall)
        except BaseException:
            await worker.kill()
            slot.reset()
            raise
        slot.tier = Tier.LOADED
        slot.take(LoadInfo.from_worker(info))
        slot.load_time = time.monotonic() - started
        self._spawn(self._watch(slot, worker))
        return slot.load_time

    def _relay_loading(self, job: Job):
        def relay(progress: Progress) -> None:  # the engine's load stages become details of "loading"
            job.emit(Progress("loading", progress.fraction, detail=progress.stage))
        return relay

    def _load_options(self, slot: Slot) -> dict:
        s = self.settings
        return {"models_dir": str(self.loaded.effective_models_dir()), "variant": slot.variant,
                "device": s.device, "dtype": s.dtype, "threads": s.threads, "flow_bf16": s.flow_bf16,
                "cache_dir": str(self.loaded.paths.prompt_cache_dir), "cache_max_bytes": self.cache.max_bytes}

    async def _make_room(self, slot: Slot) -> None:
        others = [s for s in self.slots.values() if s is not slot and s.tier is not Tier.UNLOADED]
        while len(others) >= self.settings.max_loaded:
            idle = [s for s in others if s.running is None and s.tier.warm]
            if not idle:
                raise DaemonError(Reason.BUSY, "every loaded variant is busy and max_loaded is reached")
            victim = min(idle, key=lambda s: s.last_end)
            log.info("unloading %s to make room for %s", victim.variant, slot.variant)
            await self._unload(victim)
            others.remove(victim)

    async def _watch(self, slot: Slot, worker: WorkerProcess) -> None:
        """Notice a worker that dies while idle, so status tells the truth."""
        await worker.exited.wait()
        if slot.worker is worker and slot.running is None:
            if not worker.killed_on_purpose:
                log.error("worker for %s died while idle:\n%s", slot.variant, worker.tail_text())
            self._cancel_timer(slot)
            slot.reset()
            self._mark_activity()

    async def _offload(self, slot: Slot) -> None:
        assert slot.worker is not None
        try:
            info = await slot.worker.request("offload", {}, None, self.settings.load_stall_timeout)
        except DaemonError as exc:
            log.error("offloading %s failed (%s); unloading it instead", slot.variant, exc.message)
            await self._unload(slot)
            return
        slot.tier = Tier.OFFLOADED
        slot.take(LoadInfo.from_worker({"device": "cpu", **info}))
        log.info("%s offloaded to CPU RAM", slot.variant)

    async def _unload(self, slot: Slot) -> None:
        self._cancel_timer(slot)
        worker = slot.worker
        slot.tier = Tier.UNLOADING
        if worker is not None:
            await worker.stop(self.settings.cancel_grace)
        slot.reset()
        log.info("%s unloaded", slot.variant)

    # ---- timers -----------------------------------------------------------------------------
    def _arm(self, slot: Slot) -> None:
        """After a job (or a tier change), schedule the next step down for an idle variant."""
        self._cancel_timer(slot)
        if slot.running is not None or not slot.tier.warm or self.closing:
            return
        if slot.pending:
            action, slot.pending = slot.pending, ""
            self._spawn(self._step_down(slot, Tier.OFFLOADED if action == "offload" else Tier.UNLOADED, 0.0))
            return
        keep, offload = slot.keep_alive, self.settings.offload_after
        # negative keep-alive = keep resident, as Ollama does: no offload to CPU RAM either
        if slot.tier is Tier.LOADED and offload > 0 and 0 <= keep and offload < keep:
            step, delay = Tier.OFFLOADED, offload
        elif keep >= 0:
            step, delay = Tier.UNLOADED, keep
        else:
            return
        delay = max(0.0, slot.last_end + delay - time.monotonic())
        slot.next_tier, slot.next_at = step, time.monotonic() + delay
        slot.timer = self._spawn(self._step_down(slot, step, delay))

    async def _step_down(self, slot: Slot, step: Tier, delay: float) -> None:
        await asyncio.sleep(delay)
        if slot.running is not None or any(j.variant == slot.variant for j in self.queue):
            return  # a job came in: it re-arms when it ends
        slot.timer = None
        if step is Tier.OFFLOADED and slot.tier is Tier.LOADED:
            await self._offload(slot)
        elif step is Tier.UNLOADED and slot.tier.warm:
            await self._unload(slot)
        slot.next_tier, slot.next_at = None, 0.0
        self._arm(slot)
        self._mark_activity()
        self._dispatch()

    def _cancel_timer(self, slot: Slot) -> None:
        if slot.timer is not None and slot.timer is not asyncio.current_task():
            slot.timer.cancel()
        slot.timer = None
        slot.next_tier, slot.next_at = None, 0.0

    # ---- bookkeeping ------------------------------------------------------------------------
    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def _mark_activity(self) -> None:
        self.idle_since = time.monotonic()


def _rebase_first_audio(result: JobResult, job: Job, sent: float) -> None:
    """Time to first audio counts from the request's arrival (queue and load included): measured here for a
    streamed job, else the engine's own figure (from the start of its call) moved onto the job's clock."""
    timings = result.timings
    if job.first_audio:
        timings["first_audio"] = job.first_audio - job.created
    elif "first_audio" in timings:
        timings["first_audio"] = sent - job.created + float(timings["first_audio"])
