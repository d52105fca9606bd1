"""The loading contract: which tensors a step1 checkpoint must hold, and a strict comparison.

For the released config this lists exactly 291 tensors = 32 layers x 9 + embed_tokens, norm, lm_head
#configuration). Loading compares the checkpoint's headers against the list before reading any data and
(docs/engine/llm.md
reports missing, unexpected and mis-shaped tensors by name.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from stepaudio_engine.api import EngineError, Reason

from .config import Step1Config

Shape = tuple[int, ...]

# Linear layers of one decoder block, relative to `model.layers.{i}.` (the ones quantized variants replace).
LAYER_LINEARS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                 "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")


def linear_shapes(config: Step1Config) -> dict[str, tuple[int, int]]:
    """(out_features, in_features) of every decoder Linear, by module name (lm_head excluded)."""
    h, kv, ffn = config.hidden_size, config.kv_dim, config.intermediate_size
    per_layer = {"self_attn.q_proj": (h, h), "self_attn.k_proj": (kv, h), "self_attn.v_proj": (kv, h),
                 "self_attn.o_proj": (h, h), "mlp.gate_proj": (ffn, h), "mlp.up_proj": (ffn, h),
                 "mlp.down_proj": (h, ffn)}
    return {f"model.layers.{i}.{name}": shape
            for i in range(config.num_hidden_layers) for name, shape in per_layer.items()}


def expected_tensors(config: Step1Config) -> dict[str, Shape]:
    """Every tensor name of the unquantized checkpoint with its shape, in checkpoint order."""
    h = config.hidden_size
    out: dict[str, Shape] = {"model.embed_tokens.weight": (config.vocab_size, h)}
    linears = linear_shapes(config)
    for i in range(config.num_hidden_layers):
        prefix = f"model.layers.{i}."
        out[prefix + "input_layernorm.weight"] = (h,)
        for name in LAYER_LINEARS:
            out[f"{prefix}{name}.weight"] = linears[prefix + name]
        out[prefix + "post_attention_layernorm.weight"] = (h,)
    out["model.norm.weight"] = (h,)
    out["lm_head.weight"] = (config.vocab_size, h)   # untied: its own tensor (docs/engine/models.md#untied-head)
    return out


@dataclass
class ContractReport:
    """Differences between the expected and the found tensors."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    misshaped: list[tuple[str, Shape, Shape]] = field(default_factory=list)   # name, expected, found

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.misshaped)

    def describe(self, limit: int = 8) -> str:
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} missing ({_first(self.missing, limit)})")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected ({_first(self.unexpected, limit)})")
        if self.misshaped:
            shown = [f"{n}: expected {list(e)}, found {list(f)}" for n, e, f in self.misshaped]
            parts.append(f"{len(self.misshaped)} with the wrong shape ({_first(shown, limit)})")
        return "; ".join(parts)


def _first(items: list[str], limit: int) -> str:
    more = f", ... {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def compare(expected: dict[str, Shape], found: dict[str, Shape]) -> ContractReport:
    report = ContractReport()
    for name, shape in expected.items():
        if name not in found:
            report.missing.append(name)
        elif tuple(found[name]) != tuple(shape):
            report.misshaped.append((name, tuple(shape), tuple(found[name])))
    report.unexpected = [name for name in found if name not in expected]
    return report


def require(report: ContractReport, where: str) -> None:
    """Raise MODEL_CORRUPT naming the offending tensors unless the report is clean."""
    if not report.ok:
        raise EngineError(Reason.MODEL_CORRUPT, f"{where} does not match the step1 model: {report.describe()}",
                          "the download is incomplete or belongs to another model; download the folder again")
