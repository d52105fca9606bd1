"""The decode-step attention layout (query heads folded per KV group) and the in-place bias builder
give the same numbers as the plain grouped-query formulation they replace (docs/engine/llm.md "Performance")."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from stepaudio_engine.llm.config import Step1Config
from stepaudio_engine.llm.model import Step1ForCausalLM, alibi_slopes, sqrt_alibi_bias

CFG = Step1Config(hidden_size=96, intermediate_size=160, num_attention_heads=12, num_attention_groups=4,
                  num_hidden_layers=2, vocab_size=300)
CPU = torch.device("cpu")


def _model(seed: int) -> Step1ForCausalLM:
    torch.manual_seed(seed)
    model = Step1ForCausalLM(CFG)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(1.0 + 0.2 * torch.randn_like(p) if name.endswith("norm.weight") else torch.randn_like(p) * 0.2)
    return model.eval()


@pytest.mark.parametrize("dtype,atol", [(torch.float32, 1e-6), (torch.bfloat16, 2e-2)])
def test_one_position_layout_equals_grouped_sdpa(dtype: torch.dtype, atol: float) -> None:
    attn = _model(0).to(dtype).model.layers[0].self_attn
    gen = torch.Generator().manual_seed(1)
    kv_len = 37
    q = torch.randn(2, CFG.num_attention_heads, 1, CFG.head_dim, generator=gen).to(dtype)
    k = torch.randn(2, CFG.num_attention_groups, kv_len, CFG.head_dim, generator=gen).to(dtype)
    v = torch.randn(2, CFG.num_attention_groups, kv_len, CFG.head_dim, generator=gen).to(dtype)
    bias = sqrt_alibi_bias(alibi_slopes(CFG.num_attention_heads), kv_len - 1, 1, kv_len, dtype, CPU)
    want = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=bias.float(), enable_gqa=True)
    got = attn._attend_one_position(q, k, v, bias)
    assert got.shape == (2, CFG.num_attention_heads, 1, CFG.head_dim)
    torch.testing.assert_close(got.float(), want, atol=atol, rtol=0)


def test_decode_row_has_no_mask_and_prefill_rows_do() -> None:
    slopes = alibi_slopes(CFG.num_attention_heads)
    row = sqrt_alibi_bias(slopes, q_start=9, q_len=1, kv_len=10, dtype=torch.bfloat16, device=CPU)
    assert row.dtype == torch.bfloat16 and bool(torch.isfinite(row).all())
    want = torch.tensor([[-float(m) * math.sqrt(9 - j) for j in range(10)] for m in slopes])
    torch.testing.assert_close(row[0, :, 0].float(), want, atol=0, rtol=1e-2)
    square = sqrt_alibi_bias(slopes, q_start=0, q_len=4, kv_len=4, dtype=torch.bfloat16, device=CPU)
    future = torch.ones(4, 4, dtype=torch.bool).triu(1)
    assert bool(torch.isinf(square[0, :, future]).all()) and bool(torch.isfinite(square[0, :, ~future]).all())


def test_bf16_token_by_token_equals_one_forward() -> None:
    """bf16 decode steps (folded layout) against one bf16 forward over the same ids (enable_gqa layout)."""
    model = _model(2).to(torch.bfloat16)
    ids = torch.randint(0, CFG.vocab_size, (1, 12), generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        full = model(ids).float()
        cache = model.new_cache()
        steps = torch.cat([model(ids[:, t:t + 1], cache) for t in range(12)], dim=1).float()
    cos = F.cosine_similarity(steps.flatten(), full.flatten(), dim=0)
    assert cos > 0.999
    assert (steps.argmax(-1) == full.argmax(-1)).float().mean() >= 0.9


def test_slopes_are_copied_to_a_device_once() -> None:
    model = _model(4)
    first = model._slopes(CPU)
    assert model._slopes(CPU) is first
    torch.testing.assert_close(first, alibi_slopes(CFG.num_attention_heads))


def test_last_only_head_runs_as_one_mm_not_a_bmm_over_the_expanded_head() -> None:
    """With weights not requiring grad (as load_llm leaves them), a (B, 1, hidden) slice of the sequence would
    make matmul copy the whole lm_head per call; the model must feed the head a plain 2-D matrix."""
    from torch.profiler import ProfilerActivity, profile

    model = _model(6).requires_grad_(False)
    ids = torch.randint(0, CFG.vocab_size, (2, 9), generator=torch.Generator().manual_seed(7))
    with torch.inference_mode():
        full = model(ids)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            last = model(ids, model.new_cache(), last_only=True)
    assert last.shape == (2, 1, CFG.vocab_size)
    torch.testing.assert_close(last, full[:, -1:], atol=1e-5, rtol=1e-5)
    ops = {event.key for event in prof.key_averages()}
    assert "aten::bmm" not in ops and "aten::mm" in ops


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_bias_built_in_head_chunks_equals_float32_build_then_cast(dtype: torch.dtype, monkeypatch) -> None:
    import stepaudio_engine.llm.model as model_module

    slopes = alibi_slopes(CFG.num_attention_heads)
    i = torch.arange(3, 3 + 5, dtype=torch.float32).view(-1, 1)
    dist = i - torch.arange(11, dtype=torch.float32).view(1, -1)
    want = (-slopes.view(-1, 1, 1) * dist.clamp(min=0).sqrt()).masked_fill(dist < 0, float("-inf"))
    monkeypatch.setattr(model_module, "_BIAS_CHUNK_ELEMENTS", 2 * 5 * 11)   # 6 steps of 2 heads
    got = sqrt_alibi_bias(slopes, q_start=3, q_len=5, kv_len=11, dtype=dtype, device=CPU)
    assert got.dtype == dtype
    assert torch.equal(got[0], want.to(dtype))
