"""The daemon's life cycle through the real CLI, daemon and worker (fake engine): a handful of
end-to-end cases. The tier, keep-alive, offload and LRU rules themselves are tested in-process with
millisecond timers in test_scheduler.py."""
from __future__ import annotations

import json
import time

import psutil

from sa_helpers import process_gone, wait_for


def test_keep_alive_zero_unloads_after_the_job(sa):
    result = sa.run(*sa.clone_args(), "--keep-alive", "0")
    assert result.returncode == 0, result.stderr
    wait_for(lambda: sa.variant()["tier"] == "unloaded", timeout=5, what="unload")
    assert not sa.worker_pids()


def test_unload_by_hand_to_cpu_and_all(sa):
    assert sa.run("load").returncode == 0
    base = sa.variant()
    assert base["tier"] == "loaded" and base["worker_pid"] > 0 and base["rss_bytes"] > 0
    assert base["device"] == "cpu" and base["model_bytes"] == 1234
    pid = base["worker_pid"]
    assert sa.run("unload", "--to-cpu").returncode == 0
    assert sa.variant()["tier"] == "offloaded" and psutil.pid_exists(pid)
    result = sa.run("unload", "--all")
    assert result.returncode == 0 and "base: unloaded" in result.stderr
    wait_for(lambda: process_gone(pid), timeout=5, what="worker exit")
    assert not sa.worker_pids()


def test_idle_daemon_shuts_itself_down(sa):
    sa.set(idle_shutdown=0.5)
    assert sa.run("daemon", "start").returncode == 0
    pid = sa.status()["pid"]
    wait_for(lambda: process_gone(pid), timeout=10, what="idle shutdown")
    assert not sa.socket.exists()


def test_status_answers_while_a_model_loads(sa):
    sa.set(FAKE_LOAD_S=4)  # slack for two CLI starts on a busy machine between "loading" and the check
    loader = sa.popen("load")
    wait_for(lambda: sa.variant()["tier"] == "loading", timeout=10, what="loading tier")
    started = time.monotonic()
    s = sa.status()
    assert time.monotonic() - started < 5
    assert s["variants"][0]["tier"] == "loading"
    assert loader.wait(timeout=30) == 0


def test_result_json_carries_options_and_timings(sa):
    result = sa.run(*sa.clone_args(), "--json", "--seed", "7")
    data = json.loads(result.stdout)
    assert data["output"].endswith("out.wav") and data["sample_rate"] == 24000
    assert data["options"]["seed"] == 7 and data["options"]["variant"] == "base"
    assert {"queued", "load", "total"} <= set(data["timings"])


def test_a_daemon_that_dies_during_start_up_is_reported_with_its_last_words(sa):
    """The CLI waits on the daemon's ready pipe; EOF without "ready" means it died: say why, at once."""
    sa.set(LOG_LEVEL="bogus")
    started = time.monotonic()
    for args in (("daemon", "start"), ("load",)):  # an explicit start and a job's auto-start
        result = sa.run(*args)
        assert result.returncode == 3, result.stderr
        assert "the daemon exited during start-up (code 2)" in result.stderr
        assert "log_level = 'bogus' from STEPAUDIO_LOG_LEVEL" in result.stderr  # the start log's tail
    assert time.monotonic() - started < 20  # not the 30 s start deadline
    assert not sa.daemon_pids()


def test_daemon_stop_fails_a_running_job_with_the_reason(sa):
    sa.set(FAKE_STEP_S=0.3)
    job = sa.popen(*sa.clone_args("s.wav"))
    wait_for(lambda: sa.variant()["running_job"], what="job start")
    stopped = sa.run("daemon", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert job.wait(timeout=30) == 3  # not 130: nobody pressed Ctrl-C
    err = job.stderr.read()
    assert "error: the daemon was stopped before the job finished" in err and "hint: the daemon is stopping" in err
    assert not (sa.work / "s.wav").exists() and not sa.stray_files()


def test_unload_of_a_variant_that_is_not_loaded_names_what_is(sa):
    assert sa.run("load", "bnb").returncode == 0
    out = sa.run("unload", "--to-cpu")
    assert out.returncode == 0
    assert "base was not loaded; loaded now: bnb (loaded) (name it, or use --all)" in out.stderr
    assert sa.variant("bnb")["tier"] == "loaded"


def test_models_dir_for_a_running_daemon_is_noted_as_ignored(sa, tmp_path):
    assert sa.run("daemon", "start").returncode == 0  # a daemon with the default models folder
    out = sa.run("--models-dir", str(tmp_path), "status")
    assert out.returncode == 0, out.stderr
    assert f"note: --models-dir {tmp_path} is ignored: the running daemon uses" in out.stderr
    assert f"`stepaudio --models-dir {tmp_path} daemon restart` applies it" in out.stderr


def test_models_dir_set_in_the_environment_after_auto_start_says_restart(sa, tmp_path):
    assert sa.run(*sa.clone_args("first.wav")).returncode == 0  # auto-started with the default models folder
    sa.set(models_dir=str(tmp_path))
    out = sa.run(*sa.clone_args())
    assert f"note: STEPAUDIO_MODELS_DIR={tmp_path} is ignored" in out.stderr, out.stderr
    assert "`stepaudio daemon restart` applies it" in out.stderr and "--models-dir" not in out.stderr
    restarted = sa.run("daemon", "restart")
    assert restarted.returncode == 0, restarted.stderr
    settings = {s["name"]: s["value"] for s in sa.status()["settings"]}
    assert settings["models_dir"] == str(tmp_path)


def test_negative_keep_alive_keeps_the_model_resident_without_offloading(sa):
    """As Ollama: keep-alive -1 means resident; offload_after does not move it to CPU RAM either."""
    sa.set(offload_after=60)
    assert sa.run(*sa.clone_args(), "--keep-alive", "-1").returncode == 0
    v = sa.variant()
    assert v["tier"] == "loaded" and v["next_tier"] == "", v


def test_load_without_a_variant_loads_the_daemons_default_and_load_unload_take_json(sa):
    import json

    sa.set(default_variant="bnb")
    loaded = sa.run("load", "--json")
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["variant"] == "bnb" and sa.variant("bnb")["tier"] == "loaded"
    again = json.loads(sa.run("load", "--json").stdout)
    assert again["was_loaded"] is True
    unloaded = sa.run("unload", "--json")
    assert unloaded.returncode == 0 and json.loads(unloaded.stdout)["unloaded"] == ["bnb"], unloaded.stderr
