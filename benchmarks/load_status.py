"""Load: many concurrent CLI clients submitting clone jobs to one daemon, and `status` latency under that load.

    python benchmarks/load_status.py [--clients 64] [--jobs 5] [--engine tiny|fake] [--idle-runs 20]

Starts a throwaway daemon (STEPAUDIO_HOME in /tmp) on the tiny model (random weights, written once to
~/.cache/stepaudio-bench/tiny-models) or on the test fake engine, runs one warm-up job, measures the idle
`stepaudio status --json` latency, then lets CLIENTS threads each run JOBS `stepaudio clone` processes one
after another while a poller times `stepaudio status --json` back to back. Prints the job tally and the
status latency percentiles (p50/p90/p99) under load next to the idle ones. Exit 1 if any job was not
answered exactly once or any status call failed.

tests/integration/test_load.py imports run_load() and the helpers from this file (by path).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

BUSY = 4                      # the CLI's exit code for a full queue (stepaudio_protos.errors.Exit.BUSY)
BUSY_RETRY_S = 0.2
REPO = Path(__file__).resolve().parent.parent


@dataclass
class LoadResult:
    clients: int
    jobs_per_client: int
    wall_s: float = 0.0
    exit_codes: Counter = field(default_factory=Counter)   # final exit code of each job
    busy_retries: int = 0                                  # exit-4 answers that were retried
    failures: list[str] = field(default_factory=list)      # "output: stderr tail" of jobs that failed
    outputs: list[Path] = field(default_factory=list)      # one per job, in submission order
    status_s: list[float] = field(default_factory=list)    # wall time of each `status --json` under load
    rpc_s: list[float] = field(default_factory=list)       # the bare Status RPC, in-process, under load
    status_failures: list[str] = field(default_factory=list)

    @property
    def jobs(self) -> int:
        return self.clients * self.jobs_per_client


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sample."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def timed_status(cli: list[str], env: dict, cwd: Path) -> tuple[float, str]:
    """(seconds, problem) of one `status --json`; problem is "" when it answered with a daemon pid."""
    start = time.perf_counter()
    proc = subprocess.run(cli + ["status", "--json"], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        return seconds, f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"
    try:
        return seconds, "" if json.loads(proc.stdout).get("pid") else "no daemon pid in the reply"
    except ValueError:
        return seconds, f"not JSON: {proc.stdout[:200]!r}"


def timed_rpc(env: dict) -> tuple[float, str]:
    """(seconds, problem) of one bare Status RPC from this process (the CLI's fast-path client, without
    starting a process): how long the daemon itself takes to answer while it is busy."""
    import socket

    from stepaudio_cli.fast import h2call, wire
    from stepaudio_protos import TOKEN_METADATA_KEY
    from stepaudio_protos.paths import resolve_paths

    paths = resolve_paths(env)
    start = time.perf_counter()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(60.0)
            sock.connect(str(paths.socket))
            raw = h2call.unary_call(sock, "/stepaudio.v1.StepAudio/Status", b"",
                                    [(TOKEN_METADATA_KEY, paths.token_file.read_text().strip())])
        reply = wire.decode("StatusReply", raw) if raw is not None else {}
    except (OSError, wire.WireError, UnicodeDecodeError) as exc:
        return time.perf_counter() - start, f"rpc: {exc}"
    return time.perf_counter() - start, "" if reply.get("pid") else "rpc: no reply"


def idle_status(cli: list[str], env: dict, cwd: Path, runs: int) -> tuple[list[float], list[float]]:
    """(CLI status seconds, bare RPC seconds) on the idle daemon."""
    samples, rpcs = [], []
    for _ in range(runs):
        seconds, problem = timed_status(cli, env, cwd)
        rpc, rpc_problem = timed_rpc(env)
        if problem or rpc_problem:
            raise RuntimeError(f"status failed on an idle daemon: {problem or rpc_problem}")
        samples.append(seconds)
        rpcs.append(rpc)
    return samples, rpcs


def _client(cli: list[str], env: dict, work: Path, ref: Path, index: int, jobs: int, result: LoadResult,
            lock: threading.Lock) -> None:
    for j in range(jobs):
        out = work / f"load-c{index:02d}-j{j}.wav"
        args = cli + ["clone", str(ref), f"load test client {index} job {j}", "--ref-text", "a reference",
                      "-o", str(out), "--seed", str(index * 100 + j)]
        while True:
            proc = subprocess.run(args, env=env, cwd=work, capture_output=True, text=True, timeout=1800)
            if proc.returncode != BUSY:
                break
            with lock:
                result.busy_retries += 1
            time.sleep(BUSY_RETRY_S)
        with lock:
            result.exit_codes[proc.returncode] += 1
            result.outputs.append(out)
            if proc.returncode != 0:
                result.failures.append(f"{out.name}: exit {proc.returncode}: {proc.stderr.strip()[-400:]}")


def run_load(cli: list[str], env: dict, work: Path, ref: Path, clients: int, jobs_per_client: int) -> LoadResult:
    """Run clients x jobs clone jobs (each client sequential, clients concurrent) while polling status."""
    result = LoadResult(clients, jobs_per_client)
    lock = threading.Lock()
    threads = [threading.Thread(target=_client, args=(cli, env, work, ref, i, jobs_per_client, result, lock),
                                name=f"client-{i}", daemon=True) for i in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        seconds, problem = timed_status(cli, env, work)
        rpc, rpc_problem = timed_rpc(env)
        result.status_s.append(seconds)
        result.rpc_s.append(rpc)
        result.status_failures += [p for p in (problem, rpc_problem) if p]
    for thread in threads:
        thread.join()
    result.wall_s = time.perf_counter() - start
    return result


def wav_problem(path: Path) -> str:
    """"" if path is a complete 24 kHz mono 16-bit WAV with audio, else what is wrong with it."""
    try:
        with wave.open(str(path), "rb") as w:
            frames, rate, channels, width = w.getnframes(), w.getframerate(), w.getnchannels(), w.getsampwidth()
    except (OSError, EOFError, wave.Error) as exc:
        return f"{path.name}: not a readable WAV ({exc})"
    if (rate, channels, width) != (24000, 1, 2) or frames <= 0:
        return f"{path.name}: {rate} Hz, {channels} ch, {width} B/sample, {frames} frames"
    if path.stat().st_size < 44 + frames * width:
        return f"{path.name}: header claims {frames} frames but the file is {path.stat().st_size} bytes"
    return ""


def summary(result: LoadResult, idle: tuple[list[float], list[float]]) -> str:
    """The tally and a latency table: `stepaudio status --json` (a whole CLI process) and the bare RPC."""
    lines = [f"{result.clients} clients x {result.jobs_per_client} jobs = {result.jobs} jobs in {result.wall_s:.1f} s; "
             f"exit codes {dict(result.exit_codes)}, busy retries {result.busy_retries}",
             f"status calls: {len(idle[0])} idle, {len(result.status_s)} under load "
             f"({len(result.status_failures)} failed)",
             f"{'latency':<22}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}"]
    rows = (("status CLI, idle", idle[0]), ("status CLI, loaded", result.status_s),
            ("Status RPC, idle", idle[1]), ("Status RPC, loaded", result.rpc_s))
    for name, samples in rows:
        if samples:
            values = [percentile(samples, p) for p in (50, 90, 99)] + [max(samples)]
            lines.append(f"{name:<22}" + "".join(f"{v * 1000:>7.0f}ms" for v in values))
    return "\n".join(lines)


def _write_ref(path: Path) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"".join(int(6000 * math.sin(i / 9)).to_bytes(2, "little", signed=True) for i in range(16000)))
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--jobs", type=int, default=5, help="jobs per client, run one after another")
    parser.add_argument("--engine", choices=("tiny", "fake"), default="tiny")
    parser.add_argument("--idle-runs", type=int, default=20)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sa-load-", dir="/tmp"))
    work = root / "w"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEPAUDIO_")}
    env.update(STEPAUDIO_HOME=str(root / "h"), STEPAUDIO_QUEUE_SIZE=str(args.clients + 1),
               STEPAUDIO_IDLE_SHUTDOWN="600", STEPAUDIO_DEVICE="cpu", STEPAUDIO_THREADS="1")
    paths = [str(REPO / "daemon"), str(REPO / "protos"), str(REPO), env.get("PYTHONPATH", "")]
    if args.engine == "fake":
        env["STEPAUDIO_ENGINE"] = "fake_engine:FakeEngine"
        paths.insert(0, str(REPO / "tests"))
    else:
        sys.path[:0] = paths[:3]
        from stepaudio_engine.tiny import ensure_tiny_models

        tiny = Path.home() / ".cache" / "stepaudio-bench" / "tiny-models"
        env["STEPAUDIO_MODELS_DIR"] = str(ensure_tiny_models(tiny))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, paths))
    cli = [sys.executable, "-m", "stepaudio_cli.entry"]
    try:
        subprocess.run(cli + ["daemon", "start"], env=env, cwd=work, check=True, capture_output=True)
        ref = _write_ref(work / "ref.wav")
        warm = subprocess.run(cli + ["clone", str(ref), "warm up", "--ref-text", "a", "-o", str(work / "warm.wav")],
                              env=env, cwd=work, capture_output=True, text=True)
        if warm.returncode != 0:
            print(warm.stderr, file=sys.stderr)
            return 1
        idle = idle_status(cli, env, work, args.idle_runs)
        result = run_load(cli, env, work, ref, args.clients, args.jobs)
        print(summary(result, idle))
        problems = result.failures + result.status_failures + [p for p in map(wav_problem, result.outputs) if p]
        for problem in problems[:20]:
            print("problem:", problem)
        return 1 if problems or len(set(result.outputs)) != result.jobs else 0
    finally:
        subprocess.run(cli + ["daemon", "stop"], env=env, cwd=work, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
