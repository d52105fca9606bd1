"""Tiny model writer: a complete model folder in the released layout with tiny random weights.

Each part lives in its own module (tokenizer.py, llm.py, vocoder.py); write_tiny_models() composes
them and leaves a marker file, so the engine can tell the user that the output is noise. It exists to
exercise the real loading and pipeline code (tests, benchmarks, `stepaudio selftest`).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

TINY_VERSION = 2  # bump when the writers change what they write, so cached tiny folders are rebuilt


def write_tiny_models(root: Path, seed: int = 0) -> dict[str, Path]:
    """Write Step-Audio-Tokenizer/ and every LLM variant (each with its CosyVoice-300M-25Hz/) under root."""
    from stepaudio_engine.folders import TINY_MARKER
    from stepaudio_engine.tiny.llm import write_tiny_llm
    from stepaudio_engine.tiny.tokenizer import write_tiny_tokenizer
    from stepaudio_engine.tiny.vocoder import write_tiny_vocoder

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    write_tiny_tokenizer(root, seed=seed)
    variants = write_tiny_llm(root, seed=seed)
    for folder in variants.values():
        write_tiny_vocoder(folder, seed=seed)
    marker = {"version": TINY_VERSION, "seed": seed, "variants": sorted(variants),
              "note": "random weights written by stepaudio_engine.tiny: output is noise"}
    (root / TINY_MARKER).write_text(json.dumps(marker, indent=2))
    return variants


def ensure_tiny_models(root: Path, seed: int = 0) -> Path:
    """The tiny folder at root, written once (atomically: a temp folder renamed into place, so concurrent
    callers never see half a model)."""
    from stepaudio_engine.folders import TINY_MARKER

    root = Path(root)
    marker = root / TINY_MARKER
    if marker.exists() and json.loads(marker.read_text()).get("version") == TINY_VERSION:
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tiny-", dir=root.parent))
    try:
        write_tiny_models(tmp, seed=seed)
        if root.exists():
            shutil.rmtree(root)
        os.replace(tmp, root)
    except OSError:
        if not marker.exists():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root
