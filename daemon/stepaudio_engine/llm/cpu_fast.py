"""The fast CPU path of step1: which kernel a variant gets on the CPU, and loading it (docs/engine/llm.md).

Kernel chosen by measurement on this project's dependencies (benchmarks/cpu_decode.py, BENCHMARKS.md):
onnxruntime's `MatMulNBits` with int8 activations (accuracy_level 4) in our own whole-step ONNX graph. On a
2-core AVX2 EPYC it ran one layer's Linears 5x (4-bit) and 2x (8-bit) faster than torch's fp32 product, where
torch's `_weight_int8pack_mm` (bf16 activations) was slower than fp32 and bitsandbytes' NF4 CPU kernel 20x
slower (both need AVX512-BF16 to be fast). `MatMulNBits` with fp32 activations (accuracy_level 0) was 4.6x
slower at 4 bits and 90x slower at 8 bits, so the fast path needs the int8 kernels: AVX2 (or better) on x86,
any arm64; elsewhere the loader falls back to torch and logs why.

| variant | weights on the fast path | lm_head |
|---|---|---|
| base  | 8-bit, block 32, quantized at load from the bf16 checkpoint | 8-bit, block 32 |
| awq   | the released int4 integers and group scales, reinterpreted (nbits.from_awq), no requantization | 8-bit |
| bnb   | NF4 dequantized once, requantized to 4-bit block 64 (bnb's own block) | 8-bit |

Graphs are written once per checkpoint to `<cache>/llm-graphs/<key>/` (beside the prompt cache) and reused by
the next load; without a cache folder they go to a temporary folder removed after the sessions open.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

import torch

from stepaudio_engine.api import EngineError, Reason

from .checkpoint import Checkpoint
from .config import Step1Config
from .contract import compare, expected_tensors, linear_shapes, require
from .nbits import LayoutError, NBitsWeight, concat, from_awq, quantize

log = logging.getLogger(__name__)

KERNELS = ("auto", "torch", "onnxruntime")
EXACT_DTYPES = ("fp32", "float32", "bf16", "bfloat16")
HEAD_BITS, HEAD_BLOCK = 8, 32
INT8_ACTIVATIONS = 4          # MatMulNBits accuracy_level: inputs quantized to int8 per block


@dataclass(frozen=True)
class CpuPlan:
    """What the fast path builds for one variant."""

    bits: int                 # decoder Linear weights
    block: int
    source: str               # "quantized at load" | "awq int4 repacked" | "nf4 requantized"
    head_bits: int = HEAD_BITS
    head_block: int = HEAD_BLOCK
    accuracy_level: int = INT8_ACTIVATIONS

    def describe(self) -> dict[str, Any]:
        return {"kernel": "onnxruntime MatMulNBits", "bits": self.bits, "head_bits": self.head_bits,
                "activations": "int8" if self.accuracy_level == INT8_ACTIVATIONS else "fp32",
                "weights": f"{self.source}, block {self.block}"}


def plan_for(variant: str, dtype: str, kernel: str) -> Optional[CpuPlan]:
    """The fast-path plan of a CPU load, or None for the torch path (exact for base with an explicit dtype)."""
    if kernel not in KERNELS:
        raise EngineError(Reason.BAD_INPUT, f"unknown LLM kernel {kernel!r}", f"use one of: {', '.join(KERNELS)}")
    if kernel == "torch" or (kernel == "auto" and dtype in EXACT_DTYPES):
        return None           # an explicit dtype asks for the torch path (exact for base)
    if variant == "base":
        return CpuPlan(8, 32, "quantized at load")
    if variant == "awq":
        return CpuPlan(4, 128, "awq int4 repacked")
    return CpuPlan(4, 64, "nf4 requantized")


def missing_support() -> str:
    """Why the fast path cannot run here ("" when it can)."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        return f"{exc.name or 'onnxruntime'} is not installed (pip install 'stepaudio[cpu]')"
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        flags = cpu_flags()
        if flags and "avx2" not in flags:
            return "the CPU has no AVX2 (onnxruntime's int8 MatMulNBits kernels need it)"
    elif machine not in ("arm64", "aarch64"):
        return f"no measured int8 kernel for {machine}"
    return ""


