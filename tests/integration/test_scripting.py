"""Scripting through the real daemon and engine on the tiny model: batch, pipes, JSON, voices."""
from __future__ import annotations

import json
import shlex
import subprocess
import wave

from sa_helpers import write_wav


def _batch_lines(real, n: int, bad: set[int]) -> str:
    ref = write_wav(real.work / "ref.wav")
    lines = []
    for i in range(n):
        if i in bad:
            lines.append({0: '{"ref": "ref.wav", "text": "oops"',                          # broken JSON
                          1: json.dumps({"ref": "missing.wav", "ref_text": "a", "text": "t", "output": f"o{i}.wav"}),
                          2: json.dumps({"input": "ref.wav", "emotion": "hapy", "text": "a", "output": f"o{i}.wav"})
                          }[len([b for b in bad if b < i])])
        elif i % 5 == 4:
            lines.append(json.dumps({"input": str(ref), "emotion": "happy", "text": "a ref", "output": f"o{i}.wav",
                                     "seed": i}))
        else:
            lines.append(json.dumps({"ref": "ref.wav", "ref_text": "a ref", "text": f"line {i}", "output": f"o{i}.wav",
                                     "seed": i}))
    return "\n".join(lines) + "\n"


def test_batch_of_fifty_with_three_bad_lines_then_resume(real):
    bad = {7, 23, 41}
    (real.work / "jobs.jsonl").write_text(_batch_lines(real, 50, bad))
    first = real.run("batch", "jobs.jsonl", "--jobs", "4", timeout=900)
    assert first.returncode == 1, first.stderr
    results = [json.loads(line) for line in first.stdout.splitlines()]
    assert [r["line"] for r in results] == list(range(1, 51))  # input order, one result per line
    errors = [r for r in results if r["status"] == "error"]
    assert [r["line"] - 1 for r in errors] == sorted(bad)
    assert all({"reason", "message", "hint"} <= set(r["error"]) <= {"reason", "message", "hint", "field"}
               for r in errors)
    ok = [r for r in results if r["status"] == "ok"]
    assert len(ok) == 47 and all((real.work / r["output"]).exists() for r in ok)
    assert "47 ok, 0 skipped, 3 failed" in first.stderr
    again = real.run("batch", "jobs.jsonl", timeout=300)
    rows = [json.loads(line) for line in again.stdout.splitlines()]
    statuses = [r["status"] for r in rows]
    assert statuses.count("skipped") == 47 and statuses.count("error") == 3
    assert all(r["output"].startswith("/") for r in rows if r["status"] == "skipped")  # absolute, as ok lines
    assert real.variant()["jobs_served"] == 47  # nothing was generated twice


def test_pipes_stdin_to_stdout(real):
    src = write_wav(real.work / "in.wav")
    cmd = shlex.join(real.cmd("edit", "-", "--emotion", "sad", "--text", "a ref", "-o", "-", "--seed", "1"))
    done = subprocess.run(f"cat {src} | {cmd} > {real.work / 'piped.wav'}", shell=True, env=real.env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with wave.open(str(real.work / "piped.wav"), "rb") as w:
        assert w.getframerate() == 24000 and w.getnframes() > 0
    assert not any(real.home.joinpath("run").glob("io-*"))  # the scratch folder is gone


def test_json_goes_to_stderr_when_stdout_carries_the_audio_and_never_to_a_terminal(real):
    import os
    import pty

    src = write_wav(real.work / "in.wav")
    cmd = shlex.join(real.cmd("edit", "-", "--emotion", "sad", "--text", "a ref", "-o", "-", "--seed", "1",
                              "--json"))
    done = subprocess.run(f"{cmd} < {src} > {real.work / 'piped.wav'}", shell=True, env=real.env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stderr[done.stderr.index("{"):done.stderr.rindex("}") + 1])
    assert result["output"] == "-" and result["options"]["seed"] == 1
    assert (real.work / "piped.wav").read_bytes()[:4] == b"RIFF"

    leader, follower = pty.openpty()  # stdout is a terminal: refused before any work
    try:
        refused = subprocess.run(real.cmd(*real_edit_args(src)), env=real.env, stdout=follower,
                                 stderr=subprocess.PIPE, text=True, timeout=60, cwd=real.work)
    finally:
        os.close(follower)
        os.close(leader)
    assert refused.returncode == 2 and "which is a terminal here" in refused.stderr


def test_empty_stdin_is_named_as_stdin(real):
    out = real.run("edit", "-", "--emotion", "happy", "--text", "a", "-o", "e.wav", input="")
    assert out.returncode == 2 and "error: stdin is empty: no audio arrived" in out.stderr
    assert "io-" not in out.stderr  # no internal scratch path


def real_edit_args(src) -> list[str]:
    return ["edit", str(src), "--emotion", "sad", "--text", "a ref", "-o", "-"]


def test_text_from_stdin_and_voices(real):
    write_wav(real.work / "ref.wav")
    assert real.run("voices", "add", "alice", "ref.wav", "--text", "a ref").returncode == 0
    listed = json.loads(real.run("voices", "list", "--json").stdout)
    assert [v["name"] for v in listed] == ["alice"]
    out = real.run("clone", "--voice", "alice", "--text-file", "-", "-o", "v.wav", "--json", "--seed", "2",
                   input="words from stdin", timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert set(result) == {"job_id", "output", "sample_rate", "duration_s", "timings", "options", "notes", "report"}
    again = json.loads(real.run("clone", "--voice", "alice", "more words", "-o", "v2.wav", "--json").stdout)
    assert again["options"]["prompt_cache"] == "hit"  # the saved voice's tokens are reused
    assert real.run("voices", "remove", "alice").returncode == 0
    missing = real.run("clone", "--voice", "alice", "x", "-o", "v3.wav")
    assert missing.returncode == 1 and "no voice named 'alice'" in missing.stderr
