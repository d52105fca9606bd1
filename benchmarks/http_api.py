"""HTTP API throughput and latency: `stepaudio serve` against `stepaudio batch` on the same daemon (issue 14
target: HTTP ÷ batch ≥ 0.95).

    python benchmarks/http_api.py [--jobs 100] [--concurrency 4] [--probes 200]

Both sides run the same clone jobs (same reference, transcript, texts and seeds) on the tiny model through
one preloaded daemon: (a) `stepaudio batch --jobs C` (the baseline); (b) C HTTP clients posting
/v1/audio/speech (WAV, ref_audio as base64) to `stepaudio serve`. Also: /healthz and
/api/v1/models/status latency (p50/p99) idle and while (b) runs, and the server's resident memory.
Needs the `http` extra (and httpx). (Not named http.py: the script folder would shadow the stdlib `http`.)
"""
from __future__ import annotations

import argparse
import base64
import concurrent.futures
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

from batch_throughput import write_ref  # the same 2 s reference as the batch baseline (same folder)

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def through_batch(env: dict, ref: Path, work: Path, n: int, concurrency: int) -> float:
    jobs = work / "jobs.jsonl"
    jobs.write_text("".join(json.dumps({"ref": str(ref), "ref_text": "a reference", "text": f"job {i}",
                                        "output": str(work / f"b{i}.wav"), "seed": i}) + "\n" for i in range(n)))
    started = time.perf_counter()
    subprocess.run([str(BIN / "stepaudio"), "batch", str(jobs), "--jobs", str(concurrency)], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def through_http(url: str, ref: Path, n: int, concurrency: int) -> float:
    ref_b64 = base64.b64encode(ref.read_bytes()).decode()

    def one(i: int) -> None:
        body = {"model": "step-audio-editx", "input": f"job {i}", "voice": "ref", "ref_audio": ref_b64,
                "ref_text": "a reference", "response_format": "wav", "extra_params": {"seed": i}}
        reply = httpx.post(url + "/v1/audio/speech", json=body, timeout=600)
        reply.raise_for_status()

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(n)))
    return time.perf_counter() - started


def probe(url: str, path: str, count: int = 0, stop: threading.Event | None = None) -> list[float]:
    """Latencies (ms) of GET url+path: `count` calls, or until `stop` is set."""
    out = []
    with httpx.Client(base_url=url, timeout=60) as http:
        while (stop is None and len(out) < count) or (stop is not None and not stop.is_set()):
            started = time.perf_counter()
            http.get(path).raise_for_status()
            out.append((time.perf_counter() - started) * 1000)
            if stop is not None:
                time.sleep(0.05)
    return out


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--probes", type=int, default=200)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="sa-http-", dir="/tmp"))
    server = None
    env = dict(os.environ)
    try:
        from stepaudio_engine.tiny import ensure_tiny_models

        models = ensure_tiny_models(root / "models")
        ref = root / "ref.wav"
        write_ref(ref)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("STEPAUDIO_")},
               "STEPAUDIO_HOME": str(root / "home"), "STEPAUDIO_MODELS_DIR": str(models), "STEPAUDIO_DEVICE": "cpu",
               "STEPAUDIO_QUEUE_SIZE": str(max(16, args.concurrency * 2)), "STEPAUDIO_KEEP_ALIVE": "-1",
               "STEPAUDIO_HTTP_MAX_UPLOADS": str(args.concurrency * 2)}
        subprocess.run([str(BIN / "stepaudio"), "load"], env=env, check=True, capture_output=True)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([str(BIN / "stepaudio"), "serve", "--port", str(port), "--log-level", "warning"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(600):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        serve_proc = psutil.Process(server.pid)
        rss_idle = serve_proc.memory_info().rss
        # warm both paths once (prompt cache, connections), untimed
        work = root / "work"
        work.mkdir()
        through_http(url, ref, 2, 1)
        idle = {path: probe(url, path, args.probes) for path in ("/healthz", "/api/v1/models/status")}
        batch_s = through_batch(env, ref, work, args.jobs, args.concurrency)
        stop = threading.Event()
        loaded: dict[str, list[float]] = {}
        rss_peak = [serve_proc.memory_info().rss]

        def watch(path: str) -> None:
            loaded[path] = probe(url, path, stop=stop)

        def watch_rss() -> None:
            while not stop.is_set():
                rss_peak.append(serve_proc.memory_info().rss)
                time.sleep(0.2)

        watchers = [threading.Thread(target=watch, args=(p,)) for p in idle] + [threading.Thread(target=watch_rss)]
        for t in watchers:
            t.start()
        http_s = through_http(url, ref, args.jobs, args.concurrency)
        stop.set()
        for t in watchers:
            t.join()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=15)
        subprocess.run([str(BIN / "stepaudio"), "daemon", "stop"], env=env, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
    n, c = args.jobs, args.concurrency
    print(f"machine: {os.cpu_count()} cores; tiny model; {n} clone jobs, {c} at a time; {time.strftime('%Y-%m-%d')}")
    print()
    print("| path | seconds | jobs/s | ratio |")
    print("|---|---|---|---|")
    print(f"| stepaudio batch --jobs {c} (baseline) | {batch_s:.1f} | {n / batch_s:.2f} | 1.00 |")
    print(f"| {c} HTTP clients, /v1/audio/speech | {http_s:.1f} | {n / http_s:.2f} | {batch_s / http_s:.2f} |")
    print()
    print("| endpoint | idle p50 | idle p99 | under load p50 | under load p99 | calls under load |")
    print("|---|---|---|---|---|---|")
    for path in idle:
        print(f"| {path} | {pct(idle[path], 50):.1f} ms | {pct(idle[path], 99):.1f} ms | "
              f"{pct(loaded[path], 50):.1f} ms | {pct(loaded[path], 99):.1f} ms | {len(loaded[path])} |")
    print()
    print(f"server RSS: {rss_idle / 2**20:.0f} MiB after start, {max(rss_peak) / 2**20:.0f} MiB peak under load "
          "(the model lives in the daemon's worker, not here)")


if __name__ == "__main__":
    main()
