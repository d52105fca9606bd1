"""Batch throughput through the whole product against the engine called in-process (issue 7 target ≥ 0.9).

    python benchmarks/batch_throughput.py [--jobs 200] [--concurrency 4]

Both sides run the same clone jobs (same reference, texts and seeds, so the same amount of generation)
on the tiny model: (a) one Python process that loads stepaudio_engine.engine.Engine and calls clone() in a
loop; (b) `stepaudio batch` through the daemon and its worker (model load excluded on both sides: the
daemon's variant is preloaded with `stepaudio load`). Prints jobs/s of each and the ratio.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

BIN = Path(sys.executable).parent


def write_ref(path: Path) -> None:
    rate = 16000
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 150 * i / rate))) for i in range(rate * 2))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def in_process(models: Path, ref: Path, out: Path, n: int) -> float:
    from stepaudio_engine.api import CancelToken, CloneRequest, LoadOptions
    from stepaudio_engine.engine import Engine

    engine = Engine()
    engine.load(LoadOptions(models_dir=str(models), device="cpu", cache_dir=str(out / "cache")), lambda *a: None)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for i in range(n):
        engine.clone(CloneRequest(ref_audio=str(ref), ref_text="a reference", text=f"job {i}",
                                  output=str(out / f"{i}.wav"), seed=i), lambda *a: None, CancelToken())
    return time.perf_counter() - started


def through_batch(models: Path, ref: Path, work: Path, n: int, concurrency: int) -> float:
    env = {**os.environ, "STEPAUDIO_HOME": str(work / "home"), "STEPAUDIO_MODELS_DIR": str(models),
           "STEPAUDIO_DEVICE": "cpu", "STEPAUDIO_QUEUE_SIZE": str(max(16, concurrency * 2))}
    sa = str(BIN / "stepaudio")
    work.mkdir(parents=True, exist_ok=True)
    jobs = work / "jobs.jsonl"
    jobs.write_text("".join(json.dumps({"ref": str(ref), "ref_text": "a reference", "text": f"job {i}",
                                        "output": str(work / f"{i}.wav"), "seed": i}) + "\n" for i in range(n)))
    subprocess.run([sa, "load"], env=env, check=True, capture_output=True)
    try:
        started = time.perf_counter()
        subprocess.run([sa, "batch", str(jobs), "--jobs", str(concurrency)], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - started
    finally:
        subprocess.run([sa, "daemon", "stop"], env=env, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sa-batch-", dir="/tmp"))
    try:
        from stepaudio_engine.tiny import ensure_tiny_models

        models = ensure_tiny_models(root / "models")
        ref = root / "ref.wav"
        write_ref(ref)
        batch_s = through_batch(models, ref, root / "batch", args.jobs, args.concurrency)
        direct_s = in_process(models, ref, root / "direct", args.jobs)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"machine: {os.cpu_count()} cores; tiny model; {args.jobs} clone jobs; batch --jobs {args.concurrency}; "
          f"{time.strftime('%Y-%m-%d')}")
    print("| path | seconds | jobs/s | ratio |")
    print("|---|---|---|---|")
    print(f"| engine in-process (baseline) | {direct_s:.1f} | {args.jobs / direct_s:.2f} | 1.00 |")
    print(f"| stepaudio batch via daemon | {batch_s:.1f} | {args.jobs / batch_s:.2f} | {direct_s / batch_s:.2f} |")


if __name__ == "__main__":
    main()
