"""`stepaudio batch --ray local` against the local `stepaudio batch --jobs 4` on the same jobs (issue 18).

    python benchmarks/ray_batch.py [--jobs 24]

The same seeded clone jobs on the tiny model, on this machine: (a) the local batch through the daemon
and its one worker (the baseline); (b) a Ray run with one actor of 2 threads (the same CPU budget as
the daemon's worker); (c) a Ray run with one actor per CPU (1 thread each, the --ray default on a CPU
machine). Each run starts cold (no daemon, no cluster) and is timed from the stream of result lines:
`first` is the time to the first result (daemon start + load, or cluster start + actor start + load),
`steady jobs/s` is (n - 1) / (last - first) — the rate once everything is up, which is what scales out.
Ratios are against the baseline's. Also prints what `import ray` and `ray.init(num_cpus=2)` on
loopback cost here, the fixed price of each --ray local run.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch_throughput import write_ref  # noqa: E402  (the same 2 s reference as the daemon's benchmark)

BIN = Path(sys.executable).parent


def timed_batch(env: dict, cwd: Path, args: list[str]) -> tuple[float, list[float]]:
    """(wall seconds, arrival time of each result line) of one `stepaudio batch` run."""
    started = time.perf_counter()
    proc = subprocess.Popen([str(BIN / "stepaudio"), "batch", *args], env=env, cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    arrivals = []
    assert proc.stdout is not None
    for line in proc.stdout:
        row = json.loads(line)
        if row["status"] != "ok":
            raise SystemExit(f"a job failed: {line}")
        arrivals.append(time.perf_counter() - started)
    proc.wait()
    return time.perf_counter() - started, arrivals


def ray_init_cost() -> tuple[float, float]:
    code = ("import os, time; os.environ['RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER'] = '0'; t = time.perf_counter(); "
            "import ray, ray.data; i = time.perf_counter(); "
            "ray.init(num_cpus=2, include_dashboard=False, logging_level='ERROR'); r = time.perf_counter(); "
            "ray.shutdown(); print(i - t, r - i)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    imported, init = map(float, out.split()[-2:])
    return imported, init


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=24)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sa-raybench-", dir="/tmp"))
    rows = []
    try:
        from stepaudio_engine.tiny import ensure_tiny_models

        models = ensure_tiny_models(root / "models")
        write_ref(root / "ref.wav")
        jobs = "".join(json.dumps({"ref": "ref.wav", "ref_text": "a reference", "text": f"job number {i}",
                                   "output": f"out/{i}.wav", "seed": i}) + "\n" for i in range(args.jobs))
        (root / "jobs.jsonl").write_text(jobs)
        runs = [("local `batch --jobs 4` via the daemon (baseline)", ["--jobs", "4"], {}),
                ("`--ray local --ray-actors 1`, 2 threads", ["--ray", "local", "--ray-actors", "1"],
                 {"STEPAUDIO_THREADS": "2"}),
                ("`--ray local`, 2 actors x 1 thread", ["--ray", "local"], {})]
        for label, extra, env_extra in runs:
            (root / "out").mkdir()
            env = {**os.environ, "STEPAUDIO_HOME": str(root / "home"), "STEPAUDIO_MODELS_DIR": str(models),
                   "STEPAUDIO_DEVICE": "cpu", **env_extra}
            try:
                wall, arrivals = timed_batch(env, root, ["jobs.jsonl", *extra])
            finally:
                subprocess.run([str(BIN / "stepaudio"), "daemon", "stop"], env=env, capture_output=True)
            steady = (len(arrivals) - 1) / max(1e-9, arrivals[-1] - arrivals[0])
            rows.append((label, wall, arrivals[0], steady))
            shutil.rmtree(root / "out")
        imported, init = ray_init_cost()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    base_wall, base_steady = rows[0][1], rows[0][3]
    print(f"machine: {os.cpu_count()} cores; tiny model; {args.jobs} seeded clone jobs; every run cold; "
          f"{time.strftime('%Y-%m-%d')}")
    print()
    print("| run | wall s | first result s | steady jobs/s | steady ratio | wall ratio |")
    print("|---|---|---|---|---|---|")
    for label, wall, first, steady in rows:
        print(f"| {label} | {wall:.1f} | {first:.1f} | {steady:.2f} | {steady / base_steady:.2f} | "
              f"{base_wall / wall:.2f} |")
    print()
    print(f"`import ray, ray.data`: {imported:.1f} s; `ray.init(num_cpus=2)` on loopback: {init:.1f} s "
          "(paid by every `--ray local` run; `--ray auto` joins a running cluster instead)")


if __name__ == "__main__":
    main()
