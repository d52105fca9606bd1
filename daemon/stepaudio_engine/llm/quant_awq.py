"""The `awq` variant: the released AWQ checkpoint in compressed-tensors "pack-quantized" format
(docs/engine/models.md#variants).

Each quantized decoder Linear stores `weight_packed` (int32, 8 int4 values per word along the input axis),
`weight_scale` (out, in/group) and `weight_shape` (2,), plus a packed `weight_zero_point` when asymmetric.
We keep those tensors as buffers of our own PackedInt4Linear and decompress with compressed-tensors'
`PackedQuantizationCompressor.decompress` on every forward (low memory, like UP-AWQ's per-forward
dequantization; upstream's CompressedLinear instead caches the dense weight: +5.8 GB). `cache_dense=True`
trades memory for speed. Runs on CPU and CUDA (plain torch ops).
"""
from __future__ import annotations

import logging
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from stepaudio_engine.api import EngineError, Reason

from .checkpoint import Checkpoint
from .config import Step1Config
from .contract import compare, expected_tensors, linear_shapes, require
from .tensors import fill_dense, meta_model, set_tensor
from .model import Step1ForCausalLM

log = logging.getLogger(__name__)

PACKED_NAMES = ("weight_packed", "weight_scale", "weight_shape")


def import_compressed_tensors() -> Any:
    try:
        import compressed_tensors
        from compressed_tensors.compressors import PackedQuantizationCompressor  # noqa: F401
    except ImportError as exc:
        raise EngineError(Reason.UNSUPPORTED, "the awq variant needs the compressed-tensors package",
                          "pip install 'compressed-tensors>=0.12', or use --variant base") from exc
    return compressed_tensors


def weight_scheme(raw: dict[str, Any], where: str) -> Any:
    """The QuantizationScheme of the folder's compressed-tensors config; UNSUPPORTED unless it is the
    weight-only pack-quantized int4 kind this loader handles."""
    import_compressed_tensors()
    from compressed_tensors.quantization import QuantizationConfig, QuantizationScheme

    qcfg = raw.get("quantization_config")
    if not qcfg or qcfg.get("quant_method") != "compressed-tensors":
        raise EngineError(Reason.MODEL_CORRUPT, f"{where}/config.json has no compressed-tensors quantization_config",
                          "this folder is not the AWQ 4-bit model; download Step-Audio-EditX-AWQ-4bit again")
    try:
        config = QuantizationConfig.model_validate(qcfg)
    except Exception as exc:
        raise EngineError(Reason.MODEL_CORRUPT, f"{where}/config.json quantization_config is invalid: {exc}",
                          "download the folder again") from exc
    groups = list(config.config_groups.values())
    # newer compressed-tensors may name the format per group (top level "mixed-precision")
    formats = {getattr(g, "format", None) or config.format for g in groups}
    if formats != {"pack-quantized"}:
        raise EngineError(Reason.UNSUPPORTED, f"{where}: compressed-tensors format {sorted(map(str, formats))} "
                          "is not supported", "only pack-quantized int4 weights (the released AWQ checkpoint) load")
    schemes = {g.weights.model_dump_json() if g.weights else "" for g in groups}
    if len(schemes) != 1 or groups[0].weights is None:
        raise EngineError(Reason.UNSUPPORTED, f"{where}: mixed or missing weight schemes in config_groups", "")
    scheme = groups[0]
    w = scheme.weights
    if w.num_bits != 4 or str(w.type.value if hasattr(w.type, "value") else w.type) != "int" \
            or scheme.input_activations is not None:
        raise EngineError(Reason.UNSUPPORTED, f"{where}: only weight-only int4 is supported, found {w}", "")
    return QuantizationScheme(targets=scheme.targets, weights=w)


