"""The real engine's worker killed in each stage of a job (issue 8, faults 1 and 3), on the tiny model.

The stage is read from the CLI's plain progress lines ("clone: tokenizing", …) on a pipe. Stages are long
enough without test knobs: a fresh worker's first tokenization warms up its models (seconds), and seed 28
with TEXT makes the tiny model talk for about 11 s of audio (measured in-process with threads=1: about
18 s of generation and 4 s of vocoding on a busy 2-core machine), so the vocoding stage is a wide target.
"""
from __future__ import annotations

import os
import signal

import pytest

from faults.fault_tools import (assert_daemon_healthy, assert_no_output, assert_no_workers, follow, gone,
                                kill_when_stopped)
from sa_helpers import wait_for

TEXT = "we need a much longer sentence so that the model keeps talking for a while"
LONG_SEED = "28"


@pytest.mark.parametrize("stage", ["loading", "tokenizing", "generating", "vocoding"])
def test_sigkill_of_the_real_worker_fails_only_that_job(real, stage):
    job = follow(real, *real.clone_args("out.wav", TEXT, "--seed", LONG_SEED))
    job.wait_stage(stage, timeout=240)
    [worker] = wait_for(real.worker_pids, timeout=30, what="the worker")
    if stage == "loading":  # "loading" shows before the worker exists: wait until Engine.load imports torch
        wait_for(lambda: "libtorch" in _maps(worker), timeout=120, what="the engine to start loading")
    kill_when_stopped(worker)
    daemon = real.status()["pid"]

    assert job.finish(timeout=60) == 1, job.stderr
    assert f"error: the model worker (pid {worker}) was killed by SIGKILL" in job.stderr
    assert "hint:" in job.stderr and "Traceback" not in job.stderr
    assert job.last_stage() == stage, "the worker got past the stage before the kill landed"
    wait_for(lambda: gone(worker), timeout=10, what="the killed worker to be reaped")
    assert_no_workers(real)
    assert_daemon_healthy(real, daemon)
    assert real.variant()["tier"] == "unloaded"
    assert_no_output(real, "out.wav")


def _maps(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/maps") as fh:
            return fh.read()
    except OSError:
        return ""


def test_sigstopped_real_worker_is_killed_after_cancel(real):
    """A frozen worker cannot answer a cancel: the daemon kills it after cancel_grace."""
    real.set(cancel_grace=1.0)
    job = follow(real, *real.clone_args("s.wav", TEXT))
    job.wait_stage("tokenizing", timeout=240)  # the warm-up makes it last seconds
    [worker] = real.worker_pids()
    os.kill(worker, signal.SIGSTOP)
    daemon = real.status()["pid"]
    job.proc.send_signal(signal.SIGINT)
    assert job.finish(timeout=30) == 130, job.stderr
    assert "interrupted: the job was cancelled" in job.stderr
    wait_for(lambda: gone(worker), timeout=15, what="the stopped worker to be killed")
    wait_for(lambda: real.variant()["tier"] == "unloaded", timeout=15, what="the slot to reset")
    assert_no_workers(real)
    assert_daemon_healthy(real, daemon)
    assert_no_output(real, "s.wav")
