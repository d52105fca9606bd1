"""The error model of stepaudio: one `Reason` per kind of failure, each with its exit code, HTTP status
and default hint (DESIGN.md §7, §8). Stdlib only; imported by the CLI, the daemon and front ends.

    engine (stepaudio_engine.api.Reason, a subset: tests/daemon/test_reasons.py)
      → daemon (DaemonError.reason) → protocol (Failed.reason, a Reason value)
      → CLI (CliError.reason → exit code, `--json` "reason")  ·  HTTP front end (Reason.http_status)

Use it like this:

    reason = Reason.parse(failed.reason)   # a wire string → Reason (unknown strings → INTERNAL)
    reason.exit_code                       # Exit.BUSY for Reason.BUSY: what `stepaudio` exits with
    reason.http_status                     # 429 for Reason.BUSY: what an HTTP front end answers
    reason.hint                            # the default "what to do" line

HTTP statuses: 400 bad input or usage, 404 unknown voice or variant, 409 output exists, 413 input too
large, 429 busy, 499 cancelled (the client went away or asked for it: nginx's "client closed
request", never seen by a client that is still listening), 503 the daemon cannot serve now (stopping,
unreachable, model not installed, out of memory: retry later or elsewhere), 507 output unwritable
(disk full), 500 a bug or a crash.

Reason values are stable UPPER_SNAKE strings: scripts read them in `--json` output. Add new ones at the
end of the table; never rename one.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum

from stepaudio_protos.facts import VARIANTS


class Exit(IntEnum):
    """Documented exit codes of the `stepaudio` command."""

    OK = 0
    FAILED = 1        # the job failed or the input was bad
    USAGE = 2         # bad command line
    UNAVAILABLE = 3   # the daemon is not running / could not be started / is incompatible
    BUSY = 4          # the daemon's queue is full
    INTERRUPTED = 130  # Ctrl-C


@dataclass(frozen=True)
class _Row:
    exit_code: Exit
    http_status: int
    hint: str


class Reason(str, Enum):
    """Why something failed. `.exit_code`, `.http_status` and `.hint` come from one table below."""

    # raised by the engine (stepaudio_engine.api.Reason is a subset)
    BAD_INPUT = "BAD_INPUT"                  # the audio/text/options given cannot be used
    MODEL_MISSING = "MODEL_MISSING"          # a model file or folder is absent
    MODEL_CORRUPT = "MODEL_CORRUPT"          # a model file is unreadable or has the wrong shapes
    OUT_OF_MEMORY = "OUT_OF_MEMORY"          # the device or host ran out of memory
    CANCELLED = "CANCELLED"                  # the client cancelled (Ctrl-C, closed stream, Cancel RPC)
    UNSUPPORTED = "UNSUPPORTED"              # a valid request this build/device cannot serve
    OUTPUT_UNWRITABLE = "OUTPUT_UNWRITABLE"  # the output could not be written (disk full, permissions)
    INTERNAL = "INTERNAL"                    # a bug: anything else
    # raised by the daemon
    BUSY = "BUSY"                            # the queue is full, or every loaded variant is busy
    WORKER_CRASHED = "WORKER_CRASHED"        # the model worker died during the job
    LOAD_STALLED = "LOAD_STALLED"            # loading (or a worker op) made no progress in time
    OUTPUT_EXISTS = "OUTPUT_EXISTS"          # the output file exists and --force was not given
    UNKNOWN_VARIANT = "UNKNOWN_VARIANT"      # no such model variant
    SHUTTING_DOWN = "SHUTTING_DOWN"          # the daemon is stopping
    # raised by the CLI (and front ends) before or instead of talking to the daemon
    USAGE = "USAGE"                          # a malformed command line or batch line
    UNAVAILABLE = "UNAVAILABLE"              # the daemon is not running, unreachable or incompatible
    UNKNOWN_VOICE = "UNKNOWN_VOICE"          # no saved voice of that name
    TOO_LARGE = "TOO_LARGE"                  # an input is over its size limit
    # raised by the daemon (added later; the table only grows at the end)
    JOB_STALLED = "JOB_STALLED"              # a running job's worker reported no progress for job_stall_timeout
    UNLOADED = "UNLOADED"                    # `unload --force` killed the worker while the job ran

    @classmethod
    def parse(cls, value: "str | Reason") -> "Reason":
        """The Reason for a wire string; a code this build does not know is INTERNAL (a newer daemon)."""
        try:
            return cls(value)
        except ValueError:
            return cls.INTERNAL

    @property
    def exit_code(self) -> Exit:
        return _TABLE[self].exit_code

    @property
    def http_status(self) -> int:
        return _TABLE[self].http_status

    @property
    def hint(self) -> str:
        return _TABLE[self].hint


_TABLE: dict[Reason, _Row] = {
    Reason.BAD_INPUT: _Row(Exit.FAILED, 400, "check the input file and options"),
    Reason.MODEL_MISSING: _Row(Exit.FAILED, 503, "run `stepaudio models` to see what is installed; another "
                                                 "folder: `stepaudio config set models_dir DIR`, then "
                                                 "`stepaudio daemon restart`"),
    Reason.MODEL_CORRUPT: _Row(Exit.FAILED, 500, "the model files do not match what stepaudio expects; "
                                                 "download them again"),
    Reason.OUT_OF_MEMORY: _Row(Exit.FAILED, 503, "unload other variants (`stepaudio unload --all`) "
                                                 "or use --variant bnb/awq"),
    Reason.CANCELLED: _Row(Exit.INTERRUPTED, 499, ""),
    Reason.UNSUPPORTED: _Row(Exit.FAILED, 400, "try another --variant or device"),
    Reason.OUTPUT_UNWRITABLE: _Row(Exit.FAILED, 507, "choose an output path in a folder you can write to"),
    Reason.INTERNAL: _Row(Exit.FAILED, 500, "this is a bug; `stepaudio daemon logs` shows details"),
    Reason.BUSY: _Row(Exit.BUSY, 429, "the daemon's queue is full; retry later or raise queue_size"),
    Reason.WORKER_CRASHED: _Row(Exit.FAILED, 500, "the model worker died; the next job starts a fresh one. "
                                                  "`stepaudio daemon logs` shows more"),
    Reason.LOAD_STALLED: _Row(Exit.FAILED, 500, "loading made no progress; check the model folder and "
                                                "`stepaudio daemon logs`"),
    Reason.OUTPUT_EXISTS: _Row(Exit.FAILED, 409, "pass --force to overwrite it, or choose another -o"),
    Reason.UNKNOWN_VARIANT: _Row(Exit.USAGE, 404, f"variants: {', '.join(VARIANTS)}"),
    Reason.SHUTTING_DOWN: _Row(Exit.UNAVAILABLE, 503, "the daemon is stopping; run the command again"),
    Reason.USAGE: _Row(Exit.USAGE, 400, "see `stepaudio COMMAND --help`"),
    Reason.UNAVAILABLE: _Row(Exit.UNAVAILABLE, 503, "start it with `stepaudio daemon start`; "
                                                    "`stepaudio daemon logs` shows why it stopped"),
    Reason.UNKNOWN_VOICE: _Row(Exit.FAILED, 404, "`stepaudio voices list` shows the saved voices"),
    Reason.TOO_LARGE: _Row(Exit.FAILED, 413, "give a shorter input"),
    Reason.JOB_STALLED: _Row(Exit.FAILED, 500, "the worker was stopped and the next job starts a fresh one; "
                                               "`stepaudio daemon logs` shows its last output (raise "
                                               "job_stall_timeout if a job may be silent that long)"),
    Reason.UNLOADED: _Row(Exit.FAILED, 503, "someone ran `stepaudio unload --force`; run the job again"),
}

# Unary RPCs that fail with a daemon error carry its reason and hint in these trailing metadata keys
# (Submit and Load report failures as Failed events instead).
REASON_METADATA_KEY = "x-stepaudio-reason"
HINT_METADATA_KEY = "x-stepaudio-hint-bin"  # -bin: UTF-8 bytes (metadata text must be ASCII)

# An exit code a caller gave without a reason → the reason it stands for (CliError(..., Exit.USAGE)).
REASON_FOR_EXIT: dict[Exit, Reason] = {
    Exit.FAILED: Reason.BAD_INPUT, Exit.USAGE: Reason.USAGE, Exit.UNAVAILABLE: Reason.UNAVAILABLE,
    Exit.BUSY: Reason.BUSY, Exit.INTERRUPTED: Reason.CANCELLED,
}


def exit_code_for(reason: str) -> Exit:
    return Reason.parse(reason).exit_code


def default_hint(reason: str) -> str:
    return Reason.parse(reason).hint
