"""The scheduler in-process with an injected fake worker (tests/fake_worker.py) and millisecond timers:
tiers, keep-alive, offload, LRU, the queue (positions, busy, cancel) and crashes. Waits poll the
scheduler's state with a deadline; nothing relies on a sleep for ordering. The same rules through
real processes: tests/daemon/test_lifecycle.py and test_queue.py (a few end-to-end cases)."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fake_worker import FakeWorkers
from stepaudio_protos.errors import Exit, Reason
from stepaudio_protos.settings import load_settings
from stepaudiod.errors import DaemonError
from stepaudiod.jobs import Audio, Done, Failed, Job, Progress, Queued
from stepaudiod.scheduler import Scheduler
from stepaudiod.tiers import Tier


class Harness:
    def __init__(self, tmp_path: Path, **settings: object) -> None:
        self.work = tmp_path / "w"
        self.work.mkdir()
        loaded = load_settings(flags={k: str(v) for k, v in settings.items()},
                               env={"STEPAUDIO_HOME": str(tmp_path / "home")})
        self.workers = FakeWorkers()
        self.scheduler = Scheduler(loaded, worker_factory=self.workers)

    def job(self, kind: str = "clone", variant: str = "base", text: str = "hi", out: str = "out.wav",
            keep_alive: float | None = None, stream: bool = False) -> Job:
        target = None if kind in ("load", "transcribe") else self.work / out
        job = Job(kind=kind, variant=variant, payload={"text": text, "stream": stream}, target=target,
                  keep_alive=self.scheduler.cap_keep_alive(keep_alive))
        self.scheduler.submit(job)
        return job

    def variant(self, name: str = "base"):
        return next(v for v in self.scheduler.snapshot().variants if v.variant == name)

    def stray_files(self) -> list[str]:
        return [p.name for p in self.work.rglob("*") if ".stepaudio-tmp-" in p.name]


def in_loop(**settings: object):
    """Run an async test body in a fresh event loop with a Harness built from `settings`."""
    def wrap(body):
        def test(tmp_path):
            async def main():
                h = Harness(tmp_path, **settings)
                try:
                    await asyncio.wait_for(body(h), 20)
                finally:
                    await h.scheduler.shutdown()
            asyncio.run(main())
        test.__name__, test.__doc__ = body.__name__, body.__doc__  # not functools.wraps: pytest would see `h`
        return test
    return wrap


async def until(predicate, what: str, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


async def outcome(job: Job) -> Done | Failed:
    """The job's last event; the events before it are kept in job.seen."""
    job.seen = []  # type: ignore[attr-defined]
    while True:
        event = await job.events.get()
        if isinstance(event, (Done, Failed)):
            return event
        job.seen.append(event)  # type: ignore[attr-defined]


# ---- tiers and keep-alive -------------------------------------------------------------------
@in_loop(keep_alive=0.12, offload_after=0.04)
async def test_load_then_offload_then_unload_by_idle_timers(h):
    assert isinstance(await outcome(h.job("load")), Done)
    base = h.variant()
    assert base.tier is Tier.LOADED and base.worker_pid > 0
    assert base.device == "cpu" and base.model_bytes == 1234 and base.next_tier == "offloaded"
    worker = h.workers.of("base")[0]
    await until(lambda: h.variant().tier is Tier.OFFLOADED, "offload")
    assert h.variant().worker_pid == base.worker_pid and worker.alive  # offloaded: the worker lives on
    assert h.variant().next_tier == "unloaded"
    await until(lambda: h.variant().tier is Tier.UNLOADED, "unload")
    assert not worker.alive and h.variant().worker_pid == 0
    assert worker.ops == ["load", "offload"]
    assert h.scheduler.idle()


@in_loop(keep_alive=0.02, offload_after=0)
async def test_job_longer_than_keep_alive_is_never_unloaded_under_it(h):
    job = h.job(text="[[hold]]")
    await until(lambda: h.workers.made and h.workers.made[0].running.is_set(), "job running")
    worker = h.workers.made[0]
    assert h.variant().running_job == job.id
    for _ in range(3):  # three keep-alives pass while the job runs: no step down is even armed
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(worker.exited.wait(), 0.03)
        v = h.variant()
        assert v.tier is Tier.LOADED and v.next_tier == "" and v.worker_pid == worker.pid
    worker.release()
    assert isinstance(await outcome(job), Done)
    assert len(h.workers.made) == 1
    await until(lambda: h.variant().tier is Tier.UNLOADED, "unload after keep-alive")


