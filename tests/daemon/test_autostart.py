"""Auto-start through the real CLI: stale sockets, a second daemon, start failures (the race of
32 CLIs is in tests/faults/test_autostart_race.py)."""
from __future__ import annotations

import json
import os
import signal
import subprocess

from sa_helpers import wait_for


def test_stale_socket_after_sigkill_gets_a_new_daemon(sa):
    first = sa.status()["pid"]
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: not sa.daemon_pids(), what="daemon death")
    assert sa.socket.exists()  # SIGKILL leaves the socket file behind
    second = sa.status()["pid"]
    assert second != first
    assert sa.daemon_pids() == [second]


def test_second_daemon_refuses_to_start(sa):
    sa.status()
    result = subprocess.run(sa.cmd()[:1] + ["-m", "stepaudiod.main"], env=sa.env, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 3
    assert "already running" in result.stderr
    assert len(sa.daemon_pids()) == 1


def test_no_autostart_reports_unavailable(sa):
    result = sa.run("--no-autostart", "load")
    assert result.returncode == 3
    assert "not running" in result.stderr and "hint:" in result.stderr
    assert not sa.daemon_pids()


def test_daemon_that_cannot_start_shows_its_log(sa):
    sa.set(queue_size="many")  # invalid setting: the daemon exits at once
    result = sa.run("daemon", "start")
    assert result.returncode == 3
    assert "queue_size" in result.stderr  # the tail of the daemon's start-up log is shown


def test_daemon_start_stop_status_commands(sa):
    assert sa.run("daemon", "status").returncode == 3
    started = sa.run("daemon", "start")
    assert started.returncode == 0 and "started" in started.stderr
    running = sa.run("daemon", "status", "--json")
    assert json.loads(running.stdout)["running"] is True
    assert sa.run("daemon", "stop").returncode == 0
    assert not sa.daemon_pids()
    assert not sa.socket.exists()
    logs = sa.run("daemon", "logs")
    assert "shutting down" in logs.stdout


def test_status_never_starts_the_daemon(sa):
    """`watch stepaudio status` must not keep a daemon alive: without one, status says so (fast path and
    full client alike) and starts nothing; jobs and `load` still start it."""
    for args in (("status",), ("--debug", "status")):  # --debug routes around the fast path
        text = sa.run(*args)
        assert text.returncode == 0 and text.stdout == "stepaudiod is not running; nothing is loaded\n", text.stderr
    fast, full = sa.run("status", "--json"), sa.run("--debug", "status", "--json")
    assert json.loads(fast.stdout) == json.loads(full.stdout) == {
        "running": False, "message": "stepaudiod is not running; nothing is loaded", "socket": str(sa.socket)}
    assert not sa.daemon_pids() and not sa.socket.exists()
    assert sa.run("load").returncode == 0
    assert sa.status()["pid"] == sa.daemon_pids()[0]
