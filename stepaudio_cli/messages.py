"""Protobuf replies → plain dicts (for --json and the status renderer), without json_format
(which renders 64-bit integers as strings)."""
from __future__ import annotations

from typing import Any


def message_dict(msg: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in msg.DESCRIPTOR.fields:
        value = getattr(msg, field.name)
        mtype = field.message_type
        if mtype is not None and mtype.GetOptions().map_entry:
            out[field.name] = dict(value)
        elif mtype is not None and _repeated(field):
            out[field.name] = [message_dict(v) for v in value]
        elif mtype is not None:
            out[field.name] = message_dict(value)
        elif _repeated(field):
            out[field.name] = list(value)
        else:
            out[field.name] = value
    return out


def _repeated(field: Any) -> bool:
    # protobuf ≥ 5 has is_repeated; older versions only label
    flag = getattr(field, "is_repeated", None)
    return bool(flag) if flag is not None else field.label == field.LABEL_REPEATED
