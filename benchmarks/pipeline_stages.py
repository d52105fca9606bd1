"""Stage breakdown of clone and edit, and what the prompt cache saves (issue 5), in-process on the tiny model.

    python benchmarks/pipeline_stages.py [--models DIR] [--tokenizer tiny|released] [--repeats 3]
                                         [--ref-seconds 3] [--threads 1]

Runs stepaudio_engine.engine.Engine directly (no daemon, no CLI) on the tiny model (written to a temp folder
unless --models names one), with the prompt cache on. Per repeat, with a fresh reference recording each time:
  clone A  (cache miss: both tokenizers and CAM++ run),
  clone B  (same reference, text and seed: cache hit),
  edit     (emotion, on a fresh input: cache miss).
Each job reports its stage timings (tokenize, generate, vocode, write); the tables give medians over repeats.
One clone on another reference runs first as a warm-up: it is not in the medians, and is shown on its own
row (what the first job after every load costs).
Baselines measured in the same run: each stage's share of its job's total, and for the cache the tokenize
stage on a miss (ratio = hit ÷ miss, target ≤ 0.02). The tiny model's LLM and vocoder are far cheaper than the
released ones, so the shares say where the tiny pipeline spends time, not the released one; the tokenize stage
runs the real-size audio front end (fbank, resampling) on tiny networks. `--tokenizer released` swaps in a
Paraformer of the released size (random weights, ~880 MB, written to the temp folder; vq06 ONNX and CAM++
stay tiny), so the cache's miss costs what the vq02 half of a real miss costs. No assertions: this only prints.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))

from stepaudio_engine.api import CancelToken, CloneRequest, EditRequest, LoadOptions  # noqa: E402

STAGES = ("tokenize", "generate", "vocode", "write")
TARGET_HIT_RATIO = 0.02


def _voice(path: Path, seconds: float, seed: int) -> Path:
    """A voice-like test signal (a 120-220 Hz harmonic tone with a little noise), distinct per seed."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    sr = 16000
    t = np.arange(int(seconds * sr)) / sr
    f0 = rng.uniform(120, 220)
    wav = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) * 0.2
    wav = wav * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.standard_normal(t.size)
    sf.write(path, wav.astype(np.float32), sr)
    return path


def _swap_in_released_tokenizer(models: Path) -> None:
    import shutil

    from stepaudio_engine.tiny.tokenizer import RELEASED_SIZES, TOKENIZER_FOLDER, write_random_tokenizer

    shutil.rmtree(models / TOKENIZER_FOLDER)
    write_random_tokenizer(models, seed=0, sizes=RELEASED_SIZES)


def _median(jobs: list[dict], stage: str) -> float:
    return statistics.median(job.get(stage, 0.0) for job in jobs)


def _breakdown(name: str, jobs: list[dict]) -> list[str]:
    total = statistics.median(sum(job[s] for s in STAGES if s in job) for job in jobs)
    rows = [f"{name:<20} | " + " | ".join(f"{_median(jobs, s):8.4f} {_median(jobs, s) / total:5.0%}" for s in STAGES)
            + f" | {total:8.3f}"]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, help="models folder (default: the tiny model in a temp folder)")
    parser.add_argument("--tokenizer", choices=("tiny", "released"), default="tiny",
                        help="size of the Paraformer in the generated model folder (ignored with --models)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ref-seconds", type=float, default=3.0, help="reference / input length (s)")
    parser.add_argument("--threads", type=int, default=1, help="torch/onnxruntime threads (the daemon's setting)")
    parser.add_argument("--seed", type=int, default=3, help="generation seed of every job")
    args = parser.parse_args()

    from stepaudio_engine.engine import Engine

    with tempfile.TemporaryDirectory(prefix="sa-bench-") as tmp_name:
        tmp = Path(tmp_name)
        models = args.models
        if models is None:
            from stepaudio_engine.tiny import ensure_tiny_models

            models = ensure_tiny_models(tmp / "models")
            if args.tokenizer == "released":
                _swap_in_released_tokenizer(models)
        engine = Engine()
        started = time.perf_counter()
        engine.load(LoadOptions(models_dir=str(models), device="cpu", threads=args.threads,
                                cache_dir=str(tmp / "cache")), lambda *a: None)
        load_s = time.perf_counter() - started
        noop, cancel = (lambda *a: None), CancelToken()
        # warm-up, not counted: the first job pays one-time costs (ONNX sessions' first run, lazy buffers)
        warm = _voice(tmp / "warm.wav", args.ref_seconds, seed=999)
        first = engine.clone(CloneRequest(ref_audio=str(warm), ref_text="warm up", text="warm up",
                                          output=str(tmp / "warm_out.wav"), seed=args.seed), noop, cancel)
        misses, hits, edits, durations = [], [], [], []
        for r in range(args.repeats):
            ref = _voice(tmp / f"ref{r}.wav", args.ref_seconds, seed=2 * r)
            source = _voice(tmp / f"in{r}.wav", args.ref_seconds, seed=2 * r + 1)
            for jobs, out in ((misses, "a"), (hits, "b")):
                res = engine.clone(CloneRequest(ref_audio=str(ref), ref_text="a short reference", text="hello world",
                                                output=str(tmp / f"{out}{r}.wav"), seed=args.seed), noop, cancel)
                jobs.append(res.timings)
                durations.append(res.duration_s)
                expected = "miss" if out == "a" else "hit"
                if res.options.get("prompt_cache") != expected:
                    print(f"warning: clone {out}{r} was a cache {res.options.get('prompt_cache')}, not a {expected}")
            res = engine.edit(EditRequest(input_audio=str(source), audio_text="hello world", edit_type="emotion",
                                          edit_info="happy", output=str(tmp / f"e{r}.wav"), seed=args.seed),
                              noop, cancel)
            edits.append(res.timings)
            durations.append(res.duration_s)

    on = f"the tiny model ({args.tokenizer} tokenizer)" if args.models is None else models
    print(f"pipeline stages, in-process Engine on {on}, "
          f"CPU, {args.threads} thread(s), reference {args.ref_seconds:.1f} s, seed {args.seed}, "
          f"median of {args.repeats} repeats, load average {os.getloadavg()[0]:.1f}")
    print(f"engine load {load_s:.2f} s; output lengths {min(durations):.2f}-{max(durations):.2f} s")
    print()
    header = f"{'job':<20} | " + " | ".join(f"{s:>8} {'share':>5}" for s in STAGES) + f" | {'total s':>8}"
    print(header)
    print("-" * len(header))
    rows = (("first after load", [first.timings]), ("clone (cache miss)", misses), ("clone (cache hit)", hits),
            ("edit (cache miss)", edits))
    for name, jobs in rows:
        for row in _breakdown(name, jobs):
            print(row)
    print("\nshare = stage ÷ the job's total (the baseline); seconds are medians")
    miss, hit = _median(misses, "tokenize"), _median(hits, "tokenize")
    ratios = [h["tokenize"] / m["tokenize"] for m, h in zip(misses, hits)]
    print()
    header = f"{'prompt cache':<20} | {'miss s':>8} | {'hit s':>8} | {'hit ÷ miss':>10} | {'worst':>7} | target"
    print(header)
    print("-" * len(header))
    verdict = "met" if max(ratios) <= TARGET_HIT_RATIO else "NOT met"
    print(f"{'tokenize stage':<20} | {miss:8.4f} | {hit:8.4f} | {hit / miss:10.4f} | {max(ratios):7.4f} | "
          f"≤ {TARGET_HIT_RATIO} ({verdict})")
    print("baseline: the tokenize stage of the first clone of the same reference in the same repeat (cache miss)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
