"""Reading the released sharded safetensors: `model.safetensors.index.json` + `model-0000N-of-0000M.safetensors`
(or a single `model.safetensors`). Headers are read first so the contract can be checked before any data."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from stepaudio_engine.api import EngineError, Reason

log = logging.getLogger(__name__)

INDEX_FILE = "model.safetensors.index.json"
SINGLE_FILE = "model.safetensors"

_REDOWNLOAD = "download the model folder again"


@dataclass
class Checkpoint:
    """Tensor names -> shard file, shape and dtype; tensors are read on demand."""

    folder: Path
    files: dict[str, Path]
    shapes: dict[str, tuple[int, ...]]
    dtypes: dict[str, str]
    _handles: dict[Path, Any] = field(default_factory=dict, repr=False)

    def tensor(self, name: str) -> torch.Tensor:
        """The tensor `name` on the CPU, in its stored dtype."""
        path = self.files[name]
        handle = self._handles.get(path)
        if handle is None:
            handle = self._handles[path] = _open(path)
        try:
            return handle.get_tensor(name)
        except Exception as exc:  # safetensors raises its own error types for truncated data
            raise EngineError(Reason.MODEL_CORRUPT, f"cannot read tensor {name} from {path}: {exc}",
                              _REDOWNLOAD) from exc

    def close(self) -> None:
        self._handles.clear()

    def total_bytes(self) -> int:
        return sum(p.stat().st_size for p in set(self.files.values()))


def _open(path: Path) -> Any:
    try:
        return safe_open(str(path), framework="pt", device="cpu")
    except Exception as exc:
        raise EngineError(Reason.MODEL_CORRUPT, f"{path} is not a readable safetensors file: {exc}",
                          _REDOWNLOAD) from exc


def shard_map(folder: Path) -> dict[str, Path]:
    """Tensor name -> shard path, from the index (or every tensor of a single model.safetensors)."""
    folder = Path(folder)
    index = folder / INDEX_FILE
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise EngineError(Reason.MODEL_CORRUPT, f"{index} is not a valid safetensors index: {exc}",
                              _REDOWNLOAD) from exc
        files = {name: folder / shard for name, shard in weight_map.items()}
        absent = sorted({p.name for p in files.values() if not p.is_file()})
        if absent:
            raise EngineError(Reason.MODEL_MISSING, f"{folder} lacks shard file(s) {', '.join(absent)}",
                              "the download is incomplete; download the folder again")
        return files
    single = folder / SINGLE_FILE
    if single.is_file():
        return {name: single for name in _open(single).keys()}
    raise EngineError(Reason.MODEL_MISSING, f"{folder} has no {INDEX_FILE} and no {SINGLE_FILE}",
                      "download the model weights into this folder")


def open_checkpoint(folder: Path) -> Checkpoint:
    """Read every shard's header; fail with MODEL_CORRUPT if the index names a tensor a shard lacks."""
    files = shard_map(folder)
    shapes: dict[str, tuple[int, ...]] = {}
    dtypes: dict[str, str] = {}
    by_file: dict[Path, list[str]] = {}
    for name, path in files.items():
        by_file.setdefault(path, []).append(name)
    handles = {}
    for path, names in by_file.items():
        handle = handles[path] = _open(path)
        present = set(handle.keys())
        lost = [n for n in names if n not in present]
        if lost:
            raise EngineError(Reason.MODEL_CORRUPT,
                              f"{path.name} lacks tensor(s) the index puts there: {', '.join(lost[:8])}",
                              _REDOWNLOAD)
        for name in names:
            piece = handle.get_slice(name)
            shapes[name] = tuple(int(d) for d in piece.get_shape())
            dtypes[name] = str(piece.get_dtype())
    log.debug("checkpoint %s: %d tensors in %d file(s)", folder, len(files), len(by_file))
    return Checkpoint(Path(folder), files, shapes, dtypes, handles)
