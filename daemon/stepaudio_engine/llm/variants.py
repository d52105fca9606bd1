"""The three LLM variants, the model folder each one loads from and the Hugging Face repository it comes from
(docs/engine/models.md#variants, #hugging-face-repositories).

The engine must not import the protocol package, so the CLI keeps its own copy of these names
(stepaudio_protos.settings.VARIANTS, stepaudio_cli/model_files.py); tests/test_single_source.py keeps them equal.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stepaudio_engine.api import EngineError, Reason


@dataclass(frozen=True)
class Variant:
    name: str
    folder: str
    description: str
    hf_repo: str = ""          # "" = no released checkpoint (bnb: made from the base weights)


VARIANTS: dict[str, Variant] = {
    "base": Variant("base", "Step-Audio-EditX",
                    "the released bf16 weights (7.1 GB); bf16 on CUDA, fp32 or bf16 on CPU",
                    "stepfun-ai/Step-Audio-EditX"),
    "bnb": Variant("bnb", "Step-Audio-EditX-bnb-4bit",
                   "bitsandbytes 4-bit NF4 with double quantization, bf16 compute (CPU or CUDA)"),
    "awq": Variant("awq", "Step-Audio-EditX-AWQ-4bit",
                   "the released AWQ checkpoint: int4 packed weights, group 128, via compressed-tensors",
                   "stepfun-ai/Step-Audio-EditX-AWQ-4bit"),
}


# what to do about a missing bnb folder: there is nothing to download (docs/engine/models.md#hugging-face-repositories)
NO_BNB_REPO = ("there is no released bnb checkpoint: the bnb folder holds the base weights (a copy or links), "
               "quantised while loading, or a pre-quantised copy; see README: Models")


def check_variant(variant: str) -> Variant:
    try:
        return VARIANTS[variant]
    except KeyError:
        raise EngineError(Reason.BAD_INPUT, f"unknown model variant {variant!r}",
                          f"use one of: {', '.join(VARIANTS)}") from None


def variant_folder(models_dir: Path, variant: str) -> Path:
    """The folder of `variant` under the models root (not checked for existence)."""
    return Path(models_dir) / check_variant(variant).folder
