"""The fast CPU path of step1 (llm/cpu_fast.py): MatMulNBits layouts, the AWQ repack, bounded error against the
exact fp32 model, greedy agreement, exact KV cache, the graph cache and the logged fallback. Tiny model, ~25 s."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

pytest.importorskip("onnxruntime")

from stepaudio_engine.api import EngineError, Reason  # noqa: E402
from stepaudio_engine.llm import cpu_fast, load_llm  # noqa: E402
from stepaudio_engine.llm.checkpoint import open_checkpoint  # noqa: E402
from stepaudio_engine.llm.nbits import from_awq, quantize  # noqa: E402
from stepaudio_engine.llm.sampling import GenerationOptions, generate  # noqa: E402
from stepaudio_engine.tiny.llm import write_tiny_llm  # noqa: E402

PROMPT = torch.tensor([[1, 4, 466, 78, 65537, 66570, 78, 65538, 3, 4, 467, 78]])
# max |logit error| / max |logit| against the exact model; measured on the tiny model: base 8-bit 0.009,
# awq 4-bit vs torch awq 0.010 (the int8 activations), bnb requantized 0.05
BOUNDS = {"base": 0.03, "awq": 0.03, "bnb": 0.12}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_tiny_llm(tmp_path_factory.mktemp("models"), seed=0)


def _logits(llm) -> torch.Tensor:
    with torch.inference_mode():
        return llm.model(PROMPT).float()


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def test_block_quantization_is_within_half_a_step() -> None:
    w = torch.randn(64, 256) * 0.05
    for bits, block in ((8, 32), (4, 128)):
        q = quantize(w, bits, block)
        assert q.packed.shape == (64, 256 // block, block * bits // 8)
        step = w.view(64, -1, block).abs().amax(-1, keepdim=True) / ((1 << (bits - 1)) - 1)
        err = (q.dense() - w).view(64, -1, block).abs()
        assert bool((err <= step / 2 + 1e-7).all())


def test_awq_repack_keeps_the_released_integers_and_scales(tiny: dict[str, Path]) -> None:
    from compressed_tensors.compressors import PackedQuantizationCompressor

    from stepaudio_engine.llm.config import read_config
    from stepaudio_engine.llm.quant_awq import weight_scheme

    _, raw = read_config(tiny["awq"])
    scheme = weight_scheme(raw, "tiny")
    ckpt = open_checkpoint(tiny["awq"])
    try:
        name = "model.layers.1.mlp.down_proj"
        parts = {leaf: ckpt.tensor(f"{name}.{leaf}") for leaf in ("weight_packed", "weight_scale", "weight_shape")}
        shape = tuple(int(x) for x in parts["weight_shape"])
        ours = from_awq(parts["weight_packed"], parts["weight_scale"], shape, 128).dense()
        theirs = PackedQuantizationCompressor.decompress(parts, scheme)["weight"]
    finally:
        ckpt.close()
    # a reinterpretation, no requantization: equal once our fp32 product is rounded to the scale dtype as theirs is
    assert torch.equal(ours.to(theirs.dtype), theirs)


@pytest.mark.parametrize("variant,bits", [("base", 8), ("awq", 4), ("bnb", 4)])
def test_fast_path_error_is_bounded_and_greedy_agrees(tiny: dict[str, Path], variant: str, bits: int) -> None:
    fast = load_llm(tiny[variant], variant, "cpu", "auto")
    assert fast.kernel["kernel"] == "onnxruntime MatMulNBits" and fast.kernel["bits"] == bits
    assert fast.kernel["head_bits"] == 8 and fast.kernel["activations"] == "int8"
    exact = load_llm(tiny[variant], variant, "cpu", "fp32")     # the torch path of the same weights
    assert exact.kernel["bits"] in (4, 32) and "fallback" not in exact.kernel
    assert _rel(_logits(fast), _logits(exact)) < BOUNDS[variant]
    if variant != "bnb":     # bnb's NF4 is requantized to int4: bounded, but greedy may differ on random weights
        opts = GenerationOptions(greedy=True, max_length=PROMPT.shape[1] + 24)
        prompt = PROMPT[0].tolist()
        assert generate(fast, prompt, opts) == generate(exact, prompt, opts)
    assert fast.memory_bytes() < exact.memory_bytes()


def test_cache_is_exact_across_prefill_chunks_and_decode_steps(tiny: dict[str, Path]) -> None:
    fast = load_llm(tiny["awq"], "awq", "cpu", "auto")
    whole = _logits(fast)
    cache = fast.model.new_cache()
    parts = [fast.model(PROMPT[:, :5], cache), fast.model(PROMPT[:, 5:6], cache), fast.model(PROMPT[:, 6:], cache)]
    assert cache.length == PROMPT.shape[1]
    assert torch.allclose(torch.cat(parts, dim=1), whole, rtol=0, atol=1e-4)


def test_graphs_are_cached_and_reused(tiny: dict[str, Path], tmp_path: Path) -> None:
    first = load_llm(tiny["base"], "base", "cpu", "auto", graph_cache=tmp_path)
    folders = list(tmp_path.iterdir())
    assert len(folders) == 1 and (folders[0] / "plan.json").is_file()
    stamp = (folders[0] / "weights.bin").stat().st_mtime_ns
    second = load_llm(tiny["base"], "base", "cpu", "auto", graph_cache=tmp_path)
    assert (folders[0] / "weights.bin").stat().st_mtime_ns == stamp and len(list(tmp_path.iterdir())) == 1
    assert torch.equal(_logits(first), _logits(second))


def test_missing_support_falls_back_with_a_logged_reason(tiny: dict[str, Path], monkeypatch, caplog) -> None:
    monkeypatch.setattr(cpu_fast, "missing_support", lambda: "the CPU has no AVX2 (test)")
    with caplog.at_level(logging.WARNING, logger="stepaudio_engine.llm.cpu_fast"):
        llm = load_llm(tiny["base"], "base", "cpu", "auto")
    assert llm.kernel["kernel"] == "torch" and llm.kernel["fallback"] == "the CPU has no AVX2 (test)"
    assert "no AVX2" in caplog.text
    with pytest.raises(EngineError) as err:
        load_llm(tiny["base"], "base", "cpu", "auto", kernel="onnxruntime")
    assert err.value.reason == Reason.UNSUPPORTED and "no AVX2" in str(err.value)


def test_a_layout_the_kernel_cannot_take_falls_back_and_leaves_no_graphs(tiny: dict[str, Path], monkeypatch,
                                                                          tmp_path: Path) -> None:
    monkeypatch.setattr(cpu_fast, "plan_for", lambda *a: cpu_fast.CpuPlan(4, 96, "test"))   # 128 % 96 != 0
    monkeypatch.setattr(cpu_fast.tempfile, "tempdir", str(tmp_path))
    llm = load_llm(tiny["base"], "base", "cpu", "auto")
    assert llm.kernel["kernel"] == "torch" and "block size 96" in llm.kernel["fallback"]
    assert not list(tmp_path.iterdir())


def test_exact_path_is_the_default_of_explicit_dtypes_and_the_stage_tool() -> None:
    from stepaudio_engine.stages.__main__ import build_parser

    assert cpu_fast.plan_for("base", "fp32", "auto") is None and cpu_fast.plan_for("awq", "bf16", "auto") is None
    assert cpu_fast.plan_for("base", "auto", "auto").bits == 8 and cpu_fast.plan_for("awq", "auto", "auto").bits == 4
    args = build_parser().parse_args(["logits", "--llm-dir", "x", "--prompt", "p.npy", "--out", "o"])
    assert args.kernel == "torch" and args.dtype == "fp32"
