"""The async daemon client for long-running front ends (the HTTP API, the web UI).

One grpc.aio channel to stepaudiod's Unix socket, shared by every request of the process. Finding and
auto-starting the daemon (uid check, version handshake, spawn lock) is the CLI's own code
(stepaudio_cli.client.DaemonClient.connect), run in a thread: one implementation of those races.
When the daemon goes away (idle shutdown, crash, restart), the next call starts or finds a new one and
re-reads its token; a call is retried only when the daemon cannot have seen it.

    client = AsyncDaemonClient(paths)
    job = client.submit(request)            # a JobStream
    async for event in job:                 # Queued, Progress, AudioChunk, then JobResult (or JobFailed)
        ...
    result = await client.run(request)      # the same, waiting for the result
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, Optional, Union

import grpc

from stepaudio_cli.errors import CliError
from stepaudio_protos import TOKEN_METADATA_KEY
from stepaudio_protos.errors import default_hint
from stepaudio_protos.paths import Paths
from stepaudio_protos.v1 import stepaudio_pb2 as pb
from stepaudio_protos.v1 import stepaudio_pb2_grpc as pb_grpc

RPC_TIMEOUT_S = 30.0
# transport failures after which the daemon is looked for (and started) again
_RECONNECT_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAUTHENTICATED)


class DaemonUnavailable(Exception):
    """The daemon could not be reached or started (HTTP 503)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


class JobFailed(Exception):
    """A job ended with a Failed event: a stable reason code (stepaudio_protos.errors), message, hint."""

    def __init__(self, reason: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.reason, self.message, self.hint = reason, message, hint or default_hint(reason)


@dataclass
class Queued:
    job_id: str
    position: int  # 0 = started at once, 1 = next


@dataclass
class Progress:
    job_id: str
    stage: str
    fraction: float  # 0..1, -1 unknown
    tokens: int
    detail: str


@dataclass
class AudioChunk:
    """A piece of a streamed job's audio (requests with stream_audio): mono samples, no header."""

    job_id: str
    index: int
    sample_rate: int
    encoding: str  # s16le | f32le
    pcm: bytes


@dataclass
class JobResult:
    """The end of a job: the documented JSON result (docs/json.md) as fields."""

    job_id: str
    output: str
    sample_rate: int
    duration_s: float
    timings: dict[str, float] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "output": self.output, "sample_rate": self.sample_rate,
                "duration_s": round(self.duration_s, 4),
                "timings": {k: round(v, 4) for k, v in self.timings.items()},
                "options": self.options, "notes": self.notes, "report": self.report}


JobEvent = Union[Queued, Progress, AudioChunk, JobResult]


def _event(message: pb.JobEvent, job_id: str) -> JobEvent:
    kind = message.WhichOneof("event")
    if kind == "queued":
        return Queued(job_id, message.queued.position)
    if kind == "progress":
        p = message.progress
        return Progress(job_id, p.stage, p.fraction, p.tokens, p.detail)
    if kind == "audio":
        a = message.audio
        return AudioChunk(job_id, a.index, a.sample_rate, a.encoding, a.pcm)
    if kind == "failed":
        raise JobFailed(message.failed.reason, message.failed.message, message.failed.hint)
    if kind == "done":
        d = message.done
        return JobResult(job_id, d.output, d.sample_rate, d.duration_s, dict(d.timings),
                         json.loads(d.options_json or "{}"), list(d.notes), json.loads(d.report_json or "{}"))
    raise DaemonUnavailable(f"the daemon sent an event this client does not know ({kind})",
                            "the daemon and this server should be the same stepaudio version")


class JobStream:
    """One submitted job (or load): iterate for its events; the JobResult is the last one.

    Leaving the iteration early (an exception, a task cancelled because the HTTP client went away)
    closes the gRPC stream, and the daemon cancels a job whose stream is closed: queued, it is
    dropped; running, it stops between steps."""

    def __init__(self, client: "AsyncDaemonClient", open_call: Callable[[pb_grpc.StepAudioStub, list], Any]) -> None:
        self._client = client
        self._open_call = open_call
        self._call: Any = None
        self.job_id = ""
        self.result: Optional[JobResult] = None

    async def __aiter__(self) -> AsyncIterator[JobEvent]:
        seen_any = False
        for attempt in (1, 2):
            stub, metadata = await self._client._stub()
            self._call = self._open_call(stub, metadata)
            try:
                async for message in self._call:
                    seen_any = True
                    self.job_id = message.job_id or self.job_id
                    event = _event(message, self.job_id)
                    if isinstance(event, JobResult):
                        self.result = event
                    yield event
                    if isinstance(event, JobResult):
                        return
            except grpc.aio.AioRpcError as exc:
                # Retry only if the daemon cannot have started the job: nothing came back yet.
                if attempt == 1 and not seen_any and exc.code() in _RECONNECT_CODES:
                    await self._client._reconnect(stub)
                    continue
                raise _transport_error(exc) from None
            finally:
                self._call.cancel()  # no-op after the end; otherwise tells the daemon to cancel the job
            raise DaemonUnavailable("the daemon ended the job without a result", "see `stepaudio daemon logs`")

    async def wait(self, on_event: Optional[Callable[[JobEvent], Awaitable[None] | None]] = None) -> JobResult:
        """Run to the end; `on_event` sees every Queued/Progress event (e.g. a web UI's progress bar)."""
        async for event in self:
            if on_event is not None and not isinstance(event, JobResult):
                maybe = on_event(event)
                if asyncio.iscoroutine(maybe):
                    await maybe
        assert self.result is not None
        return self.result

    async def cancel(self) -> None:
        """Cancel the job by id (from another task); closing the iteration cancels it too."""
        if self.job_id:
            await self._client.cancel(self.job_id)


