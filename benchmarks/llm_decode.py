"""step1 decode speed against transformers' LlamaForCausalLM of the same shape (issue 4 performance).

    python benchmarks/llm_decode.py [--device cpu|cuda] [--dtype fp32|bf16] [--layers 2] [--tokens 24]
                                    [--context 1000] [--warmup 3] [--threads N] [--prefill-runs 2]
                                    [--prefill-chunk 0]

Both models are built in memory with random weights at the released width (hidden 3072, 48 heads, 4 KV groups,
#configuration) and `--layers` decoder layers, in the same dtype, on the same device,
FFN 8192, vocab 74 752; docs/engine/llm.md
with the same torch threads. Llama (SDPA attention, untied head, its own DynamicCache) runs a plain greedy loop
through `model(..., past_key_values=cache, use_cache=True)` (`cache=` where transformers has renamed it); ours
runs `model(ids, cache)` with its KVCache. Both without grad, as the engine's load_llm leaves its model.

Measured, all in this run (the baseline is Llama; ratios are ours / Llama, goal for decode <= 1.2):
- prefill: one forward over a `--context`-token prompt, cache filled, logits of the last position only
  (`--prefill-chunk 512` runs ours in 512-position chunks as the engine's generate does; Llama stays one forward);
  the fastest of `--prefill-runs` runs, the models taking turns;
- decode: per-token latency of one forward + argmax at a context of `--context` tokens, the two models
  alternating token by token (so background load hits both alike), warm-up steps excluded, median and p90;
- lm_head alone (the same 74 752 x 3072 matmul in both), hence the per-layer decode cost and a 32-layer
  extrapolation (decode cost is linear in the number of layers plus the head);
- peak memory of each model's prefill + warm-up phase above the memory before it: on CUDA
  torch.cuda.max_memory_allocated, on CPU the kernel's resident high-water mark (VmHWM, reset through
  /proc/self/clear_refs) or, where that is unavailable, a psutil RSS sampler.
The defaults (2 layers, fp32) run in about 2 minutes on a 2-core CPU, bf16 in about 3. No timed assertions:
this only prints.
"""
from __future__ import annotations

import argparse
import inspect
import os
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Optional

import psutil
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))

from stepaudio_engine.llm.config import RELEASED, Step1Config  # noqa: E402
from stepaudio_engine.llm.model import KVCache, Step1ForCausalLM  # noqa: E402

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
MIB = 2 ** 20


# ---------------------------------------------------------------------------------------------- memory

class PeakMemory:
    """Peak memory of one phase, in bytes above the memory at its start (`with PeakMemory(dev) as m: ...`)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.start = 0
        self.peak = 0
        self.method = ""
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start = torch.cuda.memory_allocated(self.device)
            self.method = "torch.cuda.max_memory_allocated"
        elif _reset_hwm():
            self.start = psutil.Process().memory_info().rss
            self.method = "RSS high-water mark (VmHWM)"
        else:     # no resettable kernel counter: sample RSS every 2 ms
            self.start = self.peak = psutil.Process().memory_info().rss
            self.method = "psutil RSS sampled every 2 ms"
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        proc = psutil.Process()
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, proc.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device)
        elif self._thread is not None:
            self._stop.set()
            self._thread.join()
        else:
            self.peak = _hwm_bytes()

    @property
    def above_start(self) -> int:
        return max(self.peak - self.start, 0)


def _reset_hwm() -> bool:
    """Reset the kernel's peak-RSS counter (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _hwm_bytes() > 0
    except OSError:
        return False


def _hwm_bytes() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def process_peak_rss() -> int:
    """Peak resident memory of the whole run (both models), in bytes; 0 where `resource` does not exist."""
    try:
        import resource
    except ImportError:      # Windows
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak * (1 if sys.platform == "darwin" else 1024)


# ---------------------------------------------------------------------------------------------- models

def step1_config(layers: int) -> Step1Config:
    return Step1Config(**{**RELEASED, "num_hidden_layers": layers})


def build_ours(config: Step1Config, dtype: torch.dtype, device: torch.device) -> Step1ForCausalLM:
    with torch.device(device), _default_dtype(dtype):
        model = Step1ForCausalLM(config)
    return model.eval().requires_grad_(False)     # as load_llm leaves it


def build_llama(config: Step1Config, dtype: torch.dtype, device: torch.device) -> torch.nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    llama_config = LlamaConfig(
        hidden_size=config.hidden_size, intermediate_size=config.intermediate_size,
        num_attention_heads=config.num_attention_heads, num_key_value_heads=config.num_attention_groups,
        num_hidden_layers=config.num_hidden_layers, vocab_size=config.vocab_size,
        rms_norm_eps=config.rms_norm_eps, max_position_embeddings=config.max_seq_len,
        tie_word_embeddings=False, attention_bias=False, mlp_bias=False)
    llama_config._attn_implementation = "sdpa"
    with torch.device(device), _default_dtype(dtype):
        model = LlamaForCausalLM(llama_config)
    return model.eval().requires_grad_(False)


