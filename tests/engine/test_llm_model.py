"""step1 model math against an independent float64 NumPy implementation of docs/engine/llm.md#model-maths"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stepaudio_engine.llm.config import Step1Config
from stepaudio_engine.llm.model import Step1ForCausalLM, alibi_slopes, sqrt_alibi_bias

# 12 heads: not a power of two, so both slope branches run; 4 KV groups of 3 query heads
CFG = Step1Config(hidden_size=96, intermediate_size=160, num_attention_heads=12, num_attention_groups=4,
                  num_hidden_layers=2, vocab_size=300)


def spec_slopes(heads: int) -> list[float]:
    """docs/engine/llm.md#model-maths written out: n = 2^floor(log2 H); 2^(-8k/n) for k=1..n, then 2^(-4k/n) for odd
    k."""
    n = 1
    while n * 2 <= heads:
        n *= 2
    first = [2.0 ** (-8.0 * k / n) for k in range(1, n + 1)]
    rest = [2.0 ** (-4.0 * k / n) for k in range(1, 2 * (heads - n), 2)]
    return first + rest


def test_slopes_table_of_the_released_48_heads() -> None:
    got = alibi_slopes(48).double().numpy()
    want = [2 ** (-k / 4) for k in range(1, 33)] + [2 ** (-k / 8) for k in range(1, 32, 2)]
    assert len(want) == 48
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(alibi_slopes(12).double().numpy(), spec_slopes(12), rtol=1e-6)
    np.testing.assert_allclose(alibi_slopes(8).double().numpy(), spec_slopes(8), rtol=1e-6)


def test_bias_is_minus_slope_sqrt_distance_and_causal() -> None:
    slopes = alibi_slopes(12)
    bias = sqrt_alibi_bias(slopes, q_start=3, q_len=2, kv_len=6, dtype=torch.float32, device=torch.device("cpu"))
    assert bias.shape == (1, 12, 2, 6)
    for h in (0, 7, 11):
        for qi, i in enumerate((3, 4)):
            for j in range(6):
                value = float(bias[0, h, qi, j])
                if j > i:
                    assert value == float("-inf")
                else:
                    assert value == pytest.approx(-float(slopes[h]) * math.sqrt(i - j), rel=1e-6)


def _random_model(seed: int = 0) -> Step1ForCausalLM:
    torch.manual_seed(seed)
    model = Step1ForCausalLM(CFG)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif name.endswith("embed_tokens.weight"):
                p.copy_(torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) * 0.8 / math.sqrt(p.shape[1]))
    return model.eval()


def reference_logits(model: Step1ForCausalLM, ids: list[int]) -> np.ndarray:
    """Float64 NumPy forward written from the spec, loop over heads, group of head h = h // (H / G)."""
    w = {k: v.detach().double().numpy() for k, v in model.state_dict().items()}
    H, G, D = CFG.num_attention_heads, CFG.num_attention_groups, CFG.head_dim
    slopes = spec_slopes(H)

    def rms(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
        return x / np.sqrt((x ** 2).mean(-1, keepdims=True) + CFG.rms_norm_eps) * weight

    x = w["model.embed_tokens.weight"][ids]
    L = len(ids)
    i = np.arange(L)[:, None]
    j = np.arange(L)[None, :]
    dist = np.sqrt(np.clip(i - j, 0, None))
    for layer in range(CFG.num_hidden_layers):
        p = f"model.layers.{layer}."
        h = rms(x, w[p + "input_layernorm.weight"])
        q = (h @ w[p + "self_attn.q_proj.weight"].T).reshape(L, H, D)
        k = (h @ w[p + "self_attn.k_proj.weight"].T).reshape(L, G, D)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(L, G, D)
        heads = []
        for hh in range(H):
            g = hh // (H // G)
            s = q[:, hh] @ k[:, g].T / math.sqrt(D) - slopes[hh] * dist
            s = np.where(j > i, -np.inf, s)
            s = np.exp(s - s.max(-1, keepdims=True))
            heads.append((s / s.sum(-1, keepdims=True)) @ v[:, g])
        x = x + np.concatenate(heads, axis=-1) @ w[p + "self_attn.o_proj.weight"].T
        h = rms(x, w[p + "post_attention_layernorm.weight"])
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        up = h @ w[p + "mlp.up_proj.weight"].T
        x = x + ((gate / (1 + np.exp(-gate))) * up) @ w[p + "mlp.down_proj.weight"].T
    return rms(x, w["model.norm.weight"]) @ w["lm_head.weight"].T


def test_fp32_forward_matches_float64_reference() -> None:
    model = _random_model()
    ids = [1, 4, 17, 250, 3, 99, 99, 5, 0, 42, 7, 7, 7, 123, 299, 2]
    with torch.inference_mode():
        got = model(torch.tensor([ids])).double().numpy()[0]
    want = reference_logits(model, ids)
    assert np.abs(want).max() > 1.0   # the check is not vacuous
    np.testing.assert_allclose(got, want, atol=2e-4, rtol=0)


def test_lm_head_is_untied() -> None:
    model = _random_model()
    assert model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr()
    assert not torch.equal(model.lm_head.weight, model.model.embed_tokens.weight[:, :])


@pytest.mark.parametrize("chunks", [[16], [1] * 16, [5, 7, 4], [10, 1, 1, 4]])
def test_kv_cached_incremental_equals_full_recompute(chunks: list[int]) -> None:
    model = _random_model(1)
    ids = torch.randint(0, CFG.vocab_size, (1, 16), generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        full = model(ids)
        cache = model.new_cache()
        parts, start = [], 0
        for size in chunks:
            parts.append(model(ids[:, start:start + size], cache))
            start += size
        assert cache.length == 16
        incremental = torch.cat(parts, dim=1)
    torch.testing.assert_close(incremental, full, atol=2e-5, rtol=1e-5)


def test_grouping_is_contiguous() -> None:
    """Changing K/V group 0 changes only query heads 0..2 (contiguous blocks), not heads 3, 6, 9."""
    model = _random_model(2)
    attn = model.model.layers[0].self_attn
    x = torch.randn(1, 6, CFG.hidden_size, generator=torch.Generator().manual_seed(4))
    bias = sqrt_alibi_bias(model.alibi_slopes, 0, 6, 6, torch.float32, torch.device("cpu"))
    captured = []
    attn.o_proj.register_forward_hook(lambda mod, inp, out: captured.append(inp[0].clone()))
    with torch.inference_mode():
        attn(x, bias, None)
        attn.v_proj.weight[: CFG.head_dim] *= 3.0   # rows of group 0 only
        attn(x, bias, None)
    before, after = (c.view(1, 6, CFG.num_attention_heads, CFG.head_dim) for c in captured)
    changed = [h for h in range(CFG.num_attention_heads) if not torch.allclose(before[0, :, h], after[0, :, h])]
    assert changed == [0, 1, 2]


def test_bf16_forward_stays_close_to_fp32() -> None:
    model = _random_model(5)
    ids = torch.tensor([[1, 4, 20, 30, 40, 3]])
    with torch.inference_mode():
        ref = model(ids).float()
        low = model.to(torch.bfloat16)(ids).float()
    cos = torch.nn.functional.cosine_similarity(ref.flatten(), low.flatten(), dim=0)
    assert cos > 0.999
