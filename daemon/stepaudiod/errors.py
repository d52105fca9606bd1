"""DaemonError: a failure with a stable reason (stepaudio_protos.errors.Reason), a message and a hint.

Engine errors cross the worker pipe as (reason, message, hint) and become DaemonError here; the
server turns them into Failed events (server.failed_event); the CLI maps the reason to an exit code.
"""
from __future__ import annotations

from stepaudio_protos.errors import Reason


class DaemonError(Exception):
    def __init__(self, reason: Reason | str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.reason = Reason.parse(reason)
        self.message = message
        self.hint = hint or self.reason.hint
