"""The gRPC servicer: translates between protobuf and the scheduler, nothing more.

Runs on grpc.aio so Health/Status are answered at once even while a model loads or a job runs.
Every call must carry the daemon's token (TokenInterceptor).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import grpc
import psutil

from stepaudio_protos.errors import Reason
from stepaudio_protos import PROTOCOL_VERSION, TOKEN_METADATA_KEY, __version__, validate
from stepaudio_protos.v1 import stepaudio_pb2 as pb
from stepaudio_protos.v1 import stepaudio_pb2_grpc as pb_grpc
from stepaudiod import outputs
from stepaudiod.job_payload import job_payload, require_input
from stepaudiod.errors import DaemonError
from stepaudiod.rpc_errors import failed_event
from stepaudiod.jobs import Audio, Done, Failed, Job, JobEvent, Progress, Queued
from stepaudiod.scheduler import Scheduler
from stepaudiod.snapshot import VariantSnapshot
from stepaudio_protos.facts import VARIANTS
from stepaudio_protos.settings import LoadedSettings, setting_fields

log = logging.getLogger(__name__)


class TokenInterceptor(grpc.aio.ServerInterceptor):
    """Refuse any call that does not carry the token from the 0600 token file."""

    def __init__(self, token: str) -> None:
        self.token = token

        async def deny(request, context):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong stepaudio token")

        self._deny_unary: Any = grpc.unary_unary_rpc_method_handler(deny)

        async def deny_stream(request, context):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong stepaudio token")
            yield  # pragma: no cover

        self._deny_stream: Any = grpc.unary_stream_rpc_method_handler(deny_stream)

    async def intercept_service(self, continuation, details):
        metadata = dict(details.invocation_metadata or ())
        if metadata.get(TOKEN_METADATA_KEY) == self.token:
            return await continuation(details)
        streaming = details.method.endswith(("/Submit", "/Load"))
        return self._deny_stream if streaming else self._deny_unary


class StepAudioService(pb_grpc.StepAudioServicer):
    def __init__(self, scheduler: Scheduler, loaded: LoadedSettings, socket_path: Path,
                 request_shutdown: Callable[[], None]) -> None:
        self.scheduler = scheduler
        self.loaded = loaded
        self.socket_path = socket_path
        self.request_shutdown = request_shutdown
        self.started = time.monotonic()
        self.process = psutil.Process()

    # ---- handshake and status ---------------------------------------------------------------
    async def Health(self, request, context):
        return pb.HealthReply(daemon_version=__version__, protocol_version=PROTOCOL_VERSION, pid=os.getpid(),
                              uptime_s=time.monotonic() - self.started, idle=self.scheduler.idle(),
                              uid=os.getuid(), no_jobs=not self.scheduler.has_jobs())

    async def Status(self, request, context):
        snap = self.scheduler.snapshot()
        settings = [pb.Setting(name=f.name, value=self._setting_value(f.name), source=self.loaded.sources[f.name])
                    for f in setting_fields() if not f.metadata.get("hidden") and f.metadata.get("scope") != "http"]
        idle_in = -1.0
        limit = self.loaded.settings.idle_shutdown
        if limit > 0 and snap.idle:
            idle_in = max(0.0, limit - snap.idle_for_s)
        return pb.StatusReply(
            daemon_version=__version__, protocol_version=PROTOCOL_VERSION, pid=os.getpid(),
            uptime_s=time.monotonic() - self.started, socket=str(self.socket_path), settings=settings,
            variants=[_variant_status(v) for v in snap.variants],
            queue=[pb.QueuedJob(job_id=q.job_id, kind=q.kind, variant=q.variant, position=q.position,
                                waited_s=q.waited_s) for q in snap.queue],
            queue_capacity=self.loaded.settings.queue_size, cache=await self._cache_status(),
            daemon_rss_bytes=self.process.memory_info().rss, log_file=str(self.loaded.paths.log_file),
            idle_shutdown_in_s=idle_in)

    async def _cache_status(self) -> pb.CacheStatus:
        stats = self.scheduler.cache
        entries, size = await stats.usage()
        return pb.CacheStatus(path=str(stats.folder), hits=stats.hits, misses=stats.misses, entries=entries,
                              bytes=size, max_bytes=stats.max_bytes)

    def _setting_value(self, name: str) -> str:
        if name == "models_dir":
            return str(self.loaded.effective_models_dir())
        return str(getattr(self.loaded.settings, name))

    # ---- jobs -------------------------------------------------------------------------------
    async def Submit(self, request, context) -> AsyncIterator[pb.JobEvent]:
        try:
            job = self._job_from_request(request)
        except DaemonError as exc:
            yield failed_event(exc)
            return
        async for event in self._stream(job):
            yield event

    async def Load(self, request, context) -> AsyncIterator[pb.JobEvent]:
        try:
            variant = self._variant(request.variant)
            keep = self.scheduler.cap_keep_alive(request.keep_alive_s if request.HasField("keep_alive_s") else None)
        except DaemonError as exc:
            yield failed_event(exc)
            return
        async for event in self._stream(Job(kind="load", variant=variant, payload={}, keep_alive=keep)):
            yield event

    async def _stream(self, job: Job) -> AsyncIterator[pb.JobEvent]:
        try:
            self.scheduler.submit(job)
        except DaemonError as exc:
            yield failed_event(exc, job.id)
            return
        try:
            while True:
                event = await job.events.get()
                yield _to_proto(job.id, event)
                if isinstance(event, (Done, Failed)):
                    return
        finally:
            # The client went away (Ctrl-C) or the stream ended: a job nobody waits for is cancelled.
            if not job.finished:
                log.info("client of job %s disconnected; cancelling it", job.id)
                self.scheduler.cancel(job)

    def _variant(self, name: str) -> str:
        try:
            return validate.variant(name or self.loaded.settings.default_variant)
        except validate.Invalid as exc:
            raise DaemonError(Reason.UNKNOWN_VARIANT, exc.message, exc.hint) from None

    def _job_from_request(self, request: pb.JobRequest) -> Job:
        kind = request.WhichOneof("job")
        if kind is None:
            raise DaemonError(Reason.BAD_INPUT, "the request names no job (clone, edit or transcribe)")
        if kind == "transcribe":
            require_input(request.transcribe.audio)
            return Job(kind=kind, variant=self._variant(request.variant), payload={"audio": request.transcribe.audio},
                       keep_alive=self.scheduler.cap_keep_alive(
                           request.keep_alive_s if request.HasField("keep_alive_s") else None))
        target = outputs.check_output(request.output, request.force)
        payload = job_payload(request, target, self.loaded.settings.max_text_chars,
                              self.loaded.settings.max_edit_seconds)
        keep = self.scheduler.cap_keep_alive(request.keep_alive_s if request.HasField("keep_alive_s") else None)
        return Job(kind=kind, variant=self._variant(request.variant), payload=payload, target=target,
                   force=request.force, keep_alive=keep)

    async def Cancel(self, request, context):
        job = self.scheduler.find(request.job_id)
        if job is None:
            return pb.CancelReply(found=False, state="unknown")
        return pb.CancelReply(found=True, state=self.scheduler.cancel(job))

    async def Unload(self, request, context):
        if request.all:
            variants = list(VARIANTS)
        else:
            variants = [self._variant(request.variant)]  # UNKNOWN_VARIANT: rpc_errors.ErrorInterceptor
        force = request.force and not request.to_cpu
        running = {v.variant: v.running_job for v in self.scheduler.snapshot().variants}
        stopped = [running[v] for v in variants if force and running[v]]
        unloaded, offloaded, deferred = await self.scheduler.unload(variants, request.to_cpu, force)
        return pb.UnloadReply(unloaded=unloaded, offloaded=offloaded, deferred=deferred, stopped_jobs=stopped)

    async def Shutdown(self, request, context):
        asyncio.get_running_loop().call_soon(self.request_shutdown)
        return pb.ShutdownReply(accepted=True)


def _variant_status(v: VariantSnapshot) -> pb.VariantStatus:
    rss = 0
    if v.worker_pid:
        try:
            rss = psutil.Process(v.worker_pid).memory_info().rss
        except psutil.Error:
            pass
    return pb.VariantStatus(
        variant=v.variant, tier=v.tier.value, device=v.device, worker_pid=v.worker_pid, rss_bytes=rss,
        vram_bytes=v.vram_bytes, model_bytes=v.model_bytes, load_time_s=v.load_time_s, jobs_served=v.jobs_served,
        idle_s=v.idle_s, next_tier=v.next_tier, next_tier_in_s=v.next_tier_in_s, running_job=v.running_job,
        keep_alive_s=v.keep_alive_s, folder=v.folder, kernel=v.kernel, bits=v.bits)


def _to_proto(job_id: str, event: JobEvent) -> pb.JobEvent:
    if isinstance(event, Audio):
        return pb.JobEvent(job_id=job_id, audio=pb.AudioChunk(index=event.index, sample_rate=event.rate,
                                                              encoding=event.encoding, pcm=event.pcm))
    if isinstance(event, Queued):
        return pb.JobEvent(job_id=job_id, queued=pb.Queued(position=event.position))
    if isinstance(event, Progress):
        return pb.JobEvent(job_id=job_id, progress=pb.Progress(
            stage=event.stage, fraction=event.fraction, tokens=event.tokens, detail=event.detail))
    if isinstance(event, Failed):
        return failed_event(DaemonError(event.reason, event.message, event.hint), job_id)
    result = event.result
    return pb.JobEvent(job_id=job_id, done=pb.Done(
        output=result.output, sample_rate=result.sample_rate, duration_s=result.duration_s,
        timings=result.timings, options_json=json.dumps(result.options, sort_keys=True, default=str),
        notes=result.notes, report_json=json.dumps(result.report, sort_keys=True, default=str)))
