"""`stepaudio batch --ray` on a real local Ray cluster (loopback, 2 CPUs, one per test session) with the
real engine on the tiny model: results, order, failures, seeds against the daemon, resume, a bad node.

Skipped when Ray is not installed (it comes with the `test` extra). The CLI joins the session's cluster
by address, as `--ray ADDRESS` would on a real cluster; `--ray local` is the same code with a cluster
of its own (about 10 s more per run).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess

import psutil
import pytest

from sa_helpers import wait_for, write_wav

pytest.importorskip("ray")


@pytest.fixture(scope="session")
def ray_address():
    """One local Ray cluster for the session, bound to loopback, shared by every test here."""
    from stepaudio_ray.runner import LOOPBACK_ENV

    os.environ[LOOPBACK_ENV] = "0"  # before ray is imported: every Ray process binds 127.0.0.1
    import ray

    ray.init(num_cpus=2, include_dashboard=False, namespace="stepaudio-tests", logging_level="ERROR")
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _lines(real, n: int, bad: dict[int, str]) -> str:
    """n jobs, every good one seeded; every fifth an edit; `bad` maps an index to a broken line."""
    ref = write_wav(real.work / "ref.wav")
    (real.work / "out").mkdir(exist_ok=True)
    lines = []
    for i in range(n):
        if i in bad:
            lines.append(bad[i])
        elif i % 5 == 4:
            lines.append(json.dumps({"input": str(ref), "emotion": "happy", "text": "a ref",
                                     "output": f"out/{i}.wav", "seed": 100 + i}))
        else:
            lines.append(json.dumps({"ref": "ref.wav", "ref_text": "a ref", "text": f"line {i}",
                                     "output": f"out/{i}.wav", "seed": 100 + i}))
    return "\n".join(lines) + "\n"


def _rows(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def _ray_batch(real, address: str, *extra: str, timeout: float = 600):
    return real.run("batch", "jobs.jsonl", "--ray", address, *extra, timeout=timeout)


def _engine_actors() -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if cmdline.startswith("ray::MapWorker") and "EngineActor" in cmdline:
            found.append(proc)
    return found


def test_twenty_jobs_two_bad_lines_in_order_same_audio_as_local(real, ray_address):
    bad = {6: '{"ref": "ref.wav", "text": "broken JSON"',
           13: json.dumps({"ref": "missing.wav", "ref_text": "a", "text": "t", "output": "out/13.wav"})}
    (real.work / "jobs.jsonl").write_text(_lines(real, 20, bad))
    done = _ray_batch(real, ray_address)
    assert done.returncode == 1, done.stderr  # two lines failed
    rows = _rows(done.stdout)
    assert [r["line"] for r in rows] == list(range(1, 21))  # one result per line, in input order
    assert [r["line"] - 1 for r in rows if r["status"] == "error"] == sorted(bad)
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) == 18 and sorted(p.name for p in (real.work / "out").iterdir()) == \
        sorted(f"{i}.wav" for i in range(20) if i not in bad)  # 18 outputs and no temp file left
    assert "18 ok, 0 skipped, 2 failed" in done.stderr
    # the local batch through the daemon: same schema, and the same audio bit for bit for the same seeds
    jobs = (real.work / "jobs.jsonl").read_text().splitlines()
    local_lines = [dict(json.loads(jobs[i]), output=f"local/{i}.wav") for i in (0, 4, 11, 19)]  # clones, edits
    (real.work / "local").mkdir()
    (real.work / "local.jsonl").write_text("\n".join(map(json.dumps, local_lines)) + "\n")
    local = real.run("batch", "local.jsonl", timeout=300)
    assert local.returncode == 0, local.stderr
    for row, i in zip(_rows(local.stdout), (0, 4, 11, 19)):
        on_ray = rows[i]
        assert set(row) == set(on_ray) and set(row["options"]) == set(on_ray["options"])
        assert row["options"]["seed"] == on_ray["options"]["seed"] == 100 + i
        assert (real.work / f"local/{i}.wav").read_bytes() == (real.work / f"out/{i}.wav").read_bytes()


def _interrupt_after(real, address: str, outputs: int, sig: int) -> subprocess.Popen:
    """Start a one-actor run, send `sig` once `outputs` outputs exist, wait for it and its actor to end."""
    run = real.popen("batch", "jobs.jsonl", "--ray", address, "--ray-actors", "1")
    try:
        wait_for(lambda: len(list((real.work / "out").glob("[0-9]*.wav"))) >= outputs, timeout=300,
                 what=f"{outputs} output(s)")
        run.send_signal(sig)
        run.stdout_text, run.stderr_text = run.communicate(timeout=120)  # type: ignore[attr-defined]
    finally:
        if run.poll() is None:
            run.kill()
    wait_for(lambda: not _engine_actors(), timeout=60, what="the run's actor to end")
    return run


def test_ctrl_c_then_a_kill_midway_then_the_rerun_resumes(real, ray_address):
    (real.work / "jobs.jsonl").write_text(_lines(real, 6, {}))
    outputs = real.work / "out"
    first = _interrupt_after(real, ray_address, 1, signal.SIGINT)  # Ctrl-C cancels the run
    assert first.returncode == 130, first.stderr_text
    assert "interrupted" in first.stderr_text and "run the same batch again to resume" in first.stderr_text
    assert all(r["status"] == "ok" for r in _rows(first.stdout_text))  # finished lines were printed
    assert not [p for p in outputs.iterdir() if p.name.startswith(".")]  # its temp files are gone
    done_before = len(list(outputs.iterdir()))
    second = _interrupt_after(real, ray_address, done_before + 1, signal.SIGKILL)  # the driver dies
    assert second.returncode == -signal.SIGKILL
    finished = sorted(p.name for p in outputs.glob("[0-9]*.wav"))
    assert done_before < len(finished) < 6, finished
    again = _ray_batch(real, ray_address)
    assert again.returncode == 0, again.stderr
    rows = _rows(again.stdout)
    assert sorted(os.path.basename(r["output"]) for r in rows if r["status"] == "skipped") == finished
    assert sum(r["status"] == "ok" for r in rows) == 6 - len(finished)
    assert sorted(p.name for p in outputs.iterdir()) == sorted(f"{i}.wav" for i in range(6))  # temp files swept


def test_missing_models_folder_names_the_node(real, ray_address):
    (real.work / "jobs.jsonl").write_text(_lines(real, 3, {}))
    done = real.run("--models-dir", str(real.work / "no-models"), "batch", "jobs.jsonl", "--ray", ray_address,
                    timeout=300)
    assert done.returncode == 1, done.stderr
    rows = _rows(done.stdout)
    assert [r["error"]["reason"] for r in rows] == ["MODEL_MISSING"] * 3
    message = rows[0]["error"]["message"]
    assert "on node" in message and "no-models" in message, message
    assert "every node" in rows[0]["error"]["hint"]
    assert f"error: {message}" in done.stderr
    assert not list((real.work / "out").iterdir())


def test_without_ray_flag_the_ray_options_are_a_usage_error(real):
    (real.work / "jobs.jsonl").write_text("")
    done = real.run("batch", "jobs.jsonl", "--ray-actors", "2")
    assert done.returncode == 2 and "go with --ray" in done.stderr
