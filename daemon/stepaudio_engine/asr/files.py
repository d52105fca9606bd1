"""Find and read the Paraformer ASR files inside `Step-Audio-Tokenizer/` (docs/engine/models.md#tokenizer-folder).

ASR needs only the FunASR folder: config.yaml, model.pt (encoder + CIF predictor + decoder), am.mvn and the
token list (tokens.json, a JSON list of 8501 strings; tokens.txt, one per line, is accepted as a fallback).
The vq02 codebook and the vq06 ONNX file are not needed, so this does not use `find_tokenizer_files`.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepaudio_engine.api import EngineError, Reason
from stepaudio_engine.load_errors import read_state_dict
from stepaudio_engine.tokenizer.folders import DOWNLOAD_HINT, FUNASR_MODEL_ID, resolve_tokenizer_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AsrFiles:
    folder: Path        # the FunASR Paraformer folder
    config: Path        # config.yaml
    weights: Path       # model.pt
    cmvn: Path          # am.mvn
    tokens: Path        # tokens.json (or tokens.txt)


def find_asr_files(tokenizer_dir: Path) -> AsrFiles:
    """Accept the Step-Audio-Tokenizer folder, the models root holding it, or the FunASR folder itself."""
    path = Path(tokenizer_dir)
    folder = path if (path / "model.pt").is_file() and (path / "am.mvn").is_file() else \
        resolve_tokenizer_dir(path) / FUNASR_MODEL_ID
    if not folder.is_dir():
        raise EngineError(Reason.MODEL_MISSING, f"ASR model folder not found: {folder}", DOWNLOAD_HINT)
    tokens = folder / "tokens.json"
    if not tokens.is_file() and (folder / "tokens.txt").is_file():
        tokens = folder / "tokens.txt"
    files = AsrFiles(folder=folder, config=folder / "config.yaml", weights=folder / "model.pt",
                     cmvn=folder / "am.mvn", tokens=tokens)
    for needed in (files.config, files.weights, files.cmvn, files.tokens):
        if not needed.is_file():
            raise EngineError(Reason.MODEL_MISSING, f"ASR model file missing: {needed}", DOWNLOAD_HINT)
    return files


def load_token_list(path: Path) -> list[str]:
    """tokens.json (JSON list of strings) or tokens.txt (one token per line); index = token id."""
    try:
        text = path.read_text(encoding="utf-8")
        tokens: Any = json.loads(text) if path.suffix == ".json" else text.splitlines()
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise EngineError(Reason.MODEL_CORRUPT, f"cannot read {path}: {exc}", DOWNLOAD_HINT) from exc
    if not isinstance(tokens, list) or not tokens or not all(isinstance(t, str) for t in tokens):
        raise EngineError(Reason.MODEL_CORRUPT, f"{path}: expected a non-empty list of token strings",
                          DOWNLOAD_HINT)
    return tokens


def load_weights(path: Path, prefixes: tuple[str, ...]):
    """The tensors of model.pt whose names start with one of `prefixes` (float32).

    The file is memory-mapped so tensors we do not ask for (e.g. the 630 MB encoder when it is shared with a
    DualTokenizer) are never read into memory; a legacy (non-zip) file falls back to a plain load.
    """
    import torch

    out = {}
    for name, tensor in read_state_dict(path, DOWNLOAD_HINT, mmap=True).items():
        if name.startswith(prefixes):
            out[name] = tensor.float().clone() if tensor.dtype != torch.float32 else tensor.clone()
    return out


def strict_load(module, weights: dict, prefix: str, path: Path, ignore: tuple[str, ...] = ()) -> None:
    """Load `prefix*` tensors into module; name every missing / unexpected / mis-shaped tensor on failure."""
    given = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix) and k not in ignore}
    expected = module.state_dict()
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    wrong = sorted(k for k in set(expected) & set(given) if tuple(expected[k].shape) != tuple(given[k].shape))
    if missing or unexpected or wrong:
        raise EngineError(Reason.MODEL_CORRUPT,
                          f"{path}: {prefix.rstrip('.')} weights do not match: missing {missing[:5]}, unexpected "
                          f"{unexpected[:5]}, wrong shape {wrong[:5]}", DOWNLOAD_HINT)
    module.load_state_dict(given, strict=True)
    log.debug("loaded %d %s tensors from %s", len(given), prefix, path)