class AsyncDaemonClient:
    """Every call a front end makes to stepaudiod. Safe to share between concurrent requests."""

    def __init__(self, paths: Paths, autostart: bool = True, daemon_args: Optional[list[str]] = None,
                 daemon_env: Optional[dict[str, str]] = None) -> None:
        self.paths = paths
        self.autostart = autostart
        self.daemon_args = list(daemon_args or [])
        self.daemon_env = daemon_env
        self._channel: Optional[grpc.aio.Channel] = None
        self._stub_obj: Optional[pb_grpc.StepAudioStub] = None
        self._metadata: list[tuple[str, str]] = []
        self._lock = asyncio.Lock()
        self.started_daemon = False

    # ---- connecting -------------------------------------------------------------------------
    async def connect(self) -> "AsyncDaemonClient":
        await self._stub()
        return self

    async def _stub(self) -> tuple[pb_grpc.StepAudioStub, list[tuple[str, str]]]:
        if self._stub_obj is None:
            async with self._lock:
                if self._stub_obj is None:
                    await self._open()
        assert self._stub_obj is not None
        return self._stub_obj, self._metadata

    async def _open(self) -> None:
        """Find or start the daemon with the CLI's connect (blocking: in a thread), then open our channel."""
        from stepaudio_cli.client import DaemonClient
        from stepaudio_cli.daemon_proc import read_token

        def connect() -> str:
            sync = DaemonClient(self.paths, self.autostart, self.daemon_args, self.daemon_env)
            try:
                sync.connect()
                self.started_daemon = self.started_daemon or sync.started_daemon
                return read_token(self.paths)
            finally:
                sync.close()

        try:
            token = await asyncio.to_thread(connect)
        except CliError as exc:
            raise DaemonUnavailable(exc.message, exc.hint) from None
        if self._channel is not None:
            await self._channel.close()
        # A channel of its own subchannels: with gRPC's global pool, a fresh channel to the same socket would
        # reuse the subchannel that failed when the old daemon went away, and fail at once during its backoff.
        self._channel = grpc.aio.insecure_channel(f"unix:{self.paths.socket}",
                                                  options=[("grpc.use_local_subchannel_pool", 1)])
        self._stub_obj = pb_grpc.StepAudioStub(self._channel)
        self._metadata = [(TOKEN_METADATA_KEY, token)]

    async def _reconnect(self, failed_stub: pb_grpc.StepAudioStub) -> None:
        async with self._lock:
            if self._stub_obj is failed_stub:  # else another request reconnected already
                self._stub_obj = None
                await self._open()

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
        self._channel = self._stub_obj = None

    # ---- unary calls ------------------------------------------------------------------------
    async def _unary(self, name: str, request: Any, retry: bool = True) -> Any:
        for attempt in (1, 2):
            stub, metadata = await self._stub()
            try:
                return await getattr(stub, name)(request, metadata=metadata, timeout=RPC_TIMEOUT_S)
            except grpc.aio.AioRpcError as exc:
                if retry and attempt == 1 and exc.code() in _RECONNECT_CODES:
                    await self._reconnect(stub)
                    continue
                raise _transport_error(exc) from None
        raise AssertionError("unreachable")

    async def health(self) -> pb.HealthReply:
        from stepaudio_protos import PROTOCOL_VERSION, __version__

        return await self._unary("Health", pb.HealthRequest(client_version=__version__,
                                                             protocol_version=PROTOCOL_VERSION))

    async def status(self) -> pb.StatusReply:
        return await self._unary("Status", pb.StatusRequest())

    async def unload(self, variant: str = "", all_: bool = False, to_cpu: bool = False) -> pb.UnloadReply:
        return await self._unary("Unload", pb.UnloadRequest(variant=variant, all=all_, to_cpu=to_cpu))

    async def cancel(self, job_id: str) -> pb.CancelReply:
        return await self._unary("Cancel", pb.CancelRequest(job_id=job_id), retry=False)

    # ---- streaming calls --------------------------------------------------------------------
    def submit(self, request: pb.JobRequest) -> JobStream:
        """A clone, edit or transcribe job; iterate the JobStream (or await .wait())."""
        return JobStream(self, lambda stub, md: stub.Submit(request, metadata=md))

    def load(self, variant: str = "", keep_alive: Optional[float] = None) -> JobStream:
        request = pb.LoadRequest(variant=variant)
        if keep_alive is not None:
            request.keep_alive_s = keep_alive
        return JobStream(self, lambda stub, md: stub.Load(request, metadata=md))

    async def run(self, request: pb.JobRequest,
                  on_event: Optional[Callable[[JobEvent], Awaitable[None] | None]] = None) -> JobResult:
        return await self.submit(request).wait(on_event)


def _transport_error(exc: grpc.aio.AioRpcError) -> Exception:
    code, details = exc.code(), exc.details() or ""
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return JobFailed("BAD_INPUT", details)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return JobFailed("BUSY", details)
    return DaemonUnavailable(f"lost the connection to the daemon ({code.name}: {details})",
                             "see `stepaudio daemon logs`; the next request starts it again")


__all__ = ["AsyncDaemonClient", "JobStream", "JobResult", "Queued", "Progress", "AudioChunk", "JobEvent",
           "JobFailed", "DaemonUnavailable"]