class _default_dtype:
    """Build parameters directly in the benchmark dtype (no fp32 copy on the way to bf16)."""

    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype
        self.saved = torch.get_default_dtype()

    def __enter__(self) -> None:
        torch.set_default_dtype(self.dtype)

    def __exit__(self, *exc: object) -> None:
        torch.set_default_dtype(self.saved)


def param_bytes(model: torch.nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


@dataclass
class Runner:
    """A greedy decoder: prefill(ids) -> first token, step(token) -> next token (state kept inside)."""

    name: str
    model: torch.nn.Module
    prefill_fn: Callable[[torch.nn.Module, torch.Tensor], tuple[object, torch.Tensor]]
    step_fn: Callable[[torch.nn.Module, object, torch.Tensor], tuple[object, torch.Tensor]]
    state: object = None

    def prefill(self, ids: torch.Tensor) -> torch.Tensor:
        self.state, logits = self.prefill_fn(self.model, ids)
        return logits[:, -1].argmax(-1, keepdim=True)

    def step(self, token: torch.Tensor) -> torch.Tensor:
        self.state, logits = self.step_fn(self.model, self.state, token)
        return logits[:, -1].argmax(-1, keepdim=True)


def _ours_prefill(model: Step1ForCausalLM, ids: torch.Tensor, chunk: int = 0) -> tuple[KVCache, torch.Tensor]:
    cache = model.new_cache()
    chunk = chunk if chunk > 0 else ids.shape[1]
    for start in range(0, ids.shape[1], chunk):
        logits = model(ids[:, start:start + chunk], cache, last_only=True)
    return cache, logits


def _ours_step(model: Step1ForCausalLM, cache: KVCache, token: torch.Tensor) -> tuple[KVCache, torch.Tensor]:
    return cache, model(token, cache)


def _llama_cache_kwarg(model: torch.nn.Module) -> str:
    """transformers renamed `past_key_values` to `cache` (5.2x warns about the old name); use what it takes."""
    return "cache" if "cache" in inspect.signature(type(model).forward).parameters else "past_key_values"


def _llama_prefill(model: torch.nn.Module, ids: torch.Tensor) -> tuple[object, torch.Tensor]:
    from transformers import DynamicCache

    kwargs = {_llama_cache_kwarg(model): DynamicCache(config=model.config)}
    out = model(input_ids=ids, use_cache=True, logits_to_keep=1, **kwargs)
    return _llama_cache_of(out), out.logits


def _llama_step(model: torch.nn.Module, cache: object, token: torch.Tensor) -> tuple[object, torch.Tensor]:
    out = model(input_ids=token, use_cache=True, **{_llama_cache_kwarg(model): cache})
    return _llama_cache_of(out), out.logits


def _llama_cache_of(output: object) -> object:
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


# ---------------------------------------------------------------------------------------------- timing

def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, fn: Callable[[], object]) -> tuple[float, object]:
    sync(device)
    start = time.perf_counter()
    result = fn()
    sync(device)
    return time.perf_counter() - start, result


@dataclass
class Result:
    name: str
    weights: int = 0
    prefill: list[float] = field(default_factory=list)
    decode: list[float] = field(default_factory=list)
    head: list[float] = field(default_factory=list)
    peak: int = 0
    memory_method: str = ""


def measure_prefill(runners: list[Runner], results: dict[str, Result], prompt: torch.Tensor, runs: int,
                    warmup: int, device: torch.device) -> dict[str, torch.Tensor]:
    """Prefill each model `runs` times (order alternating); the last run's cache stays for decoding.
    Memory: prefill + warm-up decode steps of each model, measured model by model."""
    first: dict[str, torch.Tensor] = {}
    for run in range(runs):
        order = runners if run % 2 == 0 else runners[::-1]
        for r in order:
            r.state = None                       # drop the previous cache before measuring memory
            with PeakMemory(device) as mem:
                seconds, token = timed(device, lambda: r.prefill(prompt))
                for _ in range(warmup):
                    token = r.step(token)
                sync(device)
            results[r.name].prefill.append(seconds)
            results[r.name].peak = max(results[r.name].peak, mem.above_start)
            results[r.name].memory_method = mem.method
            first[r.name] = token
    return first


def measure_decode(runners: list[Runner], results: dict[str, Result], first: dict[str, torch.Tensor],
                   tokens: int, device: torch.device) -> None:
    """Time one greedy step per model per token, alternating which model goes first; after each step also
    time that model's lm_head alone on one position (to split the step into head and layers)."""
    current = dict(first)
    for i in range(tokens):
        order = runners if i % 2 == 0 else runners[::-1]
        for r in order:
            seconds, current[r.name] = timed(device, lambda: r.step(current[r.name]))
            results[r.name].decode.append(seconds)
            x = torch.randn(1, 1, r.model.lm_head.in_features, dtype=r.model.lm_head.weight.dtype, device=device)
            results[r.name].head.append(timed(device, lambda: r.model.lm_head(x))[0])


