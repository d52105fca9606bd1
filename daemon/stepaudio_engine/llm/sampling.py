"""Token generation for step1, reproducing upstream's `generate` call step for step
(docs/engine/llm.md#upstream-generation, docs/engine/llm.md#upstream-post-processing).

Per step, on the last position's logits cast to float32:
1. repetition-aware ban (UP:tts.py RepetitionAwareLogitsProcessor): look at the last 10 ids of the whole
   sequence (prompt included; no ban while it has fewer than 10); if the last id makes up more than 10 % of
   them (i.e. occurs twice or more), its logit becomes -inf;
2. temperature 0.7; 3. top-k 50 (transformers' default, which upstream gets implicitly; ties at the k-th value
   are kept, as transformers does); 4. softmax and one multinomial draw.
Greedy mode applies only step 1 and takes the argmax (as transformers' greedy search applies only processors).
Stops after <|EOT|> (3) or when prompt + generated reach max_length (8192). </s> (2) does not stop.

The 2026-01 release is sampled as upstream's vLLM path does (UP@a652e87:tts.py `_generate`,
docs/engine/upstream-2026.md "Generation"): temperature 0.7 over the whole vocabulary (no top-k), no
repetition ban, and the last id is dropped only when it is <|EOT|>. `GenerationOptions.for_release` picks it.
"""
from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch

from stepaudio_engine.api import CancelToken, EngineError, ProgressFn, Reason, no_progress

from .loading import LoadedLLM
from .prompts import AUDIO_ID_OFFSET, AUDIO_TOKEN_COUNT, EOT_ID

log = logging.getLogger(__name__)

BAN_WINDOW = 10
BAN_THRESHOLD = 0.1


@dataclass
class GenerationOptions:
    temperature: float = 0.7
    top_k: int = 50                # 0 disables
    max_length: int = 8192         # prompt + generated ids, as upstream's max_length
    seed: Optional[int] = None     # None: a fresh random seed (reported in GenerationResult.seed)
    greedy: bool = False
    prefill_chunk: int = 512       # prompt positions per forward while filling the cache (bounds the bias size)
    repetition_ban: bool = True    # upstream's RepetitionAwareLogitsProcessor (2025 path only)
    drop_last: str = "always"      # "always" (transformers path) | "eot" (vLLM path: only a final <|EOT|>)

    @classmethod
    def for_release(cls, release: str, **kwargs) -> "GenerationOptions":
        """Upstream's sampling for a model release ("2025-11": transformers generate; "2026-01": vLLM)."""
        if release == "2026-01":
            kwargs = {"top_k": 0, "repetition_ban": False, "drop_last": "eot", **kwargs}
        return cls(**kwargs)


@dataclass
class GenerationResult:
    new_ids: list[int]             # every generated LLM id, the stop id included
    audio_tokens: list[int]        # post-processed: 0-based mixed prompt tokens (vq02 0..1023, vq06 1024..5119)
    stop_reason: str               # "eos" or "max_length"
    seed: Optional[int]            # the seed used (None in greedy mode)
    dropped_non_audio: int         # non-audio ids removed by post-processing
    prompt_length: int
    seconds: float


def ban_repeated_last(scores: torch.Tensor, history: Sequence[int], window: int = BAN_WINDOW,
                      threshold: float = BAN_THRESHOLD) -> torch.Tensor:
    """Set scores[last id] = -inf when the last id's share of the final `window` ids exceeds `threshold`.
    In place on a (vocab,) float tensor; returns it. The ratio is computed in float32 like upstream."""
    if len(history) < window:
        return scores
    recent = list(history[-window:])
    last = recent[-1]
    ratio = torch.tensor(recent.count(last), dtype=torch.float32) / window
    if bool(ratio > threshold):
        scores[last] = float("-inf")
    return scores


def keep_top_k(scores: torch.Tensor, k: int) -> torch.Tensor:
    """-inf for every score below the k-th largest (transformers TopKLogitsWarper semantics)."""
    if k <= 0 or k >= scores.shape[-1]:
        return scores
    kth = torch.topk(scores, k).values[..., -1, None]
    return scores.masked_fill(scores < kth, float("-inf"))


def choose_next(logits: torch.Tensor, history: Sequence[int], opts: GenerationOptions,
                generator: Optional[torch.Generator]) -> int:
    """One decoding step on float32 logits of shape (vocab,)."""
    scores = logits.float().clone()
    if opts.repetition_ban:
        scores = ban_repeated_last(scores, history)
    if opts.greedy:
        return int(torch.argmax(scores))
    scores = keep_top_k(scores / opts.temperature, opts.top_k)
    probs = torch.softmax(scores, dim=-1)
    return int(torch.multinomial(probs, num_samples=1, generator=generator))


