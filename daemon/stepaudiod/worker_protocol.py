"""The daemon ↔ worker wire format: one JSON object per line over a private socketpair.

Why a socketpair and not the worker's stdin/stdout: libraries in the worker (funasr, transformers)
print to stdout, and a stray print must never corrupt the protocol. The worker's stdout is pointed at
its stderr, which the daemon keeps (the tail goes into crash messages).

Daemon → worker ("op"):  load{options} · clone{request} · edit{request} · transcribe{request} · cancel{target} ·
                         offload · resume · exit.  Every op but exit carries an "id".
Worker → daemon ("ev"):  ready{version, protocol, pid, engine} (once, unprompted) ·
                         progress{id, stage, fraction, detail} · ok{id, result} ·
                         error{id, reason, message, hint, trace} ·
                         audio{id, index, rate, encoding (s16le | f32le), pcm (base64)} for streamed jobs
"""
from __future__ import annotations

import json
from typing import Any

WORKER_PROTOCOL = 1
MAX_LINE = 16 * 1024 * 1024  # a runaway message must not eat the daemon's memory


def encode(message: dict[str, Any]) -> bytes:
    return (json.dumps(message, separators=(",", ":"), default=str) + "\n").encode()


def decode(line: bytes) -> dict[str, Any]:
    message = json.loads(line)
    if not isinstance(message, dict):
        raise ValueError("worker message is not an object")
    return message
