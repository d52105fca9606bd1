"""The error table at the CLI/daemon boundary (DESIGN.md §7, §8).

engine Reason → daemon reason (same codes plus daemon-only ones) → Failed.reason in the protocol →
CLI exit code. One table, imported by both sides, so a reason can never map to two exit codes.
"""
from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    """Documented exit codes of the `stepaudio` command."""

    OK = 0
    FAILED = 1        # the job failed or the input was bad
    USAGE = 2         # bad command line
    UNAVAILABLE = 3   # the daemon is not running / could not be started / is incompatible
    BUSY = 4          # the daemon's queue is full
    INTERRUPTED = 130  # Ctrl-C


# reason code -> (exit code, default hint). Reasons are stable UPPER_SNAKE strings.
REASONS: dict[str, tuple[Exit, str]] = {
    # raised by the engine (stepaudio_engine.api.Reason)
    "BAD_INPUT": (Exit.FAILED, "check the input file and options"),
    "MODEL_MISSING": (Exit.FAILED, "run `stepaudio models` to see what is installed, or pass --models-dir"),
    "MODEL_CORRUPT": (Exit.FAILED, "the model files do not match what stepaudio expects; download them again"),
    "OUT_OF_MEMORY": (Exit.FAILED, "unload other variants (`stepaudio unload --all`) or use --variant bnb/awq"),
    "CANCELLED": (Exit.INTERRUPTED, ""),
    "UNSUPPORTED": (Exit.FAILED, "try another --variant or device"),
    "INTERNAL": (Exit.FAILED, "this is a bug; `stepaudio daemon logs` shows details"),
    # raised by the daemon
    "BUSY": (Exit.BUSY, "the daemon's queue is full; retry later or raise queue_size"),
    "WORKER_CRASHED": (Exit.FAILED, "the model worker died; the next job starts a fresh one. "
                                    "`stepaudio daemon logs` shows more"),
    "LOAD_STALLED": (Exit.FAILED, "loading made no progress; check the model folder and `stepaudio daemon logs`"),
    "OUTPUT_EXISTS": (Exit.FAILED, "pass --force to overwrite it, or choose another -o"),
    "OUTPUT_UNWRITABLE": (Exit.FAILED, "choose an output path in a folder you can write to"),
    "UNKNOWN_VARIANT": (Exit.USAGE, "variants: base, bnb, awq"),
    "SHUTTING_DOWN": (Exit.UNAVAILABLE, "the daemon is stopping; run the command again"),
}


def exit_code_for(reason: str) -> Exit:
    return REASONS.get(reason, (Exit.FAILED, ""))[0]


def default_hint(reason: str) -> str:
    return REASONS.get(reason, (Exit.FAILED, ""))[1]
