"""A full disk (issue 8, fault 4), on small tmpfs mounts (root only; skipped elsewhere):
- the output folder full: the job fails with a clear error, no partial file, the daemon and its worker stay;
- the prompt cache folder full: the cache is an optimisation, so the job still succeeds."""
from __future__ import annotations

import json
import os
import resource
import subprocess
from pathlib import Path

import pytest

from faults.fault_tools import assert_daemon_healthy, assert_no_output


@pytest.fixture
def tmpfs():
    """mount(path, options): a tiny tmpfs, unmounted at teardown (before the installation is removed)."""
    mounted: list[Path] = []

    def mount(path: Path, options: str) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"mode=700,{options}", "tmpfs", str(path)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_full_output_disk_fails_clearly_and_a_full_cache_disk_is_ignored(real, tmpfs):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    # the cache folder cannot even get its first key sub-folder (no inodes left)
    cache = tmpfs(real.home / "cache" / "prompts", "size=4k,nr_inodes=1")
    full = tmpfs(real.work / "full", "size=4k")  # one page: less than the shortest output (0.12 s, 5.8 kB)
    ref = real.work / "ref.wav"
    real.clone_args()  # writes ref.wav

    failed = real.run("clone", str(ref), "hello world", "--ref-text", "a reference", "-o", str(full / "out.wav"),
                      "--seed", "1", timeout=300)
    assert failed.returncode == 1, failed.stderr
    assert "error: cannot write the output file: No space left on device" in failed.stderr
    assert "hint: free some disk space" in failed.stderr and "Traceback" not in failed.stderr
    assert not (full / "out.wav").exists() and os.listdir(full) == []  # no partial file, no temp file
    daemon = real.status()["pid"]
    worker = real.variant()["worker_pid"]
    assert worker, "an output error is not a crash: the worker stays loaded"

    done = real.run(*real.clone_args("ok.wav", "hello world", "--seed", "1", "--json"), timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["options"]["prompt_cache"] == "miss"  # nothing could be cached
    assert (real.work / "ok.wav").stat().st_size > 44
    assert os.listdir(cache) == []  # no half-written cache entry either
    status = assert_daemon_healthy(real, daemon)
    assert real.variant()["worker_pid"] == worker
    assert status["cache"]["entries"] == 0
    assert_no_output(real, "full/out.wav")
    logs = real.run("daemon", "logs", "-n", "400").stdout
    assert "could not write cache entry" in logs


@pytest.mark.skipif(os.geteuid() == 0 and not os.environ.get("SA_FAULTS_RLIMIT"),
                    reason="root: the tmpfs test covers a full disk (SA_FAULTS_RLIMIT=1 runs this one too)")
def test_a_file_size_limit_fails_the_output_part_way_and_clearly(real):
    """The fallback where no tmpfs can be mounted (not root): RLIMIT_FSIZE on the daemon, which its
    workers inherit, makes the output write stop part-way with EFBIG (Python ignores SIGXFSZ)."""

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # less than the shortest output

    started = subprocess.run(real.cmd("daemon", "start"), env=real.env, cwd=real.work, capture_output=True,
                             text=True, timeout=60, preexec_fn=limit_file_size)
    assert started.returncode == 0, started.stderr
    daemon = real.status()["pid"]
    result = real.run(*real.clone_args("big.wav", "hello world", "--seed", "1"), timeout=300)
    assert result.returncode == 1, result.stderr
    assert "error: cannot write the output file: File too large" in result.stderr
    assert "hint: free some disk space" in result.stderr and "Traceback" not in result.stderr
    assert_no_output(real, "big.wav")  # the 4096 bytes written before EFBIG are gone too
    assert_daemon_healthy(real, daemon)
    assert real.variant()["worker_pid"], "an output error is not a crash: the worker stays loaded"
