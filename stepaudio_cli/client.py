"""The daemon client: connect (auto-start, uid and version checks, token), then typed calls.

grpc and the generated stubs are imported here, so commands that never talk to the daemon
(--help, usage errors) do not pay for them.
"""
from __future__ import annotations

import sys
from typing import Any, Iterator

import grpc

from stepaudio_cli import daemon_proc
from stepaudio_cli.errors import CliError
from stepaudio_protos import PROTOCOL_VERSION, TOKEN_METADATA_KEY, __version__
from stepaudio_protos.errors import HINT_METADATA_KEY, REASON_METADATA_KEY, Exit, Reason
from stepaudio_protos.paths import Paths
from stepaudio_protos.v1 import stepaudio_pb2 as pb
from stepaudio_protos.v1 import stepaudio_pb2_grpc as pb_grpc

RPC_TIMEOUT_S = 30.0


class DaemonClient:
    def __init__(self, paths: Paths, autostart: bool = True, daemon_args: list[str] | None = None,
                 daemon_env: dict[str, str] | None = None) -> None:
        self.paths = paths
        self.daemon_env = daemon_env
        self.autostart = autostart
        self.daemon_args = daemon_args or []
        self.channel: grpc.Channel | None = None
        self.stub: pb_grpc.StepAudioStub | None = None
        self.metadata: list[tuple[str, str]] = []
        self.health_reply: pb.HealthReply | None = None
        self.started_daemon = False

    # ---- connecting -------------------------------------------------------------------------
    def connect(self) -> "DaemonClient":
        daemon_proc.ensure_runtime_dir(self.paths)
        if daemon_proc.peer_check(self.paths):
            if self._open_and_check():
                return self
        elif not self.autostart:
            raise CliError("the stepaudio daemon is not running",
                           "start it with `stepaudio daemon start`, or drop --no-autostart", Exit.UNAVAILABLE)
        with daemon_proc.SpawnLock(self.paths.spawn_lock):
            # another CLI may have started it while we waited for the lock
            if daemon_proc.peer_check(self.paths) and self._open_and_check():
                return self
            daemon_proc.start_daemon(self.paths, self.daemon_args, self.daemon_env)
            self.started_daemon = True
        if not self._open_and_check():
            raise CliError("the daemon we started speaks another version", "reinstall stepaudio", Exit.UNAVAILABLE)
        return self

    def _open_and_check(self) -> bool:
        """Open a channel and do the version handshake. False if a daemon of another version was
        idle and has been stopped (the caller then starts ours)."""
        self._open()
        reply = self.health()
        if reply.protocol_version == PROTOCOL_VERSION and reply.daemon_version == __version__:
            self.health_reply = reply
            return True
        other = f"stepaudiod {reply.daemon_version} (protocol {reply.protocol_version})"
        if not (reply.idle or reply.no_jobs):
            raise CliError(f"{other} is running and busy; this CLI is {__version__} (protocol {PROTOCOL_VERSION})",
                           "wait for its jobs to finish, or `stepaudio daemon stop` it", Exit.UNAVAILABLE)
        what = "idle " if reply.idle else ""
        lost = "" if reply.idle else " (no job was running; its loaded model is unloaded)"
        print(f"note: replacing {what}{other} with stepaudiod {__version__}{lost}", file=sys.stderr)
        self.shutdown_and_wait(reply.pid, same_version=False)
        return False

    def _open(self) -> None:
        self.close()
        self.metadata = [(TOKEN_METADATA_KEY, daemon_proc.read_token(self.paths))]
        self.channel = grpc.insecure_channel(f"unix:{self.paths.socket}")
        self.stub = pb_grpc.StepAudioStub(self.channel)

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
        self.channel = self.stub = None

    # ---- calls ------------------------------------------------------------------------------
    def health(self) -> pb.HealthReply:
        return self._unary("Health", pb.HealthRequest(client_version=__version__, protocol_version=PROTOCOL_VERSION))

    def status(self) -> pb.StatusReply:
        return self._unary("Status", pb.StatusRequest())

    def unload(self, variant: str, all_: bool, to_cpu: bool, force: bool = False) -> pb.UnloadReply:
        return self._unary("Unload", pb.UnloadRequest(variant=variant, all=all_, to_cpu=to_cpu, force=force))

    def cancel(self, job_id: str) -> pb.CancelReply:
        return self._unary("Cancel", pb.CancelRequest(job_id=job_id))

    def shutdown_and_wait(self, pid: int = 0, same_version: bool = True) -> None:
        """Ask the daemon to stop and wait until its process is gone (its lifetime lock with it), so a
        daemon started next cannot meet the old one. The daemon cancels running jobs and kills a worker
        that does not stop within cancel_grace; if it is still there a little later, we kill its workers,
        then it (a restart must never end with no daemon at all)."""
        pid = pid or (self.health_reply.pid if self.health_reply is not None else 0)
        grace, workers = 5.0, []
        if same_version:  # another version's status may not parse: the defaults serve then
            status = self.status()
            grace = next((float(x.value) for x in status.settings if x.name == "cancel_grace"), grace)
            workers = [v.worker_pid for v in status.variants if v.worker_pid]
        self._unary("Shutdown", pb.ShutdownRequest())
        self.close()
        if daemon_proc.wait_gone(pid, grace + 3.0, self.paths):
            return
        for worker in workers:  # a worker the daemon could not end (it waits on it)
            daemon_proc.kill_if(worker, "stepaudiod.worker_main")
        if daemon_proc.wait_gone(pid, 5.0, self.paths):
            return
        daemon_proc.kill_if(pid, "stepaudiod.main")
        if not daemon_proc.wait_gone(pid, 5.0, self.paths):
            raise CliError(f"the daemon (pid {pid}) did not stop", daemon_proc.log_tail_hint(self.paths),
                           Exit.UNAVAILABLE)

    def submit(self, request: pb.JobRequest):
        """Start a job; returns the streaming call (iterate it for events; .cancel() to abandon)."""
        assert self.stub is not None
        return self.stub.Submit(request, metadata=self.metadata)

    def load(self, request: pb.LoadRequest):
        assert self.stub is not None
        return self.stub.Load(request, metadata=self.metadata)

    def _unary(self, name: str, request):
        assert self.stub is not None
        try:
            return getattr(self.stub, name)(request, metadata=self.metadata, timeout=RPC_TIMEOUT_S)
        except grpc.RpcError as exc:
            raise rpc_error(exc) from None


