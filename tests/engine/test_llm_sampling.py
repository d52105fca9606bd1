"""Sampling: the repetition-aware ban, temperature/top-k as transformers applies them, seeds, stop, cancel."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from stepaudio_engine.api import CancelToken, EngineError, Reason
from stepaudio_engine.llm.config import Step1Config
from stepaudio_engine.llm.loading import LoadedLLM
from stepaudio_engine.llm.model import Step1ForCausalLM
from stepaudio_engine.llm.sampling import (GenerationOptions, audio_tokens_from_output, ban_repeated_last,
                                           choose_next, generate, generate_detailed, keep_top_k)

A, B = 65540, 65541          # two audio ids
VOCAB = 74752


def test_ban_needs_a_full_window() -> None:
    scores = torch.zeros(10)
    ban_repeated_last(scores, [5, 5, 5, 5, 5, 5, 5, 5, 5])        # 9 ids: upstream returns unchanged
    assert torch.isfinite(scores).all()


@pytest.mark.parametrize("history, banned", [
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 7], 7),               # last id twice in the window -> banned
    ([1, 2, 3, 4, 5, 6, 7, 8, 9, 9], 9),               # "A A" is banned only once it is there twice
    ([1, 2, 3, 4, 5, 6, 7, 8, 0, 9], None),            # once: allowed
    ([9, 1, 2, 3, 4, 5, 6, 7, 8, 0, 9], None),         # the earlier 9 is outside the last 10
    ([1, 2, 3, 3, 3, 3, 3, 3, 3, 8], None),            # only the last id can be banned
])
def test_ban_rule(history: list[int], banned: int | None) -> None:
    scores = torch.arange(10, dtype=torch.float32)
    ban_repeated_last(scores, history)
    inf = [i for i in range(10) if scores[i] == float("-inf")]
    assert inf == ([] if banned is None else [banned])


def test_top_k_keeps_ties_like_transformers() -> None:
    scores = torch.tensor([5.0, 4.0, 4.0, 1.0, 0.0])
    kept = keep_top_k(scores, 2)
    assert torch.isfinite(kept).tolist() == [True, True, True, False, False]


def test_sampling_equals_transformers_processors_and_global_rng() -> None:
    """Our step equals: upstream's processor, then transformers' temperature and top-k warpers, softmax,
    torch.multinomial on the global RNG seeded the same way (docs/engine/llm.md#upstream-generation)."""
    from transformers.generation.logits_process import TemperatureLogitsWarper, TopKLogitsWarper

    gen = torch.Generator().manual_seed(1234)
    logits = torch.randn(60, 300, generator=torch.Generator().manual_seed(0)) * 3
    history = [int(i) for i in torch.randint(0, 300, (12,), generator=torch.Generator().manual_seed(1))]
    ours, theirs = [], []
    opts = GenerationOptions()
    hist = list(history)
    for step in range(60):
        token = choose_next(logits[step], hist, opts, gen)
        ours.append(token)
        hist.append(token)
    torch.manual_seed(1234)
    hist = list(history)
    temperature, top_k = TemperatureLogitsWarper(0.7), TopKLogitsWarper(50)
    for step in range(60):
        ids = torch.tensor([hist])
        scores = logits[step:step + 1].clone()
        window = ids[:, -10:]
        last = window[:, -1].unsqueeze(-1)
        mask = ((window == last).sum(dim=1).float() / 10) > 0.1
        scores[mask, last[mask].squeeze(-1)] = float("-inf")
        scores = top_k(ids, temperature(ids, scores))
        token = int(torch.multinomial(torch.softmax(scores, dim=-1), num_samples=1)[0, 0])
        theirs.append(token)
        hist.append(token)
    assert ours == theirs


def _llm(head_rows: dict[int, float] | None = None, seed: int = 0) -> LoadedLLM:
    """A one-layer model whose logits are the same at every step: attention and MLP are zero, every
    embedding is the same vector, so the head rows alone rank the ids (None: random head)."""
    config = Step1Config(hidden_size=16, intermediate_size=32, num_attention_heads=2, num_attention_groups=1,
                         num_hidden_layers=1, vocab_size=VOCAB)
    model = Step1ForCausalLM(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.model.embed_tokens.weight.fill_(1.0)
        for norm in (model.model.norm, model.model.layers[0].input_layernorm,
                     model.model.layers[0].post_attention_layernorm):
            norm.weight.fill_(1.0)
        if head_rows is None:
            g = torch.Generator().manual_seed(seed)
            model.lm_head.weight[65536:70656] = torch.randn(5120, 16, generator=g)
        else:
            for row, value in head_rows.items():
                model.lm_head.weight[row] = value
        torch.manual_seed(seed)
        for layer in model.model.layers:   # random attention/MLP so the context matters
            if head_rows is None:
                for lin in (layer.self_attn.v_proj, layer.self_attn.o_proj, layer.mlp.up_proj,
                            layer.mlp.gate_proj, layer.mlp.down_proj):
                    lin.weight.normal_(0, 0.5)
                model.model.embed_tokens.weight.normal_(0, 1)
    return LoadedLLM(model, config, Path("."), "base", torch.device("cpu"), torch.float32)


PROMPT = [1, 4, 400, 401, 402, 403, 404, 405, 406, 78, 3, 4, 407, 78]


def _expected_greedy(prompt: list[int], preference: list[int], steps: int) -> list[int]:
    """The ban rule simulated directly: take the best-ranked id unless it is the last id and already
    appears twice in the last 10."""
    seq = list(prompt)
    out = []
    for _ in range(steps):
        for token in preference:
            window = seq[-10:]
            if len(seq) >= 10 and token == seq[-1] and window.count(token) >= 2:
                continue
            break
        seq.append(token)
        out.append(token)
    return out


def test_greedy_follows_the_ban_rule_and_stops_at_max_length() -> None:
    llm = _llm({A: 3.0, B: 2.0, 3: 1.0})
    result = generate_detailed(llm, PROMPT, GenerationOptions(greedy=True, max_length=len(PROMPT) + 25))
    assert result.new_ids == _expected_greedy(PROMPT, [A, B, 3], 25)
    assert result.new_ids[:4] == [A, A, B, A]
    assert result.stop_reason == "max_length" and len(PROMPT) + len(result.new_ids) == len(PROMPT) + 25
    # the last id is dropped even at the length cap, as upstream does (docs/engine/llm.md#upstream-post-processing)
    assert result.audio_tokens == [i - 65536 for i in result.new_ids[:-1]]


def test_stops_on_eot() -> None:
    llm = _llm({3: 5.0, A: 1.0})
    result = generate_detailed(llm, PROMPT, GenerationOptions(greedy=True))
    assert result.new_ids == [3] and result.stop_reason == "eos" and result.audio_tokens == []


def test_end_of_text_2_does_not_stop() -> None:
    llm = _llm({2: 5.0, 3: 4.0})
    result = generate_detailed(llm, PROMPT, GenerationOptions(greedy=True, max_length=len(PROMPT) + 6))
    assert result.new_ids[:2] == [2, 2] and result.new_ids[2] == 3 and result.stop_reason == "eos"


def test_post_processing_drops_non_audio_ids() -> None:
    tokens, dropped = audio_tokens_from_output([65536, 400, 70655, 70656, 65540, 3])
    assert tokens == [0, 5119, 4] and dropped == 2


def test_seeds_reproduce_and_differ() -> None:
    llm = _llm(None, seed=3)

    def run(seed: int) -> list[int]:
        return generate(llm, PROMPT, GenerationOptions(seed=seed, max_length=len(PROMPT) + 30))

    first = run(7)
    assert len(first) == 29
    assert run(7) == first
    assert run(8) != first
    auto = generate_detailed(llm, PROMPT, GenerationOptions(max_length=len(PROMPT) + 5))
    assert isinstance(auto.seed, int)
    assert generate(llm, PROMPT, GenerationOptions(seed=auto.seed, max_length=len(PROMPT) + 5)) == auto.audio_tokens


def test_chunked_prefill_gives_the_same_continuation() -> None:
    llm = _llm(None, seed=4)
    whole = generate(llm, PROMPT, GenerationOptions(greedy=True, max_length=len(PROMPT) + 12))
    chunked = generate(llm, PROMPT, GenerationOptions(greedy=True, prefill_chunk=3, max_length=len(PROMPT) + 12))
    assert whole == chunked


def test_progress_per_token_and_cancel_between_steps() -> None:
    llm = _llm(None, seed=5)
    cancel = CancelToken()
    seen = []

    def progress(stage: str, fraction: float, detail: dict) -> None:
        seen.append((stage, fraction, detail["tokens"]))
        if detail["tokens"] == 3:
            cancel.set()

    with pytest.raises(EngineError) as err:
        generate(llm, PROMPT, GenerationOptions(seed=0), progress, cancel)
    assert err.value.reason is Reason.CANCELLED
    assert seen == [("generating", -1.0, 1), ("generating", -1.0, 2), ("generating", -1.0, 3)]


def test_prompt_longer_than_the_limit_is_bad_input() -> None:
    llm = _llm(None)
    with pytest.raises(EngineError) as err:
        generate(llm, PROMPT, GenerationOptions(max_length=len(PROMPT)))
    assert err.value.reason is Reason.BAD_INPUT
