"""Daemon errors → the wire, in one place: Failed events for streaming calls, and a catch-all
interceptor for unary calls (as text-generation-inference's exception interceptor does).

A unary call that raises DaemonError fails with the gRPC status of its reason and the reason and hint
in trailing metadata (stepaudio_protos.errors.REASON_METADATA_KEY); any other exception is a daemon
bug: it is logged with its traceback and the client gets INTERNAL, never the traceback.
"""
from __future__ import annotations

import logging

import grpc

from stepaudio_protos.errors import HINT_METADATA_KEY, REASON_METADATA_KEY, Reason
from stepaudio_protos.v1 import stepaudio_pb2 as pb
from stepaudiod.errors import DaemonError

log = logging.getLogger(__name__)

# reason → gRPC status of a failed unary call; reasons not listed are INTERNAL
_STATUS: dict[Reason, grpc.StatusCode] = {
    Reason.BAD_INPUT: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.USAGE: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.UNKNOWN_VARIANT: grpc.StatusCode.INVALID_ARGUMENT,
    Reason.BUSY: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Reason.SHUTTING_DOWN: grpc.StatusCode.UNAVAILABLE,
}


def failed_event(exc: DaemonError, job_id: str = "") -> pb.JobEvent:
    """The Failed event of a job (or of a request that never became one)."""
    return pb.JobEvent(job_id=job_id, failed=pb.Failed(reason=exc.reason.value, message=exc.message, hint=exc.hint))


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Wrap every unary-unary handler so no exception reaches grpc as a traceback."""

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        return grpc.unary_unary_rpc_method_handler(
            _guard(details.method, handler.unary_unary), request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)


def _guard(method: str, behaviour):
    async def guarded(request, context):
        try:
            return await behaviour(request, context)
        except grpc.aio.AbortError:
            raise  # the handler chose its own status
        except DaemonError as exc:
            await _abort(context, _STATUS.get(exc.reason, grpc.StatusCode.INTERNAL), exc)
        except Exception as exc:  # a daemon bug: log it, answer INTERNAL, keep serving
            log.exception("%s failed unexpectedly", method)
            await _abort(context, grpc.StatusCode.INTERNAL,
                         DaemonError(Reason.INTERNAL, f"the daemon failed on {method.rsplit('/', 1)[-1]}: "
                                                      f"{type(exc).__name__}: {exc}"))
    return guarded


async def _abort(context, status: grpc.StatusCode, exc: DaemonError) -> None:
    await context.abort(status, exc.message, trailing_metadata=(
        (REASON_METADATA_KEY, exc.reason.value), (HINT_METADATA_KEY, exc.hint.encode())))
