"""The step1 LLM configuration, read from the model folder's config.json (docs/engine/llm.md#configuration).

Only the fields the model math needs are kept. `tie_word_embeddings` is deliberately ignored: the
#untied-head, TAS #196/#199).
released checkpoint has a separate lm_head tensor and must never be tied (docs/engine/models.md
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from stepaudio_engine.api import EngineError, Reason

CONFIG_FILE = "config.json"

# The released model's values (docs/engine/llm.md#configuration; tests/data/step-audio-editx/config.json).
RELEASED = {
    "hidden_size": 3072,
    "intermediate_size": 8192,
    "num_attention_heads": 48,
    "num_attention_groups": 4,
    "num_hidden_layers": 32,
    "vocab_size": 74752,
}


@dataclass(frozen=True)
class Step1Config:
    hidden_size: int = 3072
    intermediate_size: int = 8192
    num_attention_heads: int = 48
    num_attention_groups: int = 4      # KV heads; query head h uses group h // (heads / groups)
    num_hidden_layers: int = 32
    vocab_size: int = 74752
    rms_norm_eps: float = 1e-5
    max_seq_len: int = 32768
    bos_token_id: int = 1
    pad_token_id: int = 0
    eos_token_id: int = 3              # <|EOT|>: the only stop id (docs/engine/llm.md#upstream-generation)

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def kv_dim(self) -> int:
        return self.num_attention_groups * self.head_dim

    def validate(self) -> None:
        """Raise ValueError if the numbers cannot describe a step1 model."""
        if self.hidden_size % self.num_attention_heads:
            raise ValueError("hidden_size must be a multiple of num_attention_heads")
        if self.num_attention_heads % self.num_attention_groups:
            raise ValueError("num_attention_heads must be a multiple of num_attention_groups")
        for name in ("hidden_size", "intermediate_size", "num_hidden_layers", "vocab_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")

    def to_json_dict(self) -> dict[str, Any]:
        """The config.json content for this config (the released file's field names)."""
        data: dict[str, Any] = {"architectures": ["Step1ForCausalLM"], "model_type": "step1"}
        data.update(asdict(self))
        data["torch_dtype"] = "bfloat16"
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Step1Config":
        fields = cls.__dataclass_fields__
        kwargs = {k: data[k] for k in fields if k in data}
        return cls(**kwargs)


def read_config(folder: Path) -> tuple[Step1Config, dict[str, Any]]:
    """Read `folder/config.json`; return the model config and the raw dict (for quantization_config)."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise EngineError(Reason.MODEL_MISSING, f"{path} is missing",
                          "download the model folder again (it must contain config.json)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EngineError(Reason.MODEL_CORRUPT, f"{path} is not readable JSON: {exc}",
                          "download the model folder again") from exc
    if raw.get("model_type") != "step1":
        raise EngineError(Reason.MODEL_CORRUPT,
                          f"{path}: model_type is {raw.get('model_type')!r}, expected 'step1'",
                          "point the engine at a Step-Audio-EditX folder")
    missing = [k for k in RELEASED if k not in raw]
    if missing:
        raise EngineError(Reason.MODEL_CORRUPT, f"{path} lacks {', '.join(missing)}",
                          "download the model folder again")
    config = Step1Config.from_dict(raw)
    try:
        config.validate()
    except ValueError as exc:
        raise EngineError(Reason.MODEL_CORRUPT, f"{path}: {exc}", "download the model folder again") from exc
    return config, raw
