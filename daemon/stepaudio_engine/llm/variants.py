"""The three LLM variants and the model folder each one loads from (docs/engine/models.md#variants)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stepaudio_engine.api import EngineError, Reason


@dataclass(frozen=True)
class Variant:
    name: str
    folder: str
    description: str


VARIANTS: dict[str, Variant] = {
    "base": Variant("base", "Step-Audio-EditX",
                    "the released bf16 weights (7.1 GB); bf16 on CUDA, fp32 or bf16 on CPU"),
    "bnb": Variant("bnb", "Step-Audio-EditX-bnb-4bit",
                   "bitsandbytes 4-bit NF4 with double quantization, bf16 compute (CPU or CUDA)"),
    "awq": Variant("awq", "Step-Audio-EditX-AWQ-4bit",
                   "the released AWQ checkpoint: int4 packed weights, group 128, via compressed-tensors"),
}


def check_variant(variant: str) -> Variant:
    try:
        return VARIANTS[variant]
    except KeyError:
        raise EngineError(Reason.BAD_INPUT, f"unknown model variant {variant!r}",
                          f"use one of: {', '.join(VARIANTS)}") from None


def variant_folder(models_dir: Path, variant: str) -> Path:
    """The folder of `variant` under the models root (not checked for existence)."""
    return Path(models_dir) / check_variant(variant).folder