# ---------------------------------------------------------------------------------------------- report

def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def report(args: argparse.Namespace, results: dict[str, Result], device: torch.device, threads: int) -> None:
    import transformers

    base, ours = results["Llama"], results["step1"]
    layers = args.layers

    def head(r: Result) -> float:
        return statistics.median(r.head)

    def per_layer(r: Result) -> float:
        return (statistics.median(r.decode) - head(r)) / layers

    def full(r: Result) -> float:
        return head(r) + 32 * per_layer(r)

    rows = [
        ("decode, median ms/token", 1e3 * statistics.median(base.decode), 1e3 * statistics.median(ours.decode),
         "<= 1.2"),
        ("decode, p90 ms/token", 1e3 * percentile(base.decode, 0.9), 1e3 * percentile(ours.decode, 0.9), ""),
        ("  lm_head alone, median ms", 1e3 * head(base), 1e3 * head(ours), ""),
        ("  per layer, ms ((token - head) / layers)", 1e3 * per_layer(base), 1e3 * per_layer(ours), "<= 1.2"),
        ("  32 layers extrapolated, ms/token", 1e3 * full(base), 1e3 * full(ours), "<= 1.2"),
        (f"prefill {args.context} tokens, s", min(base.prefill), min(ours.prefill), ""),
        ("peak memory above start, MiB (prefill+warm-up)", base.peak / MIB, ours.peak / MIB, ""),
        ("weights, MiB", base.weights / MIB, ours.weights / MIB, ""),
    ]
    cfg = step1_config(layers)
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}, torch {torch.__version__}, "
          f"transformers {transformers.__version__}; device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "")
          + f", dtype {args.dtype}, torch threads {threads}; {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"shape: hidden {cfg.hidden_size}, {cfg.num_attention_heads} heads, {cfg.num_attention_groups} KV groups, "
          f"FFN {cfg.intermediate_size}, vocab {cfg.vocab_size}, {layers} layers; context {args.context}, "
          f"{args.tokens} timed tokens after {args.warmup} warm-up, prefill runs {args.prefill_runs}"
          f"{f' (ours in chunks of {args.prefill_chunk})' if args.prefill_chunk > 0 else ''}; "
          f"memory: {ours.memory_method}")
    print(f"| {'measure':48s} | Llama (baseline) | step1 (ours) | ratio | goal   |")
    print(f"|{'-' * 50}|------------------|--------------|-------|--------|")
    for name, b, o, goal in rows:
        ratio = o / b if b > 0 else float("nan")
        print(f"| {name:48s} | {b:16.1f} | {o:12.1f} | {ratio:5.2f} | {goal:6s} |")
    print(f"process peak RSS: {process_peak_rss() / MIB:.0f} MiB (both models resident)")
    print("decode cost is linear in layers: full 32-layer step1 ~= lm_head + 32 x per-layer (row above).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="fp32")
    parser.add_argument("--layers", type=int, default=2, help="decoder layers (released model: 32)")
    parser.add_argument("--tokens", type=int, default=24, help="timed decode tokens per model")
    parser.add_argument("--warmup", type=int, default=3, help="untimed decode steps per model")
    parser.add_argument("--context", type=int, default=1000, help="prompt length (decode context)")
    parser.add_argument("--prefill-runs", type=int, default=2)
    parser.add_argument("--prefill-chunk", type=int, default=0,
                        help="ours: prompt positions per forward (0: one forward; the engine uses 512)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    device = torch.device(args.device)
    dtype = DTYPES[args.dtype]
    if device.type == "cuda":     # as the engine loads it (llm/loading.py); global, so it applies to both models
        torch.backends.cuda.matmul.allow_tf32 = True
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    torch.manual_seed(args.seed)

    started = time.perf_counter()
    config = step1_config(args.layers)
    results: dict[str, Result] = {}
    with torch.inference_mode():
        llama = build_llama(config, dtype, device)
        ours = build_ours(config, dtype, device)
        runners = [Runner("Llama", llama, _llama_prefill, _llama_step),
                   Runner("step1", ours, partial(_ours_prefill, chunk=args.prefill_chunk), _ours_step)]
        for r in runners:
            results[r.name] = Result(r.name, weights=param_bytes(r.model))
        prompt = torch.randint(0, config.vocab_size, (1, args.context), device=device)
        first = measure_prefill(runners, results, prompt, args.prefill_runs, args.warmup, device)
        measure_decode(runners, results, first, args.tokens, device)
    report(args, results, device, threads)
    print(f"benchmark wall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