def audio_tokens_from_output(new_ids: Sequence[int], drop_last: str = "always") -> tuple[list[int], int]:
    """Upstream's post-processing (docs/engine/llm.md#upstream-post-processing): drop the last id unconditionally
    (the stop id; at the
    length cap this loses one audio id, as upstream does) — or, with drop_last="eot" (the 2026 vLLM path),
    only when it is <|EOT|> — then LLM id - 65536. Unlike upstream we also drop ids outside the audio range
    (VLLMO/MLXS do the same) instead of handing negative ids to the vocoder. Returns (tokens, number dropped)."""
    body = list(new_ids[:-1]) if drop_last == "always" or (new_ids and new_ids[-1] == EOT_ID) else list(new_ids)
    kept = [i - AUDIO_ID_OFFSET for i in body if AUDIO_ID_OFFSET <= i < AUDIO_ID_OFFSET + AUDIO_TOKEN_COUNT]
    return kept, len(body) - len(kept)


def _check_prompt(llm: LoadedLLM, prompt_ids: Sequence[int], opts: GenerationOptions) -> None:
    if not prompt_ids:
        raise EngineError(Reason.INTERNAL, "empty prompt", "")
    if len(prompt_ids) >= opts.max_length:
        raise EngineError(Reason.BAD_INPUT,
                          f"the prompt has {len(prompt_ids)} tokens (the text plus the recording's audio tokens), "
                          f"the model takes at most {opts.max_length - 1}",
                          "a recording costs about 42 tokens per second and text roughly one per word or Chinese "
                          "character: split long text into several jobs (stepaudio batch), or use a shorter recording")
    vocab = llm.config.vocab_size
    if min(prompt_ids) < 0 or max(prompt_ids) >= vocab:
        raise EngineError(Reason.INTERNAL, f"prompt ids outside the vocabulary 0..{vocab - 1}", "")


def generate_detailed(llm: LoadedLLM, prompt_ids: Sequence[int], opts: Optional[GenerationOptions] = None,
                      progress: ProgressFn = no_progress, cancel: Optional[CancelToken] = None,
                      on_logits: Optional[Callable[[int, torch.Tensor], None]] = None) -> GenerationResult:
    """Run the decoder over the prompt, then sample until <|EOT|> or max_length. Checks `cancel` between steps
    and calls progress("generating", -1, {"tokens": n}) after each new token; on_logits(step, float32 logits
    (vocab,)) sees each step's logits before the choice."""
    opts = opts or GenerationOptions()
    cancel = cancel or CancelToken()
    _check_prompt(llm, prompt_ids, opts)
    seed = None if opts.greedy else (opts.seed if opts.seed is not None else secrets.randbits(63))
    generator = None
    if seed is not None:
        generator = torch.Generator(device=llm.device)
        generator.manual_seed(seed)
    model = llm.model
    history = list(int(i) for i in prompt_ids)
    new_ids: list[int] = []
    stop_reason = "max_length"
    started = time.monotonic()
    try:
        with torch.inference_mode():
            cache = model.new_cache()
            prompt = torch.tensor([history], dtype=torch.long, device=llm.device)
            chunk = max(1, opts.prefill_chunk)
            for start in range(0, prompt.shape[1], chunk):
                cancel.check()
                logits = model(prompt[:, start:start + chunk], cache, last_only=True)
            while True:
                if on_logits is not None:  # the stage tool records each step's logits before the choice
                    on_logits(len(new_ids), logits[0, -1].float())
                token = choose_next(logits[0, -1], history, opts, generator)
                history.append(token)
                new_ids.append(token)
                progress("generating", -1.0, {"tokens": len(new_ids)})
                if token == EOT_ID:
                    stop_reason = "eos"
                    break
                if len(history) >= opts.max_length:
                    break
                cancel.check()
                step = torch.tensor([[token]], dtype=torch.long, device=llm.device)
                logits = model(step, cache)
    except torch.OutOfMemoryError as exc:
        raise EngineError(Reason.OUT_OF_MEMORY, f"out of memory while generating on {llm.device}",
                          "use a shorter input, a 4-bit variant, or the CPU") from exc
    seconds = time.monotonic() - started
    tokens, dropped = audio_tokens_from_output(new_ids, opts.drop_last)
    if dropped:
        log.warning("the LLM produced %d non-audio ids; they were dropped", dropped)
    log.info("generated %d ids in %.2f s (%.1f/s), stop: %s", len(new_ids), seconds,
             len(new_ids) / max(seconds, 1e-9), stop_reason)
    return GenerationResult(new_ids, tokens, stop_reason, seed, dropped, len(prompt_ids), seconds)


def generate(llm: LoadedLLM, prompt_ids: Sequence[int], opts: Optional[GenerationOptions] = None,
             progress: ProgressFn = no_progress, cancel: Optional[CancelToken] = None) -> list[int]:
    """The generated audio as 0-based mixed prompt tokens (see audio_tokens_from_output)."""
    return generate_detailed(llm, prompt_ids, opts, progress, cancel).audio_tokens
