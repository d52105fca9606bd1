"""The fast CPU path through CLI → daemon → worker on the tiny model: base loads 8-bit and awq 4-bit
(onnxruntime MatMulNBits), both clone, and status names kernel and bits (~20 s)."""
from __future__ import annotations

import pytest

pytest.importorskip("onnxruntime")


def test_base_8bit_and_awq_4bit_clone_and_status_names_the_kernel(real):
    for variant, bits in (("base", 8), ("awq", 4)):
        out = f"{variant}.wav"
        result = real.run(*real.clone_args(out, "hello there", "--seed", "2", "--variant", variant), timeout=300)
        assert result.returncode == 0, result.stderr
        assert (real.work / out).stat().st_size > 44
        v = real.variant(variant)
        assert v["bits"] == bits and v["kernel"].startswith("onnxruntime MatMulNBits, int8 activations")
    text = real.run("status")
    assert text.returncode == 0 and "awq: LLM 4-bit, onnxruntime MatMulNBits" in text.stdout   # max_loaded 1
    # the graphs were written once per variant beside the prompt cache, for the next load
    graphs = real.home / "cache" / "llm-graphs"
    assert sorted(p.name.split("-")[0] for p in graphs.iterdir()) == ["awq", "base"]