# The one gRPC status → reason table of the CLI. A daemon error in a unary call carries its own
# reason in the trailing metadata (REASON_METADATA_KEY, see stepaudiod/rpc_errors.py); these are for
# failures the transport reports (and daemons older than that metadata).
_REASON_FOR_STATUS: dict[grpc.StatusCode, Reason] = {
    grpc.StatusCode.INVALID_ARGUMENT: Reason.USAGE,
    grpc.StatusCode.RESOURCE_EXHAUSTED: Reason.BUSY,
    grpc.StatusCode.INTERNAL: Reason.INTERNAL,
}
_LOST = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED, grpc.StatusCode.DEADLINE_EXCEEDED)


def rpc_error(exc: grpc.RpcError) -> CliError:
    code = exc.code() if hasattr(exc, "code") else None
    details = exc.details() if hasattr(exc, "details") else str(exc)
    metadata = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
    trailer: dict[str, Any] = dict(metadata or ())  # type: ignore[arg-type]  # grpc's stubs type it loosely
    if REASON_METADATA_KEY in trailer:
        hint = trailer.get(HINT_METADATA_KEY, b"")
        return CliError.from_reason(trailer[REASON_METADATA_KEY], details or "", hint.decode("utf-8", "replace"))
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return CliError(f"the daemon refused the call: {details}",
                        "the token file changed; run the command again or `stepaudio daemon restart`",
                        Reason.UNAVAILABLE)
    if code in _LOST:
        return CliError(f"lost the connection to the daemon ({details})",
                        "see `stepaudio daemon logs`; the next command restarts it", Reason.UNAVAILABLE)
    reason = _REASON_FOR_STATUS.get(code, Reason.UNAVAILABLE)  # type: ignore[arg-type]
    if reason is Reason.USAGE:
        return CliError(details or "", "", reason)
    return CliError(f"daemon error {code}: {details}", "see `stepaudio daemon logs`", reason)


def iterate_events(call) -> Iterator[pb.JobEvent]:
    try:
        yield from call
    except grpc.RpcError as exc:
        raise rpc_error(exc) from None
