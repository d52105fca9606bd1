"""HTTP errors in OpenAI's shape: {"error": {"message", "type", "param", "code"}}.

Every failure a route can meet becomes an ApiError at one boundary (`api_error_from`). Its HTTP status
comes from the one reason table (stepaudio_protos.errors.Reason.http_status) and `code` is the reason,
so a client sees the same codes as `stepaudio --json`. Only what is not a job's reason has its own
status: a wrong API key (401), an unknown path (404) or method (405). Anything unexpected is a 500
with a log line, never a traceback in the response.
"""
from __future__ import annotations

import logging
from typing import Optional

from stepaudio_cli.errors import CliError
from stepaudio_protos.errors import Reason
from stepaudio_serve.daemon_client import DaemonUnavailable, JobFailed

log = logging.getLogger("stepaudio_serve")

# OpenAI's error types by status
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error", 409: "conflict_error",
          413: "invalid_request_error", 429: "rate_limit_error", 503: "service_unavailable_error"}
RETRY_AFTER_S = 5  # what a 429 (queue full) or 503 tells a client to wait


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str = "", param: Optional[str] = None,
                 hint: str = "", headers: Optional[dict[str, str]] = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param
        self.hint, self.headers = hint, dict(headers or {})

    @classmethod
    def of(cls, reason: Reason, message: str, param: Optional[str] = None, hint: str = "",
           headers: Optional[dict[str, str]] = None) -> "ApiError":
        """An error whose status comes from the reason table."""
        status = reason.http_status
        if status in (429, 503) and headers is None:
            headers = {"Retry-After": str(RETRY_AFTER_S)}
        return cls(status, message, reason.value, param, hint, headers)

    def body(self) -> dict:
        text = self.message + (f" ({self.hint})" if self.hint else "")
        kind = _TYPES.get(self.status, "server_error" if self.status >= 500 else "invalid_request_error")
        return {"error": {"message": text, "type": kind, "param": self.param, "code": self.code or None}}


def bad_request(message: str, param: Optional[str] = None, hint: str = "",
                reason: Reason = Reason.BAD_INPUT) -> ApiError:
    return ApiError.of(reason, message, param, hint)


def api_error_from(exc: BaseException) -> ApiError:
    """The one translation of everything below the routes into an HTTP error."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, JobFailed):
        reason = Reason.parse(exc.reason)
        if reason.http_status >= 500:
            log.error("job failed: %s: %s", exc.reason, exc.message)
        return ApiError.of(reason, exc.message, hint=exc.hint)
    if isinstance(exc, DaemonUnavailable):
        log.error("daemon unavailable: %s", exc.message)
        return ApiError.of(Reason.UNAVAILABLE, exc.message, hint=exc.hint)
    if isinstance(exc, CliError):  # our own request checks, shared with the CLI
        hint = exc.hint
        if exc.reason is Reason.UNKNOWN_VOICE:
            hint = hint.replace("`stepaudio voices add`", "POST /v1/audio/voices or `stepaudio voices add`")
        param = "voice" if exc.reason is Reason.UNKNOWN_VOICE else None
        return ApiError.of(exc.reason, exc.message, param, hint)
    log.error("internal error", exc_info=exc)
    return ApiError.of(Reason.INTERNAL, f"internal error: {type(exc).__name__}",
                       hint="this is a bug; the server log has the traceback")
