"""A worker that stops making progress (SIGSTOP) must not block the daemon: the job stall watchdog fails
the job and kills the worker, and `unload --force` kills a busy worker by hand. Fake engine: each of its
10 job steps takes FAKE_STEP_S seconds and reports progress."""
from __future__ import annotations

import os
import signal

from faults.fault_tools import assert_daemon_healthy, assert_no_output, follow, gone
from sa_helpers import wait_for


def _stop_worker_mid_job(sa, out: str):
    job = follow(sa, *sa.clone_args(out, "stall me"))
    job.wait_stage("generating", timeout=60)
    [worker] = sa.worker_pids()
    os.kill(worker, signal.SIGSTOP)
    return job, worker


def test_a_stalled_job_fails_its_worker_is_killed_and_the_queue_moves_on(sa):
    sa.set(job_stall_timeout=2, FAKE_STEP_S=0.2)
    daemon = sa.status()["pid"]
    job, worker = _stop_worker_mid_job(sa, "stalled.wav")
    queued = follow(sa, *sa.clone_args("next.wav", "after the stall"))
    assert job.finish(timeout=60) == 1, job.stderr
    assert "made no progress for 2 s (job_stall_timeout)" in job.stderr, job.stderr
    assert "this is a bug" not in job.stderr and "Traceback" not in job.stderr
    wait_for(lambda: gone(worker), timeout=15, what="the stalled worker to be killed")
    assert queued.finish(timeout=60) == 0, queued.stderr  # a fresh worker served the waiting job
    assert_no_output(sa, "stalled.wav")
    assert_daemon_healthy(sa, daemon)


def test_job_stall_timeout_is_a_setting_config_show_lists(sa):
    listed = sa.run("config", "show")
    assert listed.returncode == 0 and "job_stall_timeout" in listed.stdout + listed.stderr
    sa.set(job_stall_timeout=42)
    settings = {s["name"]: s for s in sa.status()["settings"]}
    assert settings["job_stall_timeout"]["value"] == "42.0" and settings["job_stall_timeout"]["source"] == "env"


def test_unload_force_kills_a_busy_worker_and_fails_its_job(sa):
    sa.set(FAKE_STEP_S=0.2, job_stall_timeout=0)  # 0 = no watchdog: only --force can end this job
    daemon = sa.status()["pid"]
    job, worker = _stop_worker_mid_job(sa, "busy.wav")
    plain = sa.run("unload")
    assert plain.returncode == 0 and "busy" in plain.stderr and "--force" in plain.stderr
    forced = sa.run("unload", "--force", "--json")
    assert forced.returncode == 0, forced.stderr
    import json

    reply = json.loads(forced.stdout)
    assert reply["unloaded"] == ["base"] and len(reply["stopped_jobs"]) == 1, reply
    assert job.finish(timeout=30) == 1, job.stderr
    assert "unloaded by request" in job.stderr, job.stderr
    assert gone(worker) and sa.variant()["tier"] == "unloaded"
    assert_no_output(sa, "busy.wav")
    assert_daemon_healthy(sa, daemon)
    assert sa.run(*sa.clone_args("after.wav", "fine again")).returncode == 0