@in_loop()
async def test_keep_alive_zero_unloads_after_the_job(h):
    assert isinstance(await outcome(h.job(keep_alive=0)), Done)
    await until(lambda: h.variant().tier is Tier.UNLOADED, "unload")
    assert not any(w.alive for w in h.workers.made)


@in_loop()
async def test_keep_alive_zero_waits_for_queued_jobs_of_the_variant(h):
    first = h.job(text="[[hold]]", out="a.wav", keep_alive=0)
    second = h.job(out="b.wav")
    await until(lambda: h.workers.made and h.workers.made[0].running.is_set(), "first job running")
    h.workers.made[0].release()
    assert isinstance(await outcome(first), Done) and isinstance(await outcome(second), Done)
    assert len(h.workers.made) == 1  # the queued job kept the worker


@in_loop()
async def test_a_requests_keep_alive_applies_to_that_request_only(h):
    assert isinstance(await outcome(h.job(out="a.wav", keep_alive=0)), Done)
    await until(lambda: h.variant().tier is Tier.UNLOADED, "unload after keep-alive 0")
    assert isinstance(await outcome(h.job(out="b.wav")), Done)  # no keep-alive: the daemon's 300 s again
    v = h.variant()
    assert v.tier is Tier.LOADED and v.keep_alive_s == 300.0 and v.next_tier == "offloaded"


@in_loop(keep_alive_max=0.05, offload_after=0)
async def test_negative_keep_alive_keeps_and_ceiling_caps_it(h):
    assert h.scheduler.cap_keep_alive(-1) == 0.05 and h.scheduler.cap_keep_alive(9) == 0.05
    assert h.scheduler.cap_keep_alive(0.01) == 0.01
    assert isinstance(await outcome(h.job(keep_alive=-1)), Done)
    assert h.variant().keep_alive_s == 0.05  # capped by the daemon-wide ceiling
    await until(lambda: h.variant().tier is Tier.UNLOADED, "capped unload")


@in_loop(offload_after=0)
async def test_negative_keep_alive_without_ceiling_keeps_the_model(h):
    assert isinstance(await outcome(h.job(keep_alive=-1)), Done)
    v = h.variant()
    assert v.tier is Tier.LOADED and v.next_tier == "" and v.keep_alive_s == -1


@in_loop()
async def test_nan_keep_alive_is_bad_input(h):
    with pytest.raises(DaemonError) as caught:
        h.scheduler.cap_keep_alive(float("nan"))
    assert caught.value.reason is Reason.BAD_INPUT


@in_loop()
async def test_unload_by_hand_to_cpu_and_all(h):
    assert isinstance(await outcome(h.job("load")), Done)
    worker = h.workers.made[0]
    assert await h.scheduler.unload(["base"], to_cpu=True) == ([], ["base"], [])
    assert h.variant().tier is Tier.OFFLOADED and worker.alive
    assert await h.scheduler.unload(["base", "bnb"], to_cpu=False) == (["base"], [], [])
    assert h.variant().tier is Tier.UNLOADED and not worker.alive


@in_loop()
async def test_unload_of_a_busy_variant_is_deferred_to_the_end_of_its_job(h):
    job = h.job(text="[[hold]]")
    await until(lambda: h.workers.made and h.workers.made[0].running.is_set(), "job running")
    assert await h.scheduler.unload(["base"], to_cpu=False) == ([], [], ["base"])
    assert h.variant().tier is Tier.LOADED
    h.workers.made[0].release()
    assert isinstance(await outcome(job), Done)
    await until(lambda: h.variant().tier is Tier.UNLOADED, "deferred unload")


