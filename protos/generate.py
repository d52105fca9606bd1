"""Regenerate the committed protobuf/gRPC stubs: python protos/generate.py (needs grpcio-tools).

The stubs are committed so a fresh checkout imports without a build step; tests/test_protos_fresh.py
regenerates them into a temp dir and fails if they differ.
"""
from __future__ import annotations

import sys
from pathlib import Path

PROTO = "stepaudio_protos/v1/stepaudio.proto"


def generate(out_dir: Path) -> None:
    from grpc_tools import protoc

    root = Path(__file__).resolve().parent
    include = Path(protoc.__file__).parent / "_proto"
    args = ["protoc", f"-I{root}", f"-I{include}", f"--python_out={out_dir}", f"--pyi_out={out_dir}",
            f"--grpc_python_out={out_dir}", str(root / PROTO)]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
