"""The step1 LLM of Step-Audio-EditX: model, loading (base / bnb / awq), text tokenizer, prompts, sampling.

Importing this package stays torch-free; `load_llm` and `LoadedLLM` import torch on first use.
Modules: config (config.json), model (the torch module), contract (expected tensors), checkpoint (safetensors
shards), loading (load_llm and the table of loaders), tensors (helpers the loaders share), dense (base),
quant_bnb / quant_awq (4-bit variants), variants (folder names),
text_tokenizer (SentencePiece), prompts (clone/edit prompt ids), sampling (generate).
"""
from __future__ import annotations

from typing import Any

from .variants import VARIANTS, Variant, variant_folder

__all__ = ["VARIANTS", "Variant", "variant_folder", "load_llm", "LoadedLLM"]


def __getattr__(name: str) -> Any:
    if name in ("load_llm", "LoadedLLM"):
        from . import loading
        return getattr(loading, name)
    raise AttributeError(name)
