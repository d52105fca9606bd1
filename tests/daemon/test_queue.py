"""The bounded FIFO queue: positions, busy, Ctrl-C on a queued job."""
from __future__ import annotations

import signal

from sa_helpers import wait_for


def test_full_queue_answers_busy_and_queued_clients_see_their_position(sa):
    sa.set(queue_size=1, FAKE_STEP_S=0.5)  # 5 s jobs: room for slow CLI start-ups on a busy machine
    first = sa.popen(*sa.clone_args("1.wav"))
    wait_for(lambda: sa.variant()["running_job"], what="first job running")
    second = sa.popen(*sa.clone_args("2.wav"))
    wait_for(lambda: len(sa.status()["queue"]) == 1, what="second job queued")
    third = sa.run(*sa.clone_args("3.wav"))
    assert third.returncode == 4
    assert "queue is full" in third.stderr and "hint:" in third.stderr
    assert first.wait(timeout=30) == 0
    assert second.wait(timeout=30) == 0
    assert "queued (position 1)" in second.stderr.read()
    assert (sa.work / "1.wav").exists() and (sa.work / "2.wav").exists()
    assert not (sa.work / "3.wav").exists()


def test_ctrl_c_on_a_queued_job_removes_it(sa):
    sa.set(FAKE_STEP_S=0.2)
    first = sa.popen(*sa.clone_args("1.wav"))
    wait_for(lambda: sa.variant()["running_job"], what="first job running")
    second = sa.popen(*sa.clone_args("2.wav"))
    wait_for(lambda: len(sa.status()["queue"]) == 1, what="second job queued")
    second.send_signal(signal.SIGINT)
    assert second.wait(timeout=10) == 130
    wait_for(lambda: not sa.status()["queue"], timeout=5, what="queue empty")
    assert first.wait(timeout=30) == 0
    assert not (sa.work / "2.wav").exists() and not sa.stray_files()
    assert sa.variant()["jobs_served"] == 1
