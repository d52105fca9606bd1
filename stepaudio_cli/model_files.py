"""Which files each installed model part must hold, as a plain table the CLI can use without the engine.

The engine decides this in stepaudio_engine/folders.py, tokenizer/folders.py, llm/variants.py,
llm/checkpoint.py and vocoder/facade.py; the CLI must not import the engine (it pulls in torch), so the
table is repeated here: tests/cli/test_models.py checks it against the tiny model folder written by
stepaudio_engine.tiny.write_tiny_models, and tests/test_single_source.py against the engine's constants (names,
folders, Hugging Face repositories), so the two cannot drift apart. The variant names themselves come from
stepaudio_protos.facts.VARIANTS, the CLI's and daemon's one list.

Layout under the models root (docs/engine/models.md#layout; DESIGN.md §4):

    Step-Audio-Tokenizer/                  shared by every variant
    Step-Audio-EditX[-bnb-4bit|-AWQ-4bit]/ one LLM folder per variant
        CosyVoice-300M-25Hz/               vocoder (a variant without one uses the base folder's)
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from stepaudio_protos.facts import VARIANTS

TOKENIZER = "tokenizer"
TOKENIZER_FOLDER = "Step-Audio-Tokenizer"
PARAFORMER = "dengcunqin/speech_paraformer-large_asr_nat-zh-cantonese-en-16k-vocab8501-online"
TOKENIZER_FILES = ("linguistic_tokenizer.npy", "speech_tokenizer_v1.onnx", f"{PARAFORMER}/config.yaml",
                   f"{PARAFORMER}/model.pt", f"{PARAFORMER}/am.mvn")

VARIANT_FOLDERS = dict(zip(VARIANTS, ("Step-Audio-EditX", "Step-Audio-EditX-bnb-4bit", "Step-Audio-EditX-AWQ-4bit")))
LLM_FILES = ("config.json", "tokenizer.model", "tokenizer_config.json")
INDEX_FILE = "model.safetensors.index.json"   # sharded weights: the index names every shard
SINGLE_FILE = "model.safetensors"             # or one file (the bnb folder transformers writes)
VOCODER_FOLDER = "CosyVoice-300M-25Hz"
VOCODER_FILES = ("cosyvoice.yaml", "flow.pt", "hift.pt", "campplus.onnx")
TINY_MARKER = "stepaudio-tiny-model.json"

# Where `stepaudio models pull` downloads each part from (docs/engine/models.md#hugging-face-repositories).
# bnb has no released checkpoint: the engine's copy is stepaudio_engine/llm/variants.py (hf_repo, NO_BNB_REPO).
HF_REPOS = {"base": "stepfun-ai/Step-Audio-EditX", "awq": "stepfun-ai/Step-Audio-EditX-AWQ-4bit",
            TOKENIZER: "stepfun-ai/Step-Audio-Tokenizer"}
BNB_HINT = ("there is no released bnb checkpoint: the bnb folder holds the base weights (a copy or links), "
            "quantised while loading, or a pre-quantised copy; see README: Models")


@dataclass
class PartStatus:
    """One installed part (the tokenizer or an LLM variant) as found on disk."""

    name: str                      # tokenizer | base | bnb | awq
    folder: Path
    installed: bool                # the folder exists
    missing: list[str] = field(default_factory=list)   # expected files absent, relative to the models root
    size_bytes: int = 0            # bytes of every file under the folder
    vocoder: Path | None = None    # the vocoder folder a variant uses (its own or the base one)
    tiny: bool = False
    release: str = ""              # LLM variants: "2025-11" | "2026-01" (model_release); "" for the tokenizer

    @property
    def complete(self) -> bool:
        return self.installed and not self.missing

    def to_dict(self) -> dict:
        return {"name": self.name, "folder": str(self.folder), "installed": self.installed,
                "complete": self.complete, "missing": self.missing, "size_bytes": self.size_bytes,
                "vocoder": str(self.vocoder) if self.vocoder else None, "tiny": self.tiny,
                "release": self.release or None}


def model_release(llm_folder: Path) -> str:
    """Which release of the weights an LLM folder holds: "2026-01" when it has a chat template (upstream's
    2026 code needs one), else "2025-11" (docs/engine/upstream-2026.md#telling-the-releases-apart). The
    engine's copy is stepaudio_engine.release.detect_release; tests/cli/test_models.py keeps them equal."""
    import json

    if (llm_folder / "chat_template.jinja").is_file():
        return "2026-01"
    try:
        data = json.loads((llm_folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "2025-11"
    template = data.get("chat_template") if isinstance(data, dict) else None
    if isinstance(template, list):
        template = next((t.get("template") for t in template if isinstance(t, dict) and t.get("name") == "default"),
                        None)
    return "2026-01" if isinstance(template, str) and template.strip() else "2025-11"


def folder_size(folder: Path) -> int:
    """Bytes of the regular files under folder (symlinks not followed; hub caches are skipped)."""
    total = 0
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d != ".cache"]
        for name in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            total += st.st_size
    return total


def weight_files(llm: Path) -> tuple[list[str], list[str]]:
    """(expected weight files, problems) of an LLM folder: the index plus every shard it names, or the
    single model.safetensors."""
    index = llm / INDEX_FILE
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return [INDEX_FILE], [f"{INDEX_FILE} (unreadable)"]
        return [INDEX_FILE, *shards], []
    if (llm / SINGLE_FILE).is_file():
        return [SINGLE_FILE], []
    return [], [f"{INDEX_FILE} or {SINGLE_FILE}"]


def expected_files(root: Path, part: str) -> list[str]:
    """Files (relative to the models root) one part needs, as far as can be known without reading weights."""
    if part == TOKENIZER:
        return [f"{TOKENIZER_FOLDER}/{name}" for name in TOKENIZER_FILES]
    folder = VARIANT_FOLDERS[part]
    weights, _ = weight_files(root / folder)
    files = [f"{folder}/{name}" for name in (*LLM_FILES, *weights)]
    vocoder = vocoder_folder(root, part)
    files += [f"{vocoder.relative_to(root)}/{name}" for name in VOCODER_FILES]
    return files


def vocoder_folder(root: Path, variant: str) -> Path:
    """The variant's own CosyVoice folder, else the base folder's (as stepaudio_engine.folders decides)."""
    own = root / VARIANT_FOLDERS[variant] / VOCODER_FOLDER
    if own.is_dir() or variant == "base":
        return own
    return root / VARIANT_FOLDERS["base"] / VOCODER_FOLDER


def part_status(root: Path, part: str) -> PartStatus:
    folder = root / (TOKENIZER_FOLDER if part == TOKENIZER else VARIANT_FOLDERS[part])
    status = PartStatus(part, folder, folder.is_dir(), tiny=(root / TINY_MARKER).exists())
    if not status.installed:
        return status
    status.missing = [rel for rel in expected_files(root, part) if not (root / rel).is_file()]
    if part != TOKENIZER:
        status.missing += [f"{folder.name}/{p}" for p in weight_files(folder)[1]]
        status.vocoder = vocoder_folder(root, part)
        status.release = model_release(folder)
    status.size_bytes = folder_size(folder)
    return status


def all_parts() -> list[str]:
    return [TOKENIZER, *VARIANT_FOLDERS]


def list_models(root: Path) -> list[PartStatus]:
    """The tokenizer and every variant, installed or not."""
    return [part_status(Path(root), part) for part in all_parts()]
