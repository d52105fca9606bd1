"""SIGKILL of the daemon in the middle of a job (issue 8, fault 2): the CLI says so with exit 3, the
orphaned worker exits by itself (PR_SET_PDEATHSIG / EOF on its pipe), nothing is written, and the next
command starts a fresh daemon cleanly."""
from __future__ import annotations

import os
import signal

from faults.fault_tools import assert_daemon_healthy, assert_no_output, assert_no_workers, follow, gone
from sa_helpers import wait_for


def test_daemon_killed_mid_job_is_reported_and_the_next_command_starts_afresh(sa):
    sa.set(FAKE_STEP_S=0.5)  # ten steps: five seconds of "generating"
    job = follow(sa, *sa.clone_args("a.wav", "a job the daemon will not finish"))
    job.wait_stage("generating", timeout=60)
    daemon = sa.status()["pid"]
    [worker] = sa.worker_pids()
    os.kill(daemon, signal.SIGKILL)

    assert job.finish(timeout=30) == 3, job.stderr
    assert "error: lost the connection to the daemon" in job.stderr
    assert "hint:" in job.stderr and "Traceback" not in job.stderr
    wait_for(lambda: gone(worker), timeout=10, what="the orphaned worker to exit")
    assert_no_workers(sa)
    assert_no_output(sa, "a.wav")

    # the socket file is stale now; the next command starts a new daemon and works
    sa.set(FAKE_STEP_S=0)
    again = sa.run(*sa.clone_args("b.wav", "again"))
    assert again.returncode == 0, again.stderr
    status = assert_daemon_healthy(sa)
    assert status["pid"] != daemon
    assert (sa.work / "b.wav").stat().st_size > 44
    assert_no_output(sa, "a.wav")


def test_temp_output_of_a_daemon_killed_mid_write_is_deleted_by_the_next_daemon(sa):
    """The one thing a dead daemon cannot clean up itself: the hidden temp file its worker was writing.
    The journal under state/pending names it, and the next daemon deletes it at start-up."""
    sa.set(FAKE_STEP_S=0.5)
    job = follow(sa, *sa.clone_args("c.wav", "[[write-early]] a long output"))
    job.wait_stage("generating", timeout=60)
    wait_for(lambda: sa.stray_files(), timeout=10, what="the temp file to appear")
    daemon = sa.status()["pid"]
    os.kill(daemon, signal.SIGKILL)
    assert job.finish(timeout=30) == 3, job.stderr
    assert_no_workers(sa)
    assert sa.stray_files()  # left behind: nobody could delete it
    keep = sa.work / ".not-ours.stepaudio-tmp-x.wav"
    keep.write_bytes(b"a user's file that merely looks like a temp name")
    precious = sa.work / "precious.wav"
    precious.write_bytes(b"RIFF")
    (sa.home / "state" / "pending" / "forged").write_text(str(precious))  # a record naming a user's file

    sa.set(FAKE_STEP_S=0)
    assert sa.status()["pid"] != daemon  # a new daemon; its start-up sweeps the journal
    assert sa.stray_files() == [keep.name] and not (sa.work / "c.wav").exists() and precious.exists()
    assert not any((sa.home / "state" / "pending").iterdir())
    keep.unlink()


def test_daemon_killed_while_loading_takes_the_worker_with_it(sa):
    sa.set(FAKE_LOAD_S=5)
    job = follow(sa, "load")
    job.wait_stage("loading", timeout=60)
    daemon = sa.status()["pid"]
    worker = wait_for(lambda: sa.worker_pids(), what="worker start")[0]
    os.kill(daemon, signal.SIGKILL)
    assert job.finish(timeout=30) == 3, job.stderr
    assert "lost the connection to the daemon" in job.stderr
    wait_for(lambda: gone(worker), timeout=10, what="the orphaned worker to exit")
    assert_no_workers(sa)
