"""Ctrl-C while the job's model is still loading: the job must not run once the load ends (it used to:
the cancel reached only the load, which engines do not interrupt, and the job then ran to completion and
wrote its output although the CLI had said "cancelled")."""
from __future__ import annotations

import signal

from faults.fault_tools import assert_daemon_healthy, assert_no_output, follow
from sa_helpers import wait_for


def test_a_job_cancelled_during_its_load_never_writes_output(sa):
    sa.set(FAKE_LOAD_S=2)
    job = follow(sa, *sa.clone_args("late.wav", "cancel me while loading"))
    job.wait_stage("loading", timeout=60)
    daemon = sa.status()["pid"]
    job.proc.send_signal(signal.SIGINT)
    assert job.finish(timeout=30) == 130, job.stderr
    assert "interrupted: the job was cancelled" in job.stderr
    # the load itself finishes (the next job can use it); the cancelled job must not run after it
    wait_for(lambda: sa.variant()["tier"] == "loaded" and not sa.variant()["running_job"], timeout=30,
             what="the load to end")
    assert sa.variant()["jobs_served"] == 0
    assert_no_output(sa, "late.wav")
    assert_daemon_healthy(sa, daemon)
