"""CliError: one user-facing failure (reason, message, hint); rendered in one place (app.main).

The reason (stepaudio_protos.errors.Reason) decides the exit code and is what `--json` reports.
Callers that only know an exit code may pass an Exit: it stands for its usual reason
(stepaudio_protos.errors.REASON_FOR_EXIT).
"""
from __future__ import annotations

from stepaudio_protos.errors import REASON_FOR_EXIT, Exit, Reason


class CliError(Exception):
    def __init__(self, message: str, hint: str = "", reason: Reason | Exit = Reason.BAD_INPUT) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.reason = reason if isinstance(reason, Reason) else REASON_FOR_EXIT[Exit(reason)]

    @property
    def code(self) -> int:
        return int(self.reason.exit_code)

    def as_json(self) -> dict:
        """The `error` object of every `--json` output (docs/json.md)."""
        return {"reason": self.reason.value, "message": self.message, "hint": self.hint}

    @classmethod
    def from_reason(cls, reason: Reason | str, message: str, hint: str = "") -> "CliError":
        reason = Reason.parse(reason)
        return cls(message, hint or reason.hint, reason)


def stdout_closed() -> int:
    """The reader of our stdout went away (`stepaudio status | head -1`): stop quietly, as Unix filters do
    (exit 141 = 128 + SIGPIPE). stdout now points at /dev/null, so Python's final flush cannot complain."""
    import os
    import sys

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return 141