@in_loop()
async def test_offloaded_variant_resumes_for_the_next_job(h):
    assert isinstance(await outcome(h.job("load")), Done)
    pid = h.variant().worker_pid
    await h.scheduler.unload(["base"], to_cpu=True)
    job = h.job()
    assert isinstance(await outcome(job), Done)
    v = h.variant()
    assert v.tier is Tier.LOADED and v.worker_pid == pid and v.jobs_served == 1
    assert h.workers.made[0].ops == ["load", "offload", "resume", "clone"]
    assert Progress("loading", -1.0, detail="moving weights back") in job.seen


# ---- LRU ------------------------------------------------------------------------------------
@in_loop(max_loaded=1)
async def test_a_second_variant_unloads_the_idle_one(h):
    assert isinstance(await outcome(h.job(variant="base", out="a.wav")), Done)
    assert isinstance(await outcome(h.job(variant="bnb", out="b.wav")), Done)
    assert h.variant("base").tier is Tier.UNLOADED and not h.workers.of("base")[0].alive
    assert h.variant("bnb").tier is Tier.LOADED


@in_loop(max_loaded=2)
async def test_the_least_recently_used_idle_variant_makes_room(h):
    for variant, out in (("base", "1.wav"), ("bnb", "2.wav"), ("base", "3.wav")):
        assert isinstance(await outcome(h.job(variant=variant, out=out)), Done)
    assert isinstance(await outcome(h.job(variant="awq", out="4.wav")), Done)  # bnb was used longest ago
    tiers = {v.variant: v.tier for v in h.scheduler.snapshot().variants}
    assert tiers == {"base": Tier.LOADED, "bnb": Tier.UNLOADED, "awq": Tier.LOADED}
    assert len(h.workers.of("base")) == 1  # base was never reloaded


@in_loop(max_loaded=1)
async def test_a_busy_variant_is_never_evicted_the_other_variant_waits(h):
    running = h.job(variant="base", text="[[hold]]", out="a.wav")
    await until(lambda: h.workers.made and h.workers.made[0].running.is_set(), "base running")
    waiting = h.job(variant="bnb", out="b.wav")
    assert isinstance(await waiting.events.get(), Queued) and waiting.position == 1
    assert [q.job_id for q in h.scheduler.snapshot().queue] == [waiting.id]
    h.workers.made[0].release()
    assert isinstance(await outcome(running), Done) and isinstance(await outcome(waiting), Done)
    assert h.variant("base").tier is Tier.UNLOADED and h.variant("bnb").tier is Tier.LOADED


# ---- the queue ------------------------------------------------------------------------------
@in_loop(queue_size=1)
async def test_full_queue_answers_busy_and_queued_jobs_see_their_position(h):
    first = h.job(text="[[hold]]", out="1.wav")
    await until(lambda: h.workers.made and h.workers.made[0].running.is_set(), "first job running")
    second = h.job(out="2.wav")
    assert await second.events.get() == Queued(1)
    assert [(q.job_id, q.position) for q in h.scheduler.snapshot().queue] == [(second.id, 1)]
    with pytest.raises(DaemonError) as busy:
        h.job(out="3.wav")
    assert busy.value.reason is Reason.BUSY and "queue is full" in busy.value.message
    assert busy.value.reason.exit_code == Exit.BUSY and busy.value.hint  # exit 4 with a hint in the CLI
    h.workers.made[0].release()
    assert isinstance(await outcome(first), Done) and isinstance(await outcome(second), Done)
    assert Queued(0) in second.seen  # told when it started
    assert (h.work / "1.wav").exists() and (h.work / "2.wav").exists() and not (h.work / "3.wav").exists()


@in_loop(queue_size=4)
async def test_positions_move_up_when_a_queued_job_is_cancelled(h):
    first = h.job(text="[[hold]]", out="1.wav")
    await until(lambda: h.workers.made and h.workers.made[0].running.is_set(), "first job running")
    queued = [h.job(out=f"{n}.wav") for n in (2, 3, 4)]
    assert [j.position for j in queued] == [1, 2, 3]
    assert h.scheduler.cancel(queued[0]) == "dropped"  # Ctrl-C on a queued job (the stream closes)
    failed = await outcome(queued[0])
    assert isinstance(failed, Failed) and failed.reason is Reason.CANCELLED and queued[0].state == "cancelled"
    assert [j.position for j in queued[1:]] == [1, 2]
    assert [q.job_id for q in h.scheduler.snapshot().queue] == [j.id for j in queued[1:]]
    assert Queued(1) in [await queued[1].events.get() for _ in range(2)]
    h.workers.made[0].release()
    for job in (first, *queued[1:]):
        assert isinstance(await outcome(job), Done)
    assert not (h.work / "2.wav").exists() and not h.stray_files()
    assert h.variant().jobs_served == 3


