"""HTTP errors in OpenAI's shape: {"error": {"message", "type", "param", "code"}}.

Every failure a route can meet becomes an ApiError at one boundary (`api_error_from`): a job's
reason code (stepaudio_protos.errors) picks the HTTP status from one table, the daemon being
unreachable is 503, a CLI-side validation error is 400/404. Anything else is a 500 with a log line,
never a traceback in the response.
"""
from __future__ import annotations

import logging
from typing import Optional

from stepaudio_cli.errors import CliError
from stepaudio_protos.errors import Exit
from stepaudio_serve.daemon_client import DaemonUnavailable, JobFailed

log = logging.getLogger("stepaudio_serve")

# reason code -> HTTP status. Unknown reasons are 500.
REASON_STATUS: dict[str, int] = {
    "BAD_INPUT": 400,
    "UNSUPPORTED": 400,
    "UNKNOWN_VARIANT": 404,
    "UNKNOWN_VOICE": 404,
    "TOO_LARGE": 413,
    "BUSY": 429,
    "CANCELLED": 499,
    "MODEL_MISSING": 503,
    "MODEL_CORRUPT": 503,
    "OUT_OF_MEMORY": 503,
    "WORKER_CRASHED": 503,
    "LOAD_STALLED": 503,
    "SHUTTING_DOWN": 503,
    "OUTPUT_EXISTS": 500,
    "OUTPUT_UNWRITABLE": 500,
    "INTERNAL": 500,
}
# OpenAI's error types by status family
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
          413: "invalid_request_error", 429: "rate_limit_error", 503: "service_unavailable_error"}
RETRY_AFTER_S = 5  # what a 429 (queue full) or 503 tells a client to wait


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str = "", param: Optional[str] = None,
                 hint: str = "", headers: Optional[dict[str, str]] = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param
        self.hint, self.headers = hint, dict(headers or {})

    def body(self) -> dict:
        text = self.message + (f" ({self.hint})" if self.hint else "")
        return {"error": {"message": text, "type": _TYPES.get(self.status, "server_error" if self.status >= 500
                                                               else "invalid_request_error"),
                          "param": self.param, "code": self.code or None}}


def bad_request(message: str, param: Optional[str] = None, hint: str = "", code: str = "BAD_INPUT") -> ApiError:
    return ApiError(400, message, code, param, hint)


def api_error_from(exc: BaseException) -> ApiError:
    """The one translation of everything below the routes into an HTTP error."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, JobFailed):
        status = REASON_STATUS.get(exc.reason, 500)
        headers = {"Retry-After": str(RETRY_AFTER_S)} if status in (429, 503) else {}
        if status == 500:
            log.error("job failed: %s: %s", exc.reason, exc.message)
        return ApiError(status, exc.message, exc.reason, hint=exc.hint, headers=headers)
    if isinstance(exc, DaemonUnavailable):
        log.error("daemon unavailable: %s", exc.message)
        return ApiError(503, exc.message, "DAEMON_UNAVAILABLE", hint=exc.hint,
                        headers={"Retry-After": str(RETRY_AFTER_S)})
    if isinstance(exc, CliError):  # our own request checks, shared with the CLI
        from stepaudio_cli.voice_store import UnknownVoice

        if isinstance(exc, UnknownVoice):
            hint = exc.hint.replace("`stepaudio voices add`", "POST /v1/audio/voices or `stepaudio voices add`")
            return ApiError(404, exc.message, "UNKNOWN_VOICE", "voice", hint)
        if exc.code == Exit.UNAVAILABLE:
            return ApiError(503, exc.message, "DAEMON_UNAVAILABLE", hint=exc.hint)
        return ApiError(400, exc.message, "BAD_INPUT", hint=exc.hint)
    log.exception("internal error", exc_info=exc)
    return ApiError(500, f"internal error: {type(exc).__name__}", "INTERNAL",
                    hint="this is a bug; the server log has the traceback")
