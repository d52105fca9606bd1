"""A protobuf wire-format decoder for the few reply messages the fast path reads, driven by a
hand-written schema. tests/cli/test_fast_path.py checks the schema against the generated
descriptor, so it cannot drift from stepaudio.proto.
"""
from __future__ import annotations

import struct

MYPY = False
if MYPY:  # typing costs the fast path ~1 ms to import; mypy reads this branch (TYPE_CHECKING without typing)
    from typing import Any


# message -> {field number: (name, kind, repeated)}; kind is a scalar type or another message name
SCHEMA: dict[str, dict[int, tuple[str, str, bool]]] = {
    "Setting": {1: ("name", "string", False), 2: ("value", "string", False), 3: ("source", "string", False)},
    "VariantStatus": {
        1: ("variant", "string", False), 2: ("tier", "string", False), 3: ("device", "string", False),
        4: ("worker_pid", "int32", False), 5: ("rss_bytes", "uint64", False), 6: ("vram_bytes", "uint64", False),
        7: ("model_bytes", "uint64", False), 8: ("load_time_s", "double", False),
        9: ("jobs_served", "uint32", False), 10: ("idle_s", "double", False), 11: ("next_tier", "string", False),
        12: ("next_tier_in_s", "double", False), 13: ("running_job", "string", False),
        14: ("keep_alive_s", "double", False), 15: ("folder", "string", False),
        16: ("kernel", "string", False), 17: ("bits", "uint32", False)},
    "QueuedJob": {1: ("job_id", "string", False), 2: ("kind", "string", False), 3: ("variant", "string", False),
                  4: ("position", "uint32", False), 5: ("waited_s", "double", False)},
    "CacheStatus": {1: ("path", "string", False), 2: ("hits", "uint64", False), 3: ("misses", "uint64", False),
                    4: ("entries", "uint64", False), 5: ("bytes", "uint64", False),
                    6: ("max_bytes", "uint64", False)},
    "StatusReply": {
        1: ("daemon_version", "string", False), 2: ("protocol_version", "uint32", False), 3: ("pid", "int32", False),
        4: ("uptime_s", "double", False), 5: ("socket", "string", False), 6: ("settings", "Setting", True),
        7: ("variants", "VariantStatus", True), 8: ("queue", "QueuedJob", True),
        9: ("queue_capacity", "uint32", False), 10: ("cache", "CacheStatus", False),
        11: ("daemon_rss_bytes", "uint64", False), 12: ("log_file", "string", False),
        13: ("idle_shutdown_in_s", "double", False)},
}
DEFAULTS = {"string": "", "double": 0.0, "int32": 0, "uint32": 0, "uint64": 0, "bool": False}
# the wire type each kind must arrive with (0 varint, 1 fixed64, 2 length-delimited); messages are 2
WIRE_TYPES = {"string": 2, "double": 1, "int32": 0, "uint32": 0, "uint64": 0, "bool": 0}


class WireError(ValueError):
    pass


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise WireError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _default(kind: str, repeated: bool) -> object:
    if repeated:
        return []
    return DEFAULTS[kind] if kind in DEFAULTS else decode(kind, b"")


def decode(message: str, buf: bytes) -> dict[str, object]:
    schema = SCHEMA[message]
    out: dict[str, Any] = {name: _default(kind, rep) for name, kind, rep in schema.values()}
    pos = 0
    value: Any
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise WireError(f"unsupported wire type {wire}")
        if pos > len(buf):
            raise WireError("truncated field")
        if number not in schema:
            continue  # a newer daemon's field: ignore, as protobuf does
        name, kind, repeated = schema[number]
        if wire != WIRE_TYPES.get(kind, 2):
            # e.g. a string field sent as a varint: bytes(2**60) would try to allocate exabytes
            raise WireError(f"field {name} has wire type {wire}")
        value = _convert(kind, wire, value)
        if repeated:
            out[name].append(value)
        else:
            out[name] = value
    return out


def _convert(kind: str, wire: int, value: Any) -> object:
    if kind == "string":
        return bytes(value).decode("utf-8")
    if kind == "double":
        return struct.unpack("<d", value)[0]
    if kind == "int32":
        return value - (1 << 64) if value >= 1 << 63 else value
    if kind in ("uint32", "uint64"):
        return value
    if kind == "bool":
        return bool(value)
    return decode(kind, bytes(value))
