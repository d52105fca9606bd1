"""DaemonError: a failure with a stable reason code (stepaudio_protos.errors.REASONS), a message and a hint.

Engine errors cross the worker pipe as (reason, message, hint) and become DaemonError here; the
server turns them into Failed events; the CLI maps the reason to an exit code.
"""
from __future__ import annotations

from stepaudio_protos.errors import default_hint


class DaemonError(Exception):
    def __init__(self, reason: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.hint = hint or default_hint(reason)
