"""CliError: one user-facing failure (message, hint, exit code); rendered in one place (app.main)."""
from __future__ import annotations

from stepaudio_protos.errors import Exit, default_hint, exit_code_for


class CliError(Exception):
    def __init__(self, message: str, hint: str = "", code: int = Exit.FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = int(code)

    @classmethod
    def from_reason(cls, reason: str, message: str, hint: str = "") -> "CliError":
        return cls(message, hint or default_hint(reason), exit_code_for(reason))