@in_loop()
async def test_cancel_of_a_running_job_fails_it_with_cancelled(h):
    job = h.job(text="[[hold]]")
    await until(lambda: h.workers.made and h.workers.made[0].running.is_set(), "job running")
    assert h.scheduler.cancel(job) == "stopping"
    failed = await outcome(job)
    assert isinstance(failed, Failed) and failed.reason is Reason.CANCELLED
    assert not (h.work / "out.wav").exists() and not h.stray_files()
    assert h.scheduler.cancel(job) == "finished"


@in_loop()
async def test_shutdown_fails_queued_and_running_jobs_with_shutting_down(h):
    running = h.job(text="[[hold]]", out="a.wav")
    await until(lambda: h.workers.made and h.workers.made[0].running.is_set(), "job running")
    queued = h.job(out="b.wav")
    await h.scheduler.shutdown()
    for job in (running, queued):
        failed = await outcome(job)
        assert isinstance(failed, Failed) and failed.reason is Reason.SHUTTING_DOWN
    with pytest.raises(DaemonError) as refused:
        h.job(out="c.wav")
    assert refused.value.reason is Reason.SHUTTING_DOWN


# ---- failures ---------------------------------------------------------------------------------
@in_loop()
async def test_a_crash_fails_only_that_job_and_the_next_starts_a_fresh_worker(h):
    crashed = await outcome(h.job(text="[[crash]]", out="a.wav"))
    assert isinstance(crashed, Failed) and crashed.reason is Reason.WORKER_CRASHED
    assert h.variant().tier is Tier.UNLOADED and not h.stray_files()
    assert isinstance(await outcome(h.job(out="b.wav")), Done)
    assert len(h.workers.made) == 2 and h.variant().worker_pid == h.workers.made[1].pid


@in_loop()
async def test_a_failed_load_fails_the_job_with_its_reason_and_resets_the_variant(h):
    h.workers.fail_load = DaemonError(Reason.MODEL_MISSING, "no model folder")
    failed = await outcome(h.job())
    assert isinstance(failed, Failed) and failed.reason is Reason.MODEL_MISSING and failed.hint
    assert h.variant().tier is Tier.UNLOADED and not h.workers.made[0].alive
    assert isinstance(await outcome(h.job(out="again.wav")), Done)


@in_loop()
async def test_results_carry_timings_variant_progress_and_prompt_cache_counts(h):
    job = h.job()
    done = await outcome(job)
    assert isinstance(done, Done)
    assert {"queued", "load", "generate", "total"} <= set(done.result.timings)
    assert done.result.options["variant"] == "base" and done.result.output == str(h.work / "out.wav")
    assert (h.scheduler.cache.hits, h.scheduler.cache.misses) == (1, 0)
    assert Progress("loading", 0.0, detail="starting worker") in job.seen
    assert Progress("loading", 1.0, detail="weights") in job.seen  # the engine's stage, under "loading"
    assert Progress("generating", 0.5, tokens=4) in job.seen


@in_loop()
async def test_streamed_audio_pieces_reach_the_job_in_order_and_time_the_first_audio(h):
    from stepaudiod.server import _to_proto

    job = h.job(stream=True)
    done = await outcome(job)
    assert isinstance(done, Done)
    pieces = [e for e in job.seen if isinstance(e, Audio)]
    assert [p.index for p in pieces] == [0, 1] and pieces[0].pcm == b"\x01\x00" * 4
    assert 0 < done.result.timings["first_audio"] <= done.result.timings["total"]
    wire = _to_proto(job.id, pieces[0])
    assert (wire.audio.index, wire.audio.sample_rate, wire.audio.encoding) == (0, 24000, "s16le")
