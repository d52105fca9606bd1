"""CLI latency and daemon memory (issue 2 targets), measured against bare Python in the same run.

    python benchmarks/cli_latency.py [--runs 40] [--cold-runs 10]

Prints a table: median wall time of `python -c pass` (baseline), `stepaudio --help`,
`stepaudio status` against a warm daemon (also with 10 000 prompt-cache entries on disk), `stepaudio
status` without a daemon (it answers "not running" and starts nothing), the cold start (`stepaudio
daemon start` with no daemon: the auto-start a first job pays), and the first status of a fresh daemon
with 10 000 entries (it counts them), each with its ratio to the baseline; then the daemon's resident
memory with nothing loaded, and after a load/unload cycle whether any worker process remains. Uses a
throwaway STEPAUDIO_HOME.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

BIN = Path(sys.executable).parent


def timed(cmd: list[str], env: dict, runs: int, before=None) -> list[float]:
    samples = []
    for _ in range(runs):
        if before:
            before()
        start = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - start)
    return samples


CACHE_ENTRIES = 10_000  # ~1.6 GB of real entries (about 160 KB each for a 10 s reference)


def fill_prompt_cache(folder: Path, n: int) -> None:
    """n small files named like cache entries (status counts entries and bytes, not their contents)."""
    for i in range(n):
        name = f"{i:064x}"
        (folder / name[-2:]).mkdir(parents=True, exist_ok=True)
        (folder / name[-2:] / f"{name}.npz").write_bytes(b"\0" * 64)


def daemon_pid(home: Path) -> int:
    try:
        return int((home / "run" / "stepaudiod.lock").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--cold-runs", type=int, default=10)
    parser.add_argument("--engine", default="", help="engine for the load/unload check (module:Class); "
                        "default: the product's engine on the models dir")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="sa-bench-", dir="/tmp"))
    # Bytecode caching on, as on any installed machine: with PYTHONDONTWRITEBYTECODE set (some sandboxes
    # and CI images set it) every CLI module is recompiled on each start (+5 ms), which the baseline never pays.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["STEPAUDIO_HOME"] = str(home)
    if not args.engine:  # the load/unload check runs the real engine on the tiny model
        from stepaudio_engine.tiny import ensure_tiny_models

        env["STEPAUDIO_MODELS_DIR"] = str(ensure_tiny_models(Path.home() / ".cache" / "stepaudio-bench" / "tiny"))
    if args.engine:
        env["STEPAUDIO_ENGINE"] = args.engine
    sa = [str(BIN / "stepaudio")]
    stop = lambda: subprocess.run(sa + ["daemon", "stop"], env=env, capture_output=True)  # noqa: E731
    try:
        base = timed([sys.executable, "-c", "pass"], env, args.runs)
        timed(sa + ["--help"], env, 1)  # warm-up: writes any missing bytecode
        helps = timed(sa + ["--help"], env, args.runs)
        start = lambda: subprocess.run(sa + ["daemon", "start"], env=env, capture_output=True)  # noqa: E731
        none = timed(sa + ["status"], env, args.runs)  # no daemon yet: answered without starting one
        start()
        subprocess.run(sa + ["status"], env=env, capture_output=True, check=True)  # warm the daemon
        warm = timed(sa + ["status"], env, args.runs)
        cold = timed(sa + ["daemon", "start"], env, args.cold_runs, before=stop)  # what a first job's auto-start costs
        fill_prompt_cache(home / "cache" / "prompts", CACHE_ENTRIES)  # a well-used cache: status must not slow
        warm_full = timed(sa + ["status"], env, args.runs)
        # a fresh daemon's first status counts the entries (from .counts.json when it can)
        cold_full = timed(sa + ["status"], env, args.cold_runs, before=lambda: (stop(), start()))
        pid = daemon_pid(home)
        time.sleep(0.5)
        rss = psutil.Process(pid).memory_info().rss
        loaded = subprocess.run(sa + ["load"], env=env, capture_output=True, text=True)
        subprocess.run(sa + ["unload", "--all"], env=env, capture_output=True, check=True)
        time.sleep(0.3)
        workers = [c.pid for c in psutil.Process(pid).children(recursive=True)]
        rss_after = psutil.Process(pid).memory_info().rss
    finally:
        stop()
        shutil.rmtree(home, ignore_errors=True)
    b = statistics.median(base)
    rows = [("python3 -c pass (baseline)", b), ("stepaudio --help", statistics.median(helps)),
            ("stepaudio status, warm daemon", statistics.median(warm)),
            (f"... with {CACHE_ENTRIES} prompt-cache entries", statistics.median(warm_full)),
            ("stepaudio status, no daemon (starts none)", statistics.median(none)),
            ("stepaudio daemon start, no daemon (cold start)", statistics.median(cold)),
            (f"first status of a new daemon, {CACHE_ENTRIES} entries", statistics.median(cold_full))]
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}; runs {args.runs} "
          f"(cold {args.cold_runs}); bytecode cache on; {time.strftime('%Y-%m-%d')}")
    print(f"| {'command':48s} | median ms | ratio |")
    print(f"|{'-' * 50}|-----------|-------|")
    for name, value in rows:
        print(f"| {name:48s} | {value * 1000:9.1f} | {value / b:5.2f} |")
    print()
    print(f"| daemon RSS, nothing loaded                   | {rss / 2**20:.1f} MiB |")
    print(f"| daemon RSS after load + unload               | {rss_after / 2**20:.1f} MiB |")
    print(f"| load succeeded                               | {loaded.returncode == 0} |")
    print(f"| worker processes left after unload           | {len(workers)} |")


if __name__ == "__main__":
    main()
