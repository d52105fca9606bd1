"""The model folders one variant needs, found under the models root (docs/engine/models.md#layout; UP:app.py):

    <models>/Step-Audio-Tokenizer/                 dual audio tokenizer (shared by all variants)
    <models>/<variant folder>/                     step1 LLM (Step-Audio-EditX, -bnb-4bit, -AWQ-4bit)
    <models>/<variant folder>/CosyVoice-300M-25Hz/ vocoder (upstream loads it from the LLM folder; a
                                                   variant folder without one uses the base folder's)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stepaudio_engine.api import EngineError, Reason
from stepaudio_engine.llm.variants import NO_BNB_REPO, VARIANTS, check_variant, variant_folder
from stepaudio_engine.tokenizer.folders import TOKENIZER_FOLDER

VOCODER_FOLDER = "CosyVoice-300M-25Hz"
TINY_MARKER = "stepaudio-tiny-model.json"


@dataclass(frozen=True)
class ModelFolders:
    root: Path
    tokenizer: Path
    llm: Path
    vocoder: Path
    tiny: bool          # written by stepaudio_engine.tiny: random weights, output is noise


def find_model_folders(models_dir: str | Path, variant: str) -> ModelFolders:
    root = Path(models_dir).expanduser()
    check_variant(variant)
    if not root.is_dir():
        raise EngineError(Reason.MODEL_MISSING, f"models folder not found: {root}",
                          "download the models into it (see README: Models), or point the daemon at your "
                          "folder: stepaudio config set models_dir DIR, then stepaudio daemon restart")
    llm = variant_folder(root, variant)
    if not llm.is_dir():
        raise EngineError(Reason.MODEL_MISSING, f"the {variant} variant is not installed: {llm} is missing",
                          _download_hint(variant, llm))
    vocoder = llm / VOCODER_FOLDER
    if not vocoder.is_dir():
        vocoder = variant_folder(root, "base") / VOCODER_FOLDER
    if not vocoder.is_dir():
        raise EngineError(Reason.MODEL_MISSING, f"vocoder folder not found: {llm / VOCODER_FOLDER}",
                          f"it ships inside {VARIANTS['base'].hf_repo}; download that repository")
    return ModelFolders(root=root, tokenizer=root / TOKENIZER_FOLDER, llm=llm, vocoder=vocoder,
                        tiny=(root / TINY_MARKER).exists())


def _download_hint(variant: str, folder: Path) -> str:
    repo = VARIANTS[variant].hf_repo
    return f"download it: stepaudio models pull {variant} (or huggingface-cli download {repo} --local-dir {folder})" \
        if repo else NO_BNB_REPO
