"""Vocoder real-time factor on CPU at the released sizes (issue 5): flow (encoder + 10 CFG Euler steps) and HiFT.

    python benchmarks/vocoder_rtf.py [--seconds 5 10] [--prompt-seconds 5] [--runs 2] [--threads N]

Both modules are built in memory at the released config (VocoderConfig defaults = CosyVoice-300M-25Hz's
#yaml-values) with random weights: compute cost does not depend on the weight values. Inputs
cosyvoice.yaml, docs/engine/vocoder.md
are random mixed tokens for the output and for a prompt of `--prompt-seconds` (the flow also runs over the prompt
frames, as in the pipeline), a random prompt mel and speaker embedding. RTF = wall seconds ÷ seconds of audio
produced (2880 samples at 24 kHz per 5-token group), median of `--runs` after one short warm-up run.
CPU seconds (all threads) are printed too: on a shared, loaded machine wall time is inflated by waiting for a
core, CPU time much less so; CPU s ÷ threads ÷ audio s estimates the RTF the same machine would reach unloaded.

Baseline, measured in the same run: the first `--seconds` value; the table's last column is each row's time
÷ the baseline row's time (linear scaling in output length gives the ratio of the lengths). The load average is
printed because other processes on the machine inflate wall times. No assertions: this only prints.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))

from stepaudio_engine.vocoder.config import VocoderConfig  # noqa: E402
from stepaudio_engine.vocoder.flow import FlowModel  # noqa: E402
from stepaudio_engine.vocoder.hift import HiFTGenerator  # noqa: E402

# one 5-token group = 3 flow steps = 6 mel frames = 0.12 s (docs/engine/vocoder.md#vocoder-inputs)
GROUP_SECONDS = 2880 / 24000


def _groups(seconds: float) -> int:
    return max(1, round(seconds / GROUP_SECONDS))


def _pairs(steps: int, gen: torch.Generator) -> torch.Tensor:
    """(1, steps, 2) flow pairs: vq02 ids 0…1023 and vq06 ids shifted into 1025…5120 (flow.reshape_tokens)."""
    return torch.stack([torch.randint(0, 1024, (1, steps), generator=gen),
                        torch.randint(1025, 5121, (1, steps), generator=gen)], dim=-1)


def _time(fn, runs: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (all threads of this process) of `runs` calls."""
    wall, cpu = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return statistics.median(wall), statistics.median(cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, nargs="+", default=[5.0, 10.0], help="output lengths (s)")
    parser.add_argument("--prompt-seconds", type=float, default=5.0, help="prompt (reference) length (s)")
    parser.add_argument("--runs", type=int, default=2, help="timed runs per length (median)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    load_before = os.getloadavg()[0]
    cfg = VocoderConfig()
    torch.manual_seed(0)
    started = time.perf_counter()
    flow = FlowModel(cfg.flow).eval()
    hift = HiFTGenerator(cfg.hift).eval()
    build = time.perf_counter() - started
    n_flow = sum(p.numel() for p in flow.parameters())
    n_hift = sum(p.numel() for p in hift.parameters())
    gen = torch.Generator().manual_seed(1)
    prompt_steps = 3 * _groups(args.prompt_seconds)
    prompt = _pairs(prompt_steps, gen)
    prompt_feat = torch.randn(1, 2 * prompt_steps, cfg.flow.output_size, generator=gen)
    embedding = torch.randn(1, cfg.flow.spk_embed_dim, generator=gen)

    def run_flow(groups: int) -> torch.Tensor:
        mel, _ = flow.infer(_pairs(3 * groups, gen), prompt, prompt_feat, embedding)
        return mel

    def run_hift(mel: torch.Tensor) -> None:
        hift.infer(mel, torch.Generator().manual_seed(0))

    with torch.inference_mode():
        run_hift(run_flow(2))  # warm-up: first-call allocations and kernel selection
        rows = []
        for seconds in args.seconds:
            groups = _groups(seconds)
            audio = groups * GROUP_SECONDS
            mel = run_flow(groups)
            t_flow = _time(lambda: run_flow(groups), args.runs)
            t_hift = _time(lambda: run_hift(mel), args.runs)
            rows.append((audio, t_flow, t_hift))

    print(f"vocoder RTF on CPU, released config, random weights: flow {n_flow / 1e6:.1f} M params, "
          f"HiFT {n_hift / 1e6:.1f} M params (built in {build:.1f} s)")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"prompt {_groups(args.prompt_seconds) * GROUP_SECONDS:.2f} s, median of {args.runs} runs, "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print()
    header = f"{'output':>8} | {'flow s':>7} {'flow RTF':>8} | {'HiFT s':>7} {'HiFT RTF':>8} | " \
             f"{'total s':>7} {'RTF':>6} | {'flow share':>10} | {'× baseline':>10}"
    print(header)
    print("-" * len(header))
    base_total = rows[0][1][0] + rows[0][2][0]
    for audio, (t_flow, _), (t_hift, _) in rows:
        total = t_flow + t_hift
        print(f"{audio:7.2f}s | {t_flow:7.2f} {t_flow / audio:8.3f} | {t_hift:7.2f} {t_hift / audio:8.3f} | "
              f"{total:7.2f} {total / audio:6.3f} | {t_flow / total:10.0%} | {total / base_total:10.2f}")
    threads = torch.get_num_threads()
    print(f"\nCPU seconds (all {threads} threads) and the unloaded-RTF estimate CPU s ÷ {threads} ÷ audio s:")
    header = f"{'output':>8} | {'flow CPU s':>10} {'est RTF':>7} | {'HiFT CPU s':>10} {'est RTF':>7} | " \
             f"{'total est RTF':>13} | {'× baseline':>10}"
    print(header)
    print("-" * len(header))
    base_cpu = rows[0][1][1] + rows[0][2][1]
    for audio, (_, c_flow), (_, c_hift) in rows:
        print(f"{audio:7.2f}s | {c_flow:10.2f} {c_flow / threads / audio:7.3f} | {c_hift:10.2f} "
              f"{c_hift / threads / audio:7.3f} | {(c_flow + c_hift) / threads / audio:13.3f} | "
              f"{(c_flow + c_hift) / base_cpu:10.2f}")
    print(f"\nbaseline: the {rows[0][0]:.2f} s row; × baseline = total time ÷ the baseline's total "
          f"(length ratio of the rows: {', '.join(f'{r[0] / rows[0][0]:.2f}' for r in rows)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
