"""`daemon restart` while a job will not stop (its worker is SIGSTOPped): the old daemon must be gone before
the new one starts, and a daemon must be running afterwards."""
from __future__ import annotations

import os
import signal

from faults.fault_tools import follow
from sa_helpers import process_gone, wait_for


def test_restart_with_a_job_that_will_not_stop_ends_with_one_new_daemon(sa):
    # The daemon kills a worker that ignores cancel after cancel_grace; with a grace longer than the old
    # fixed 15 s wait of `restart`, the CLI used to give up (or start the new daemon too early).
    sa.set(cancel_grace=15.5, FAKE_STEP_S=0.2, job_stall_timeout=0)
    job = follow(sa, *sa.clone_args("never.wav", "frozen"))
    job.wait_stage("generating", timeout=60)
    old = sa.status()["pid"]
    [worker] = sa.worker_pids()
    os.kill(worker, signal.SIGSTOP)
    restarted = sa.run("daemon", "restart", timeout=90)
    assert restarted.returncode == 0, restarted.stderr
    assert "started" in restarted.stderr and "error" not in restarted.stderr, restarted.stderr
    assert process_gone(old) and process_gone(worker)
    new = sa.status()["pid"]
    assert new != old and sa.daemon_pids() == [new]
    assert job.finish(timeout=30) == 3 and "stopped before the job finished" in job.stderr, job.stderr
    log = (sa.home / "state" / "logs" / "stepaudiod.log").read_text()
    assert "Traceback" not in log and "ERROR" not in log and "never retrieved" not in log, log
    assert sa.run(*sa.clone_args("after.wav", "works")).returncode == 0
    wait_for(lambda: not (sa.work / "never.wav").exists(), timeout=1)


def test_the_daemon_log_has_one_line_per_job(sa):
    assert sa.run(*sa.clone_args("one.wav", "fine")).returncode == 0
    assert sa.run(*sa.clone_args("two.wav", "[[fail]]")).returncode == 1
    log = (sa.home / "state" / "logs" / "stepaudiod.log").read_text().splitlines()
    lines = [line for line in log if " job " in line and " clone base " in line]
    assert len(lines) == 2, log
    assert lines[0].endswith("done") and "failed (BAD_INPUT: the fake engine was told to fail)" in lines[1]


def test_a_crash_hint_shows_only_the_failing_jobs_worker_output(sa):
    """Output from the load (or an earlier job) is no explanation of a later crash."""
    sa.set(FAKE_NOISE=1)  # the worker prints library noise while it loads
    assert sa.run(*sa.clone_args("ok.wav", "fine")).returncode == 0
    crashed = sa.run(*sa.clone_args("boom.wav", "[[crash]]"))
    assert crashed.returncode == 1 and "fake engine: about to crash" in crashed.stderr, crashed.stderr
    assert "chatty library" not in crashed.stderr, crashed.stderr


def test_stdin_copies_of_a_killed_cli_are_swept_by_the_daemon(sa):
    import subprocess

    from sa_helpers import write_wav

    sa.set(FAKE_STEP_S=0.2)
    ref = write_wav(sa.work / "in.wav")
    cli = subprocess.Popen(sa.cmd("clone", "-", "killed mid-job", "--ref-text", "a", "-o", str(sa.work / "k.wav")),
                           env=sa.env, cwd=sa.work, stdin=open(ref, "rb"), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    run = sa.home / "run"
    wait_for(lambda: sa.status()["variants"][0]["running_job"] if sa.daemon_pids() else False, timeout=60,
             what="the job to run")
    [scratch] = list(run.glob(f"io-{cli.pid}-*"))
    assert (scratch / "stdin.wav").exists()
    cli.kill()  # SIGKILL: the CLI cannot remove its own copy
    cli.wait(timeout=10)
    wait_for(lambda: not scratch.exists(), timeout=30, what="the daemon to sweep the stale copy")
    assert sa.status()["pid"]
