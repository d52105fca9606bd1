"""Run every benchmark of the project and write BENCHMARKS.md.

    python benchmarks/run.py [--quick] [--only NAME ...] [--out BENCHMARKS.md]

Each benchmark is a script in this folder that prints a markdown table whose ratios are measured
against a baseline in the same run; this file only runs them one after another (never in parallel:
they would disturb each other's timings) and records the command, the machine and the date.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (name, title, arguments for a full run, arguments for --quick)
BENCHMARKS = [
    ("cli_latency", "CLI latency, cold start and daemon memory", ["--runs", "40", "--cold-runs", "10"],
     ["--runs", "10", "--cold-runs", "3"]),
    ("batch_throughput", "Batch throughput through the daemon vs the engine in-process",
     ["--jobs", "200"], ["--jobs", "20"]),
    ("load_status", "Status latency under load (64 clients x 5 jobs)", [], ["--clients", "16", "--jobs", "2"]),
    ("pipeline_stages", "Clone and edit stage breakdown and prompt-cache effect (tiny model)", [], []),
    ("pipeline_stages", "Prompt-cache effect with a released-size vq02 tokenizer",
     ["--tokenizer", "released"], ["--tokenizer", "released", "--repeats", "1"]),
    ("tokenizer_cost", "Audio tokenizer cost for 10 s of audio", [], []),
    ("asr_cost", "Transcription cost for 10 s of audio", [], []),
    ("llm_decode", "step1 decode vs transformers Llama", [], []),
    ("vocoder_rtf", "Vocoder real-time factor at the released sizes", [], []),
    ("cpu_decode", "step1 decode on the CPU per kernel path (issue 16)", ["--full"],
     ["--skip-slow", "--tokens", "4", "--context", "128"]),
    ("http_api", "HTTP API (stepaudio serve) vs stepaudio batch, endpoint latency, server memory",
     ["--jobs", "100"], ["--jobs", "20", "--probes", "50"]),
    ("ray_batch", "Batch on Ray (--ray local) vs the local batch", ["--jobs", "24"], ["--jobs", "8"]),
]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, {platform.system()} {platform.release()}, " \
           f"Python {platform.python_version()}"


def run_one(name: str, args: list[str]) -> tuple[str, str, float]:
    cmd = [sys.executable, str(HERE / f"{name}.py"), *args]
    started = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.monotonic() - started
    text = done.stdout.strip() if done.returncode == 0 else \
        f"FAILED (exit {done.returncode}):\n\n```\n{(done.stderr or done.stdout)[-3000:]}\n```"
    shown = " ".join(["python", f"benchmarks/{name}.py", *args])
    return shown, text, seconds


def _merge(old: str, new_sections: list[str]) -> list[str]:
    """With --only: keep the other sections of the existing file, replace the ones just measured."""
    parts = old.split("\n## ")[1:]
    kept = ["## " + p.rstrip("\n") + "\n" for p in parts]
    fresh = {sec.split("\n", 1)[0]: sec for sec in new_sections}
    merged = [fresh.pop(sec.split("\n", 1)[0], sec) for sec in kept]
    return merged + list(fresh.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller runs (minutes instead of tens of minutes)")
    parser.add_argument("--only", nargs="*", default=None, help="benchmark names to run")
    parser.add_argument("--out", default=str(HERE.parent / "BENCHMARKS.md"))
    args = parser.parse_args()
    sections = []
    for name, title, full, quick in BENCHMARKS:
        if args.only and name not in args.only:
            continue
        if not (HERE / f"{name}.py").exists():
            continue
        print(f"running {name} …", file=sys.stderr, flush=True)
        shown, text, seconds = run_one(name, quick if args.quick else full)
        sections.append(f"## {title}\n\nCommand: `{shown}` ({seconds:.0f} s)\n\n{text}\n")
    if args.only and Path(args.out).exists():
        sections = _merge(Path(args.out).read_text(), sections)
    head = ("# Benchmarks\n\nRegenerate with `python benchmarks/run.py` (add `--quick` for a shorter run). Every "
            "ratio is measured against a baseline in the same run on the same machine.\n\n"
            f"Machine: {machine()}\n\nDate: {time.strftime('%Y-%m-%d %H:%M %Z')}"
            f"{' (--quick)' if args.quick else ''}\n\n")
    Path(args.out).write_text(head + "\n".join(sections))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