def cpu_flags() -> set[str]:
    """The x86 feature flags of the first CPU in /proc/cpuinfo (empty where it cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


# ---------------------------------------------------------------------------------------------- sources

def layer_weights(config: Step1Config, raw: dict[str, Any], ckpt: Checkpoint, variant: str,
                  plan: CpuPlan) -> Iterator[dict[str, object]]:
    """Per layer, the norms and the four stacked Linears in MatMulNBits layout, read one layer at a time."""
    weight_of = _weight_source(config, raw, ckpt, variant, plan)
    from .ort_graph import LAYER_LINEARS

    for i in range(config.num_hidden_layers):
        prefix = f"model.layers.{i}."
        layer: dict[str, object] = {
            norm: ckpt.tensor(f"{prefix}{norm}.weight").to(torch.float32).numpy()
            for norm in ("input_layernorm", "post_attention_layernorm")}
        for stacked, names in LAYER_LINEARS.items():
            layer[stacked] = concat([weight_of(prefix + name) for name in names])
        yield layer


def _weight_source(config: Step1Config, raw: dict[str, Any], ckpt: Checkpoint, variant: str, plan: CpuPlan):
    shapes = linear_shapes(config)
    if variant == "base":
        require(compare(expected_tensors(config), ckpt.shapes), str(ckpt.folder))
        return lambda lin: quantize(ckpt.tensor(f"{lin}.weight"), plan.bits, plan.block)
    if variant == "awq":
        from .quant_awq import check_awq

        scheme, packed, _ = check_awq(config, raw, ckpt)
        w = scheme.weights
        if not w.symmetric or w.group_size != plan.block:
            raise LayoutError(f"awq scheme with symmetric={w.symmetric}, group {w.group_size}: only symmetric "
                             f"group {plan.block} repacks without requantization")
        packed_set = set(packed)

        def awq(lin: str) -> NBitsWeight:
            if lin in packed_set:
                return from_awq(ckpt.tensor(f"{lin}.weight_packed"), ckpt.tensor(f"{lin}.weight_scale"),
                                shapes[lin], plan.block)
            return quantize(ckpt.tensor(f"{lin}.weight"), plan.bits, plan.block)
        return awq
    from .quant_bnb import check_bnb, import_bnb, nf4_layer

    bnb = import_bnb()
    prequantized = check_bnb(config, raw, ckpt)
    cpu = torch.device("cpu")

    def nf4(lin: str) -> NBitsWeight:
        if not prequantized:
            return quantize(ckpt.tensor(f"{lin}.weight"), plan.bits, plan.block)
        layer = nf4_layer(bnb, ckpt, lin, *shapes[lin], True, cpu)
        dense = bnb.functional.dequantize_4bit(layer.weight.data, layer.weight.quant_state)
        return quantize(dense, plan.bits, plan.block)
    return nf4


# ---------------------------------------------------------------------------------------------- graphs

def cache_key(ckpt: Checkpoint, variant: str, plan: CpuPlan) -> str:
    """Changes with the checkpoint files (names, sizes, mtimes), the variant, the plan and the graph version."""
    from .ort_graph import GRAPH_VERSION

    files = sorted(p for p in Path(ckpt.folder).iterdir() if p.suffix in (".safetensors", ".json"))
    stamp = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    text = json.dumps([GRAPH_VERSION, variant, asdict(plan), str(Path(ckpt.folder).resolve()), stamp])
    return f"{variant}-{plan.bits}bit-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def build_graphs(config: Step1Config, raw: dict[str, Any], ckpt: Checkpoint, variant: str, plan: CpuPlan,
                 folder: Path) -> None:
    """Write layers.onnx, head.onnx and weights.bin into `folder` (created), layer by layer."""
    from .ort_graph import DATA_FILE, build_head_graph, build_layers_graph, save

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / DATA_FILE, "wb") as data:
        norm = ckpt.tensor("model.norm.weight").to(torch.float32).numpy()
        layers = layer_weights(config, raw, ckpt, variant, plan)
        save(build_layers_graph(config, layers, norm, plan.accuracy_level, data), folder / "layers.onnx")
        head = quantize(ckpt.tensor("lm_head.weight"), plan.head_bits, plan.head_block)
        save(build_head_graph(config, head, plan.accuracy_level, data), folder / "head.onnx")
    (folder / "plan.json").write_text(json.dumps(asdict(plan)))


def graph_folder(config: Step1Config, raw: dict[str, Any], ckpt: Checkpoint, variant: str, plan: CpuPlan,
                 cache_root: Optional[Path]) -> tuple[Path, bool]:
    """The folder holding the graphs (built now unless cached); True when it is a temporary one."""
    if cache_root is None:
        folder = Path(tempfile.mkdtemp(prefix="stepaudio-llm-graphs-"))
        try:
            build_graphs(config, raw, ckpt, variant, plan, folder)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return folder, True
    folder = cache_root / cache_key(ckpt, variant, plan)
    if (folder / "plan.json").is_file():
        log.info("step1 CPU graphs from the cache: %s", folder)
        return folder, False
    cache_root.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=cache_root))
    try:
        build_graphs(config, raw, ckpt, variant, plan, building)
        try:
            os.rename(building, folder)        # atomic; another worker may have won the race
        except OSError:
            if not (folder / "plan.json").is_file():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return folder, False


def open_session(path: Path, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # no busy-waiting between ops: the CPU is shared with the vocoder thread and other processes
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def load_cpu_fast(config: Step1Config, raw: dict[str, Any], ckpt: Checkpoint, variant: str, plan: CpuPlan,
                  cache_root: Optional[Path]) -> Any:
    """The OrtStep1 of `variant` (errors of the checkpoint contract are raised as for the torch path)."""
    from .ort_model import OrtStep1

    folder, temporary = graph_folder(config, raw, ckpt, variant, plan, cache_root)
    try:
        threads = max(1, torch.get_num_threads())
        layers = open_session(folder / "layers.onnx", threads)
        head = open_session(folder / "head.onnx", threads)
        weight_bytes = (folder / "weights.bin").stat().st_size
    finally:
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)
    embed = ckpt.tensor("model.embed_tokens.weight")
    return OrtStep1(config, embed, layers, head, weight_bytes, None if temporary else folder)


def choose_and_load(config: Step1Config, raw: dict[str, Any], ckpt: Checkpoint, variant: str, dtype: str,
                    kernel: str, cache_root: Optional[Path]) -> tuple[Optional[Any], Optional[CpuPlan], str]:
    """(model, plan, "") on the fast path; (None, None, why) when the torch path loads instead (why = "" when
    that was asked for).
    An explicit kernel="onnxruntime" that cannot run is an UNSUPPORTED error, not a fallback."""
    plan = plan_for(variant, dtype, kernel)
    if plan is None:
        return None, None, ""      # the torch path by choice, not a fallback
    why = missing_support()
    if not why:
        try:
            return load_cpu_fast(config, raw, ckpt, variant, plan, cache_root), plan, ""
        except LayoutError as exc:     # a layout the fast path cannot take (block sizes, asymmetric AWQ)
            why = str(exc)
    if kernel == "onnxruntime":
        raise EngineError(Reason.UNSUPPORTED, f"the onnxruntime LLM kernel cannot run here: {why}",
                          "use kernel auto or torch")
    log.warning("step1 %s on the CPU: fast %d-bit path unavailable (%s); using the torch path", variant,
                plan.bits, why)
    return None, None, why
