"""Faults through the real daemon and worker: crashes, hangs, stopped workers, dead daemons."""
from __future__ import annotations

import os
import signal
import time


from sa_helpers import process_gone, wait_for


def _running_worker(sa) -> int:
    return wait_for(lambda: sa.variant()["running_job"] and sa.variant()["worker_pid"], what="running job")


def test_sigkill_of_the_worker_mid_job_fails_only_that_job(sa):
    sa.set(FAKE_STEP_S=0.3)
    job = sa.popen(*sa.clone_args("a.wav"))
    os.kill(_running_worker(sa), signal.SIGKILL)
    assert job.wait(timeout=30) == 1
    err = job.stderr.read()
    assert "error: the model worker" in err and "SIGKILL" in err and "hint:" in err
    assert sa.status()["pid"]  # the daemon answers
    assert not (sa.work / "a.wav").exists() and not sa.stray_files()
    sa.set(FAKE_STEP_S=0)
    again = sa.run(*sa.clone_args("b.wav"))
    assert again.returncode == 0, again.stderr
    assert (sa.work / "b.wav").stat().st_size > 44


def test_crash_message_carries_the_workers_last_words(sa):
    result = sa.run(*sa.clone_args("c.wav", "say [[crash]] now"))
    assert result.returncode == 1
    assert "about to crash" in result.stderr  # tail of the worker's stderr
    assert not (sa.work / "c.wav").exists() and not sa.stray_files()


def test_engine_errors_and_bugs_keep_the_worker(sa):
    bad = sa.run(*sa.clone_args("d.wav", "[[fail]]"))
    assert bad.returncode == 1 and "told to fail" in bad.stderr and "hint: remove [[fail]]" in bad.stderr
    pid = sa.variant()["worker_pid"]
    bug = sa.run(*sa.clone_args("e.wav", "[[bug]]"))
    assert bug.returncode == 1 and "fake engine bug" in bug.stderr
    assert sa.variant()["worker_pid"] == pid  # an exception is not a crash
    assert not sa.stray_files()


def test_sigstopped_worker_is_killed_within_the_cancel_grace(sa):
    sa.set(FAKE_STEP_S=0.3, cancel_grace=1.0)
    job = sa.popen(*sa.clone_args("f.wav"))
    pid = _running_worker(sa)
    os.kill(pid, signal.SIGSTOP)
    job.send_signal(signal.SIGINT)
    assert job.wait(timeout=10) == 130
    started = time.monotonic()
    wait_for(lambda: process_gone(pid), timeout=5, what="worker killed")
    assert time.monotonic() - started < 1.0 + 2.0  # grace plus scheduling slack
    wait_for(lambda: sa.variant()["tier"] == "unloaded", timeout=5, what="slot reset")
    assert not (sa.work / "f.wav").exists() and not sa.stray_files()


def test_hung_engine_is_killed_after_cancel(sa):
    sa.set(cancel_grace=0.5)
    job = sa.popen(*sa.clone_args("g.wav", "[[hang]]"))
    pid = _running_worker(sa)
    time.sleep(0.3)
    job.send_signal(signal.SIGINT)
    assert job.wait(timeout=10) == 130
    wait_for(lambda: process_gone(pid), timeout=5, what="hung worker killed")
    assert sa.run(*sa.clone_args("h.wav")).returncode == 0


def test_cancel_of_a_running_job_stops_between_steps(sa):
    sa.set(FAKE_STEP_S=0.3)
    job = sa.popen(*sa.clone_args("i.wav"))
    pid = _running_worker(sa)
    job.send_signal(signal.SIGINT)
    assert job.wait(timeout=10) == 130
    assert "cancelled" in job.stderr.read()
    wait_for(lambda: not sa.variant()["running_job"], timeout=5, what="job end")
    assert sa.variant()["worker_pid"] == pid  # stopped cooperatively: no kill needed
    assert not (sa.work / "i.wav").exists() and not sa.stray_files()


def test_worker_exits_when_the_daemon_dies(sa):
    assert sa.run("load").returncode == 0
    worker = sa.variant()["worker_pid"]
    daemon = sa.status()["pid"]
    os.kill(daemon, signal.SIGKILL)
    wait_for(lambda: process_gone(worker), timeout=5, what="orphan worker exit")


def test_crash_during_load_is_reported(sa):
    sa.set(FAKE_CRASH_LOAD=1)
    result = sa.run("load")
    assert result.returncode == 1 and "worker" in result.stderr
    assert sa.variant()["tier"] == "unloaded"


def test_stdout_noise_from_libraries_does_not_break_the_protocol(sa):
    sa.set(FAKE_NOISE=1)
    result = sa.run(*sa.clone_args("j.wav"))
    assert result.returncode == 0, result.stderr
    logs = sa.run("daemon", "logs", "-n", "200").stdout
    assert "noise on stdout" in logs  # it went to the worker's stderr, kept in the daemon log
