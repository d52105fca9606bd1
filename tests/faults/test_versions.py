"""A daemon of another stepaudio version already running (issue 8, fault 6): idle, or with a model loaded
but no job, the CLI replaces it with a one-line note; busy, the CLI exits 3 with a clear message and leaves
it alone; a daemon too old to say whether it has jobs is replaced only when idle."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from faults.fault_tools import FollowedJob, gone
from sa_helpers import wait_for

OTHER = "0.0.1-other"
SITE = Path(__file__).resolve().parent / "other_version"


def _other_env(sa, **extra: str) -> dict[str, str]:
    """The same installation, but every process started with this env reports version OTHER."""
    env = dict(sa.env, SA_FAULTS_OTHER_VERSION=OTHER, **extra)
    env["PYTHONPATH"] = os.pathsep.join([str(SITE), env.get("PYTHONPATH", "")])
    return env


def _other_run(sa, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(sa.cmd(*args), env=_other_env(sa, **extra), capture_output=True, text=True,
                          timeout=60, cwd=sa.work)


def test_an_idle_daemon_of_another_version_is_replaced_with_a_note(sa):
    assert _other_run(sa, "daemon", "start").returncode == 0
    other = json.loads(_other_run(sa, "status", "--json").stdout)
    assert other["daemon_version"] == OTHER

    result = sa.run("status", "--json")
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.strip()]
    assert notes == [f"note: replacing idle stepaudiod {OTHER} (protocol {other['protocol_version']}) "
                     f"with stepaudiod {json.loads(result.stdout)['daemon_version']}"]
    ours = json.loads(result.stdout)
    assert ours["daemon_version"] != OTHER and ours["pid"] != other["pid"]
    wait_for(lambda: gone(other["pid"]), timeout=10, what="the other daemon to exit")
    assert sa.daemon_pids() == [ours["pid"]]


def test_a_busy_daemon_of_another_version_is_left_alone_with_exit_3(sa):
    env = _other_env(sa, FAKE_STEP_S="0.5")
    job = FollowedJob(subprocess.Popen(sa.cmd(*sa.clone_args("o.wav", "other job", "--keep-alive", "0")),
                                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                       cwd=sa.work))
    job.wait_stage("generating", timeout=60)
    [other_pid] = sa.daemon_pids()

    refused = sa.run("status")
    assert refused.returncode == 3
    assert f"error: stepaudiod {OTHER} (protocol" in refused.stderr and "is running and busy" in refused.stderr
    assert "hint: wait for its jobs to finish, or `stepaudio daemon stop` it" in refused.stderr
    assert sa.daemon_pids() == [other_pid]

    assert job.finish(timeout=60) == 0, job.stderr  # its job was not disturbed
    assert (sa.work / "o.wav").exists()
    # keep-alive 0: the other daemon is idle again once its worker is gone; now ours replaces it
    wait_for(lambda: not sa.worker_pids(), timeout=15, what="the other daemon's worker to unload")
    again = sa.run("status", "--json")
    assert again.returncode == 0, again.stderr
    assert "note: replacing idle" in again.stderr
    assert json.loads(again.stdout)["pid"] != other_pid


def _other_with_a_warm_model(sa, **extra: str) -> int:
    done = _other_run(sa, *sa.clone_args("w.wav", "warm", "--keep-alive", "-1"), **extra)
    assert done.returncode == 0, done.stderr
    other = json.loads(_other_run(sa, "status", "--json", **extra).stdout)
    assert other["daemon_version"] == OTHER and any(v["tier"] == "loaded" for v in other["variants"])
    return other["pid"]


def test_a_daemon_of_another_version_with_a_warm_model_but_no_job_is_replaced(sa):
    other_pid = _other_with_a_warm_model(sa)
    result = sa.run("status", "--json")
    assert result.returncode == 0, result.stderr
    assert f"note: replacing stepaudiod {OTHER} (protocol" in result.stderr
    assert "(no job was running; its loaded model is unloaded)" in result.stderr
    assert json.loads(result.stdout)["pid"] != other_pid
    wait_for(lambda: gone(other_pid), timeout=10, what="the other daemon to exit")
    wait_for(lambda: not sa.worker_pids(), timeout=15, what="its worker to exit")


def test_a_daemon_too_old_to_report_its_jobs_is_replaced_only_when_idle(sa):
    other_pid = _other_with_a_warm_model(sa, SA_FAULTS_NO_JOBS_FIELD="absent")
    refused = sa.run("status")
    assert refused.returncode == 3 and "is running and busy" in refused.stderr
    assert sa.daemon_pids() == [other_pid]
