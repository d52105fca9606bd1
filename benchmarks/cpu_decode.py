"""step1 decode on the CPU per kernel path, against the memory-bandwidth floor measured in the same run (issue 16).

    python benchmarks/cpu_decode.py [--layers 2] [--context 512] [--tokens 12] [--threads 2] [--full]
                                    [--workdir DIR] [--skip-slow]

Checkpoints of the released width (hidden 3072, FFN 8192, 48 heads in 4 KV groups, vocab 74 752) with random
weights and `--layers` decoder layers are written to --workdir in the released layouts (bf16 base; AWQ int4
pack-quantized, group 128) and loaded with the engine's own `load_llm`, so every path is the code the daemon runs:

| path | what | load_llm call |
|---|---|---|
| fp32 torch | today's base on the CPU (the baseline) | base, dtype fp32 |
| 8-bit ort | base, onnxruntime MatMulNBits 8-bit block 32, int8 activations, 8-bit head | base, dtype auto |
| 4-bit ort (awq) | the AWQ int4 weights repacked, 8-bit head | awq, dtype auto |
| 4-bit ort (bnb folder) | int4 block 64, 8-bit head (bf16 weights here, quantized at load) | bnb, dtype auto |
| awq torch | the awq variant before: int4 decompressed on every forward, fp32 head | awq, kernel torch |
| bnb torch | bitsandbytes NF4 Linear4bit, fp32 head | bnb, kernel torch |

Measured, all in this run: read bandwidth (torch.sum over 1 GiB, best of 5, before and after); per path, after a
`--context`-token prefill, the median latency of a one-token decode step (the paths take turns token by token, so
background load hits all alike) and of the lm_head alone, hence ms per layer = (step - head) / layers and ms per
token at 32 layers = head + 32 x layer; bytes read per token (weights and their scales, 32 layers + head) and the
fraction of the bandwidth floor (floor = bytes / bandwidth); the logits error of each fast path against the
exact path of the same weights (max |difference| / max |logit| at the prompt's last position).
The slow "before" paths run in a second round with 2 tokens,
interleaved with the 4-bit path. Peak RSS per variant comes from a child process per variant (load +
prefill + decode; VmHWM), extrapolated to 32 layers by the per-layer weight bytes except where measured at 32.
`--full` also writes a 32-layer AWQ checkpoint (random int4 in the released layout, ~2.5 GB on disk) and runs
a real 32-layer 4-bit decode in a child process (built and loaded layer by layer, never a dense 32-layer model).
No timed assertions: this only prints.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))

from stepaudio_engine.llm import load_llm  # noqa: E402
from stepaudio_engine.llm.config import RELEASED, Step1Config  # noqa: E402
from stepaudio_engine.llm.contract import linear_shapes  # noqa: E402

GIB = 2 ** 30
AWQ_GROUP = 128


# ---------------------------------------------------------------------------------------------- checkpoints

def released(layers: int) -> Step1Config:
    return Step1Config.from_dict({**RELEASED, "num_hidden_layers": layers})


def write_checkpoint(folder: Path, config: Step1Config, kind: str) -> Path:
    """A released-layout folder with random weights, one safetensors shard per layer (memory stays per layer).
    kind: base (bf16) | awq (int4 pack-quantized, symmetric group 128) | bnb (bf16 weights, bnb config)."""
    from safetensors.torch import save_file

    from stepaudio_engine.llm.quant_bnb import quantization_config as bnb_config
    from stepaudio_engine.tiny.llm import awq_quantization_config

    if (folder / "model.safetensors.index.json").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(0)
    h = config.hidden_size
    weight_map: dict[str, str] = {}

    def shard(name: str, tensors: dict[str, torch.Tensor]) -> None:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(folder / name), metadata={"format": "pt"})
        weight_map.update({k: name for k in tensors})

    def dense(shape: tuple[int, int]) -> torch.Tensor:
        return (torch.randn(shape, generator=gen) * (0.5 / shape[1] ** 0.5)).to(torch.bfloat16)

    shard("embed.safetensors", {"model.embed_tokens.weight": dense((config.vocab_size, h)),
                                "model.norm.weight": torch.ones(h, dtype=torch.bfloat16)})
    shard("head.safetensors", {"lm_head.weight": dense((config.vocab_size, h))})
    linears = linear_shapes(config)
    for i in range(config.num_hidden_layers):
        prefix = f"model.layers.{i}."
        tensors = {prefix + n: torch.ones(h, dtype=torch.bfloat16)
                   for n in ("input_layernorm.weight", "post_attention_layernorm.weight")}
        for lin, (out_f, in_f) in linears.items():
            if not lin.startswith(prefix):
                continue
            if kind == "awq":
                tensors[f"{lin}.weight_packed"] = torch.randint(-2 ** 31, 2 ** 31 - 1, (out_f, in_f // 8),
                                                                generator=gen, dtype=torch.int32)
                tensors[f"{lin}.weight_scale"] = torch.full((out_f, in_f // AWQ_GROUP), 0.5 / 7.5 / in_f ** 0.5,
                                                            dtype=torch.bfloat16)
                tensors[f"{lin}.weight_shape"] = torch.tensor([out_f, in_f], dtype=torch.int64)
            else:
                tensors[f"{lin}.weight"] = dense((out_f, in_f))
        shard(f"layer-{i:03d}.safetensors", tensors)
    data = config.to_json_dict()
    if kind == "awq":
        data["quantization_config"] = awq_quantization_config(AWQ_GROUP)
    elif kind == "bnb":
        data["quantization_config"] = bnb_config()
    (folder / "config.json").write_text(json.dumps(data))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return folder


# ---------------------------------------------------------------------------------------------- measuring

def bandwidth() -> float:
    """Read bandwidth in bytes/s: torch.sum over 1 GiB of fp32, best of 5."""
    buf = torch.ones(GIB // 4)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        buf.sum()
        best = min(best, time.perf_counter() - start)
    del buf
    return GIB / best


@dataclass
class Path_:
    name: str
    llm: object
    bits_per_weight: float           # decoder weights incl. scales
    head_bits: float
    cache: object = None
    logits: object = None            # last prompt position's logits after the prefill
    steps: list[float] = field(default_factory=list)
    heads: list[float] = field(default_factory=list)
    token: int = 70000


def bits_of(kernel: dict) -> tuple[float, float]:
    """Bits read per weight, with block scales (fp32 scales per block), decoder and head."""
    def cost(bits: int, block: int) -> float:
        return bits + 32 / block
    if kernel["kernel"].startswith("onnxruntime"):
        block = int(kernel["weights"].rsplit(" ", 1)[-1])
        return cost(kernel["bits"], block), cost(8, 32)
    if kernel["bits"] == 4 and "NF4" in kernel["kernel"]:
        return 4 + 8 / 64 + 32 / 64 / 256, 32       # NF4: uint8 absmax per 64 (double-quantized), fp32 head
    if kernel["bits"] == 4:
        return 4 + 16 / AWQ_GROUP, 32               # int4 + bf16 scale per group, fp32 head
    return kernel["bits"], kernel["head_bits"]


def prefill(p: Path_, context: int) -> None:
    ids = torch.randint(65536, 70000, (1, context), generator=torch.Generator().manual_seed(1))
    p.cache = p.llm.model.new_cache()
    with torch.inference_mode():
        for start in range(0, context, 512):
            p.logits = p.llm.model(ids[:, start:start + 512], p.cache, last_only=True)[0, -1].float()


def logits_error(p: Path_, ref: Path_) -> str:
    """max |logit difference| / max |reference logit| and whether the argmax agrees, same weights and prompt."""
    diff = float((p.logits - ref.logits).abs().max() / ref.logits.abs().max())
    same = int(p.logits.argmax()) == int(ref.logits.argmax())
    return f"{diff:.4f} vs {ref.name.split(' (')[0]}, argmax {'same' if same else 'differs'}"


def one_step(p: Path_, head_input: torch.Tensor) -> None:
    with torch.inference_mode():
        start = time.perf_counter()
        logits = p.llm.model(torch.tensor([[p.token]]), p.cache)
        p.steps.append(time.perf_counter() - start)
        p.token = 65536 + int(logits[0, -1].argmax()) % 5000
        start = time.perf_counter()
        p.llm.model.lm_head(head_input)
        p.heads.append(time.perf_counter() - start)


def run_round(paths: list[Path_], tokens: int, warmup: int, hidden: int) -> None:
    head_input = torch.randn(1, 1, hidden)
    for step in range(warmup + tokens):
        for p in paths:
            one_step(p, head_input)
            if step < warmup:
                p.steps.pop()
                p.heads.pop()


@dataclass
class Row:
    name: str
    layer_ms: float
    head_ms: float
    token32_ms: float
    bytes32: float
    floor_ms: float


def summarize(p: Path_, layers: int, bw: float, config32: Step1Config) -> Row:
    step = statistics.median(p.steps) * 1e3
    head = statistics.median(p.heads) * 1e3
    layer = (step - head) / layers
    per_layer_weights = sum(o * i for o, i in linear_shapes(released(1)).values())
    head_weights = config32.vocab_size * config32.hidden_size
    nbytes = (32 * per_layer_weights * p.bits_per_weight + head_weights * p.head_bits) / 8
    return Row(p.name, layer, head, head + 32 * layer, nbytes, nbytes / bw * 1e3)


# ---------------------------------------------------------------------------------------------- children (RSS)

def child(args: argparse.Namespace) -> None:
    """Load one variant, prefill, decode --tokens; print JSON with ms/token and the peak RSS."""
    torch.set_num_threads(args.threads)
    folder, variant, dtype, kernel = args.child
    started = time.perf_counter()
    llm = load_llm(Path(folder), variant, "cpu", dtype, kernel)
    load_s = time.perf_counter() - started
    p = Path_(variant, llm, 0, 0)
    prefill(p, args.context)
    run_round([p], args.tokens, 1, llm.config.hidden_size)
    print(json.dumps({"ms_token": statistics.median(p.steps) * 1e3, "load_s": load_s, "kernel": llm.kernel,
                      "peak_rss": peak_rss(), "layers": llm.config.num_hidden_layers}))


def peak_rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def run_child(args: argparse.Namespace, folder: Path, variant: str, dtype: str, kernel: str,
              tokens: int) -> dict:
    cmd = [sys.executable, __file__, "--threads", str(args.threads), "--context", str(args.context),
           "--tokens", str(tokens), "--child", str(folder), variant, dtype, kernel]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--context", type=int, default=512)
    ap.add_argument("--tokens", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--full", action="store_true", help="also a real 32-layer 4-bit decode (writes ~2.5 GB)")
    ap.add_argument("--skip-slow", action="store_true", help="skip the awq/bnb torch paths")
    ap.add_argument("--child", nargs=4, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    torch.set_num_threads(args.threads)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="cpu-decode-"))
    try:
        report(args, work)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def report(args: argparse.Namespace, work: Path) -> None:
    config = released(args.layers)
    print(f"# cpu_decode: {args.layers} layers of the released width, context {args.context}, "
          f"{args.tokens} tokens, {args.threads} threads, torch {torch.__version__}, load average "
          f"{os.getloadavg()[0]:.1f}")
    base = write_checkpoint(work / f"base-{args.layers}", config, "base")
    awq = write_checkpoint(work / f"awq-{args.layers}", config, "awq")
    bnb = write_checkpoint(work / f"bnb-{args.layers}", config, "bnb")
    bw = bandwidth()
    print(f"read bandwidth: {bw / 1e9:.1f} GB/s")

    def load(name: str, folder: Path, variant: str, dtype: str, kernel: str = "auto") -> Path_:
        llm = load_llm(folder, variant, "cpu", dtype, kernel)
        bits, head_bits = bits_of(llm.kernel)
        p = Path_(name, llm, bits, head_bits)
        prefill(p, args.context)
        return p

    fast = [load("fp32 torch (today's base)", base, "base", "fp32"),
            load("8-bit ort (base)", base, "base", "auto"),
            load("4-bit ort (awq, repacked)", awq, "awq", "auto"),
            load("4-bit ort (bnb folder, block 64)", bnb, "bnb", "auto")]
    errors = {fast[1].name: logits_error(fast[1], fast[0]), fast[3].name: logits_error(fast[3], fast[0])}
    run_round(fast, args.tokens, args.warmup, config.hidden_size)
    rows = [summarize(p, args.layers, bw, released(32)) for p in fast]
    four_bit = fast[2]
    for p in fast[:1] + fast[3:]:
        p.llm = p.cache = None
    fast = [fast[1], fast[2]]
    slow: list[Path_] = []
    if not args.skip_slow:
        slow = [load("awq torch (before: decompress per forward)", awq, "awq", "fp32", "torch"),
                load("bnb torch (bitsandbytes NF4, as shipped)", bnb, "bnb", "fp32", "torch")]
        errors[four_bit.name] = logits_error(four_bit, slow[0])
        four_bit.steps, four_bit.heads = [], []
        run_round([four_bit] + slow, 2, 1, config.hidden_size)
        ref = summarize(four_bit, args.layers, bw, released(32))
        four_ms = next(r.token32_ms for r in rows if r.name == four_bit.name)
        for p in slow:      # scaled into round 1 by the 4-bit path that ran in both rounds
            r = summarize(p, args.layers, bw, released(32))
            scale = four_ms / ref.token32_ms
            rows.append(Row(r.name, r.layer_ms * scale, r.head_ms * scale, r.token32_ms * scale, r.bytes32,
                            r.floor_ms))
    bw_after = bandwidth()
    print(f"read bandwidth after: {bw_after / 1e9:.1f} GB/s (floor uses the first)")
    baseline = rows[0].token32_ms
    print("\n| path | ms / layer | ms lm_head | ms / token (32 layers) | × fp32 | GB read / token | floor ms | "
          "fraction of floor |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r.name} | {r.layer_ms:.1f} | {r.head_ms:.1f} | {r.token32_ms:.0f} | {baseline / r.token32_ms:.2f} "
              f"| {r.bytes32 / 1e9:.2f} | {r.floor_ms:.0f} | {r.floor_ms / r.token32_ms:.2f} |")
    print("\nlogits error at the prompt's last position (random weights: says nothing about the real model's "
          "quality loss; the base and bnb folders hold the same weights):")
    for name, text in errors.items():
        print(f"- {name}: {text}")
    for p in fast + slow:
        p.llm = p.cache = None
    rss_table(args, base, awq, bnb, work)


def rss_table(args: argparse.Namespace, base: Path, awq: Path, bnb: Path, work: Path) -> None:
    print(f"\npeak RSS per variant (child process: load + {args.context}-token prefill + decode), "
          f"{args.layers} layers measured, 32 extrapolated by weight bytes per layer:")
    per_layer = sum(o * i for o, i in linear_shapes(released(1)).values())
    cases = [("base fp32 torch", base, "base", "fp32", "torch", 32),
             ("base 8-bit ort", base, "base", "auto", "auto", 9),
             ("awq 4-bit ort", awq, "awq", "auto", "auto", 4.25),
             ("bnb 4-bit ort", bnb, "bnb", "auto", "auto", 4.5)]
    print("| variant | peak RSS, measured | peak RSS, 32 layers (extrapolated) |")
    print("|---|---|---|")
    for name, folder, variant, dtype, kernel, bits in cases:
        got = run_child(args, folder, variant, dtype, kernel, 3)
        if "error" in got:
            print(f"| {name} | failed: {got['error']} | |")
            continue
        extra = (32 - args.layers) * per_layer * bits / 8
        print(f"| {name} | {got['peak_rss'] / GIB:.2f} GiB | {(got['peak_rss'] + extra) / GIB:.2f} GiB |")
    if args.full:
        folder = write_checkpoint(work / "awq-32", released(32), "awq")
        got = run_child(args, folder, "awq", "auto", "auto", args.tokens)
        if "error" in got:
            print(f"\nreal 32-layer 4-bit decode failed: {got['error']}")
        else:
            print(f"\nreal 32-layer 4-bit decode (awq layout, random int4): {got['ms_token']:.0f} ms/token "
                  f"(median of {args.tokens}), load {got['load_s']:.0f} s (graph build included), "
                  f"peak RSS {got['peak_rss'] / GIB:.2f} GiB")


if __name__ == "__main__":
    main()
