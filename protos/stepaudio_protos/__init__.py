"""stepaudio_protos: the stepaudio.v1 protocol, its generated stubs, and what both sides share.

Kept import-light on purpose: the CLI imports this on every start (no grpc, no protobuf here; the
generated stubs live in stepaudio_protos.v1 and are imported only by code that talks gRPC).
"""

from __future__ import annotations

import os
import sys

# Bump on any incompatible change to stepaudio.proto or to the meaning of a field.
PROTOCOL_VERSION = 1

# Call metadata key that carries the daemon's token (DESIGN.md §6).
TOKEN_METADATA_KEY = "x-stepaudio-token"


def __getattr__(name: str) -> str:
    """`__version__`: pyproject.toml is the one place the version is written; this reads it from the installed
    distribution's metadata on first use (and caches it)."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = _installed_version()
    globals()["__version__"] = value
    return value


def _installed_version() -> str:
    """What importlib.metadata.version("stepaudio") returns (tests/test_single_source.py checks that), found the
    way it finds it (the first stepaudio dist-info/egg-info on sys.path), without importing importlib.metadata:
    that import costs more than the whole `stepaudio status` fast path (DESIGN.md §7)."""
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        for folder in names:
            ours = folder.split("-")[0].split(".")[0].lower() == "stepaudio"
            if ours and folder.endswith((".dist-info", ".egg-info")):
                found = _metadata_version(os.path.join(entry or ".", folder))
                if found:
                    return found
    from importlib.metadata import PackageNotFoundError, version   # an unusual layout: ask the slow way

    try:
        return version("stepaudio")
    except PackageNotFoundError:
        return "0+unknown"   # a source tree that was never installed


def _metadata_version(folder: str) -> str:
    for name in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as fh:
                for line in fh:
                    if line.startswith("Version:"):
                        return line.split(":", 1)[1].strip()
                    if not line.strip():
                        break   # the headers end at the first blank line
        except OSError:
            continue
    return ""
