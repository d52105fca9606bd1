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


# A chat template WE wrote with the 2025 turn layout (<s>, <|BOT|>role⏎content<|EOT|>, user → human), used to
# make a tiny folder look like a 2026-01 release (stepaudio_engine.release). Upstream's real template ships
# only inside the 2026 model folder; this one is for tests of the 2026 code path, not a copy of it.
TEST_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|BOT|>{{ 'human' if m['role'] == 'user' else m['role'] }}\n"
    "{{ m['content'] }}<|EOT|>{% endfor %}{% if add_generation_prompt %}<|BOT|>assistant\n{% endif %}")


def tiny_as_2026(tiny_root: Path, dest: Path) -> Path:
    """A models folder at `dest` that shares every file of the tiny folder (symlinks) but whose base LLM
    folder has a chat template, i.e. reads as the 2026-01 release. Returns dest."""
    from stepaudio_engine.llm.variants import variant_folder

    tiny_root, dest = Path(tiny_root), Path(dest)
    dest.mkdir(parents=True)
    base = variant_folder(tiny_root, "base")
    for item in tiny_root.iterdir():
        if item != base:
            os.symlink(item, dest / item.name)
    llm = dest / base.name
    llm.mkdir()
    for item in base.iterdir():
        if item.name != "tokenizer_config.json":
            os.symlink(item, llm / item.name)
    config_path = base / "tokenizer_config.json"
    config = json.loads(config_path.read_text()) if config_path.exists() else {}
    (llm / "tokenizer_config.json").write_text(json.dumps({**config, "chat_template": TEST_CHAT_TEMPLATE}))
    return dest