class PackedInt4Linear(nn.Module):
    """A Linear whose weight lives packed as int4; decompressed (by compressed-tensors) at each forward."""

    def __init__(self, in_features: int, out_features: int, scheme: Any, cache_dense: bool = False) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.scheme = scheme
        self.cache_dense = cache_dense
        self._dense: Optional[torch.Tensor] = None
        for name in PACKED_NAMES:
            self.register_buffer(name, None)
        self.register_buffer("weight_zero_point", None)

    def dense_weight(self) -> torch.Tensor:
        """The dequantized (out, in) weight in the scale's dtype."""
        if self._dense is not None:
            return self._dense
        from compressed_tensors.compressors import PackedQuantizationCompressor

        parts = {"weight_packed": self.weight_packed, "weight_scale": self.weight_scale,
                 "weight_shape": self.weight_shape}
        if self.weight_zero_point is not None:
            parts["weight_zero_point"] = self.weight_zero_point
        weight = PackedQuantizationCompressor.decompress(parts, self.scheme)["weight"]
        if self.cache_dense:
            self._dense = weight
        return weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.dense_weight().to(x.dtype))

    def _apply(self, fn, recurse=True):  # moving the module drops the dense cache
        self._dense = None
        return super()._apply(fn, recurse)


def packed_shapes(out_f: int, in_f: int, scheme: Any) -> dict[str, tuple[int, ...]]:
    """Expected tensor shapes of one pack-quantized Linear (docs/engine/models.md#variants: int4, group 128,
    symmetric)."""
    w = scheme.weights
    groups = in_f // w.group_size if w.group_size else 1
    shapes: dict[str, tuple[int, ...]] = {
        "weight_packed": (out_f, -(-in_f * w.num_bits // 32)),
        "weight_scale": (out_f, groups),
        "weight_shape": (2,),
    }
    if not w.symmetric:
        shapes["weight_zero_point"] = (-(-out_f * w.num_bits // 32), groups)
    return shapes


def check_awq(config: Step1Config, raw: dict[str, Any], ckpt: Checkpoint) -> tuple[Any, list[str], dict[str, Any]]:
    """Check the folder against the contract; returns (scheme, the packed Linears, the expected tensors)."""
    scheme = weight_scheme(raw, str(ckpt.folder))
    linears = linear_shapes(config)
    dense_expected = expected_tensors(config)
    quantized = [lin for lin in linears if f"{lin}.weight_packed" in ckpt.shapes]
    expected = dict(dense_expected)
    ignored: list[str] = []
    for lin in quantized:
        del expected[f"{lin}.weight"]
        for leaf, shape in packed_shapes(*linears[lin], scheme).items():
            expected[f"{lin}.{leaf}"] = shape
        zero_point = f"{lin}.weight_zero_point"
        if scheme.weights.symmetric and zero_point in ckpt.shapes:
            ignored.append(zero_point)   # some writers keep a (zero) zero point for symmetric schemes
            expected[zero_point] = ckpt.shapes[zero_point]
    require(compare(expected, ckpt.shapes), str(ckpt.folder))
    for name in ignored:
        if ckpt.tensor(name).abs().max() != 0:
            raise EngineError(Reason.MODEL_CORRUPT, f"{name} is non-zero although the scheme is symmetric",
                              "download the AWQ folder again")
    return scheme, quantized, expected


def load_awq(config: Step1Config, raw: dict[str, Any], ckpt: Checkpoint, device: torch.device,
             dtype: torch.dtype, cache_dense: bool = False) -> Step1ForCausalLM:
    scheme, quantized, expected = check_awq(config, raw, ckpt)
    linears = linear_shapes(config)
    dense_expected = expected_tensors(config)
    model = meta_model(config)
    fill_dense(model, ckpt, [n for n in dense_expected if n in expected], device, dtype)
    for lin in quantized:
        out_f, in_f = linears[lin]
        layer = PackedInt4Linear(in_f, out_f, scheme, cache_dense)
        owner, _, leaf = lin.rpartition(".")
        setattr(model.get_submodule(owner), leaf, layer)
        for name in packed_shapes(out_f, in_f, scheme):
            set_tensor(model, f"{lin}.{name}", ckpt.tensor(f"{lin}.{name}").to(device))
    log.debug("awq: %d of %d decoder Linear layers packed int4", len(quantized), len(linears))
    return model
