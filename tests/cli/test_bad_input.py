"""Bad input through the CLI: a clear error, the right exit code, a healthy daemon, nothing written."""
from __future__ import annotations

import os

import pytest

from sa_helpers import write_wav


def _cases(sa):
    ref = write_wav(sa.work / "ref.wav")
    (sa.work / "notes.txt").write_text("this is not audio")
    (sa.work / "empty.wav").write_bytes(b"")
    (sa.work / "adir").mkdir()
    (sa.work / "existing.wav").write_bytes(b"keep me")
    locked = sa.work / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    out = str(sa.work / "out.wav")
    return {
        "missing file": (["clone", str(sa.work / "nope.wav"), "hi", "--ref-text", "a", "-o", out], 1, "does not exist"),
        "directory": (["clone", str(sa.work / "adir"), "hi", "--ref-text", "a", "-o", out], 1, "is a directory"),
        "not audio": (["clone", str(sa.work / "notes.txt"), "hi", "--ref-text", "a", "-o", out], 1, "not an audio file"),
        "empty file": (["clone", str(sa.work / "empty.wav"), "hi", "--ref-text", "a", "-o", out], 1, "is empty"),
        "empty text": (["clone", str(ref), "   ", "--ref-text", "a", "-o", out], 1, "text to speak is empty"),
        "unknown emotion": (["edit", str(ref), "--emotion", "hapy", "--text", "a", "-o", out], 2, "did you mean 'happy'"),
        "two edits": (["edit", str(ref), "--emotion", "happy", "--vad", "--text", "a", "-o", out], 2, "exactly one"),
        "unknown variant": (["clone", str(ref), "hi", "--ref-text", "a", "-o", out, "--variant", "bas"], 2, "did you mean 'base'"),
        "output is a dir": (["clone", str(ref), "hi", "--ref-text", "a", "-o", str(sa.work / "adir")], 1, "is a directory"),
        "no output folder": (["clone", str(ref), "hi", "--ref-text", "a", "-o", str(sa.work / "x" / "o.wav")], 1, "does not exist"),
        "unwritable folder": (["clone", str(ref), "hi", "--ref-text", "a", "-o", str(locked / "o.wav")], 1, "permission denied"),
        "existing output": (["clone", str(ref), "hi", "--ref-text", "a", "-o", str(sa.work / "existing.wav")], 1, "--force"),
        "missing -o": (["clone", str(ref), "hi", "--ref-text", "a"], 2, "-o"),
    }


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions; the unwritable case is checked separately")
def test_unwritable_output_folder_as_a_normal_user(sa):
    case = _cases(sa)["unwritable folder"]
    result = sa.run(*case[0])
    assert result.returncode == case[1] and case[2] in result.stderr


def test_bad_inputs_fail_clearly_and_leave_no_files(sa):
    assert sa.run("daemon", "start").returncode == 0
    daemon = sa.status()["pid"]
    before = sorted(p.name for p in sa.work.rglob("*"))
    for name, (args, code, text) in _cases(sa).items():
        if name == "unwritable folder" and os.geteuid() == 0:
            continue
        result = sa.run(*args)
        assert result.returncode == code, (name, result.stderr)
        assert text in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stderr, name
        assert result.stdout == "", name
    assert sa.status()["pid"] == daemon  # healthy, same daemon
    after = sorted(p.name for p in sa.work.rglob("*"))
    assert set(after) - set(before) <= {"ref.wav", "notes.txt", "empty.wav", "adir", "existing.wav", "locked"}
    assert (sa.work / "existing.wav").read_bytes() == b"keep me"
    assert not (sa.work / "out.wav").exists()


def test_force_overwrites_and_engine_rejection_keeps_the_old_file(sa):
    target = sa.work / "existing.wav"
    target.write_bytes(b"keep me")
    failed = sa.run(*sa.clone_args("existing.wav", "[[fail]]", "--force"))
    assert failed.returncode == 1
    assert target.read_bytes() == b"keep me"  # a failed job never clobbers
    ok = sa.run(*sa.clone_args("existing.wav", "fine", "--force"))
    assert ok.returncode == 0
    assert target.read_bytes()[:4] == b"RIFF"
    assert not sa.stray_files()


def test_output_appearing_during_the_job_is_kept(sa):
    sa.set(FAKE_STEP_S=0.1)
    job = sa.popen(*sa.clone_args("late.wav"))
    from sa_helpers import wait_for

    wait_for(lambda: sa.variant()["running_job"], what="job running")
    (sa.work / "late.wav").write_bytes(b"someone else's")
    assert job.wait(timeout=30) == 1
    assert "appeared while the job ran" in job.stderr.read()
    assert (sa.work / "late.wav").read_bytes() == b"someone else's"
    assert not sa.stray_files()


# ---- batch lines: every field checked by type and range; a bad line fails alone ---------------------------

BAD_BATCH_FIELDS = [
    ({"seed": "7"}, "seed", "must be an integer, not a string"),
    ({"seed": 1.5}, "seed", "must be an integer, not a number"),
    ({"seed": True}, "seed", "must be an integer, not true/false"),
    ({"keep_alive": "nan"}, "keep_alive", "must be a number of seconds"),
    ({"candidates": "3"}, "candidates", "must be an integer"),
    ({"iterations": 0, "kind": "edit"}, "iterations", "1 to 10"),
    ({"variant": "huge"}, "variant", "unknown variant"),
    ({"check": "yes"}, "check", "true or false"),
]


def test_badly_typed_batch_fields_fail_their_own_line_and_the_others_run(sa):
    import json

    ref = write_wav(sa.work / "ref.wav")
    lines = [{"ref": str(ref), "text": "first", "ref_text": "a", "output": "good1.wav"}]
    for extra, _, _ in BAD_BATCH_FIELDS:
        if extra.get("kind") == "edit":
            lines.append({"input": str(ref), "text": "a", "emotion": "happy", "output": "bad.wav", **extra})
        else:
            lines.append({"ref": str(ref), "text": "x", "ref_text": "a", "output": "bad.wav", **extra})
    lines.append({"input": str(ref), "text": "a", "emotion": "HAPPY", "variant": "BASE", "output": "good2.wav"})
    (sa.work / "jobs.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    result = sa.run("batch", "jobs.jsonl")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "this is a bug" not in result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["line"] for o in out] == list(range(1, len(lines) + 1))
    assert out[0]["status"] == "ok" and out[-1]["status"] == "ok"
    assert out[-1]["options"]["edit_info"] == "happy"  # case-insensitive, sent normalised
    for o, (_, field, fragment) in zip(out[1:-1], BAD_BATCH_FIELDS):
        reason = "UNKNOWN_VARIANT" if field == "variant" else "USAGE"
        assert o["status"] == "error" and o["error"]["reason"] == reason, o
        assert o["error"]["field"] == field and fragment in o["error"]["message"], o
    assert not (sa.work / "bad.wav").exists()


def test_batch_from_stdin_starts_each_line_as_it_arrives_and_a_bad_line_loses_nothing(sa):
    """No one-line lag: the first job's result arrives while stdin is still open; a bad line later
    must not take the job in flight with it."""
    import json
    import subprocess

    ref = write_wav(sa.work / "ref.wav")
    proc = subprocess.Popen(sa.cmd("batch", "-"), env=sa.env, cwd=sa.work, text=True, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({"ref": str(ref), "text": "one", "ref_text": "a", "output": "o1.wav"}) + "\n")
        proc.stdin.flush()
        first = json.loads(proc.stdout.readline())  # blocks until line 1 ran: stdin is still open
        assert first["line"] == 1 and first["status"] == "ok", first
        more = json.dumps({"ref": str(ref), "text": "two", "ref_text": "a", "output": "o2.wav"}) + "\n"
        more += '{"ref": "x.wav", "text": "t", "output": "o3.wav", "seed": "7"}\n'
        rest, stderr = proc.communicate(more, timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = [json.loads(line) for line in rest.splitlines()]
    assert [(o["line"], o["status"]) for o in out] == [(2, "ok"), (3, "error")], stderr
    assert proc.returncode == 1 and (sa.work / "o1.wav").exists() and (sa.work / "o2.wav").exists()


def test_the_daemon_rechecks_what_a_client_sends(sa):
    """A client other than the CLI (no checks of its own) gets BAD_INPUT, not a crash or a clamp."""
    import subprocess
    import sys

    ref = write_wav(sa.work / "ref.wav")
    sa.status()
    code = f"""
import math
from stepaudio_cli.client import DaemonClient, iterate_events
from stepaudio_protos.paths import resolve_paths
from stepaudio_protos.v1 import stepaudio_pb2 as pb
client = DaemonClient(resolve_paths(), autostart=False).connect()
def edit(**kw):
    job = dict(input_audio={str(ref)!r}, audio_text="a", edit_type="emotion", edit_info="happy", iterations=1)
    extra = {{k: kw.pop(k) for k in list(kw) if k in job or k == "text"}}
    return pb.JobRequest(edit=pb.EditJob(**{{**job, **extra}}), output={str(sa.work / "o.wav")!r}, **kw)
for request in (edit(iterations=11), edit(candidates=99), edit(edit_info="ecstatic"), edit(edit_type="shout"),
                edit(keep_alive_s=math.inf), edit(edit_type="paralinguistic", edit_info="", text="no tag")):
    events = list(iterate_events(client.submit(request)))
    print(events[-1].failed.reason, "|", events[-1].failed.message)
ok = list(iterate_events(client.submit(edit(edit_info="SAD"))))
print(ok[-1].WhichOneof("event"), __import__("json").loads(ok[-1].done.options_json)["edit_info"])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=sa.env)
    lines = out.stdout.splitlines()
    assert len(lines) == 7, out.stderr
    for line, fragment in zip(lines, ["1 to 10", "1 to 8", "unknown emotion", "unknown edit type", "finite",
                                      "no sound tag"]):
        assert line.startswith("BAD_INPUT |") and fragment in line, line
    assert lines[-1] == "done sad"  # options are case-insensitive for every client


def test_a_symlink_as_output_is_replaced_never_written_through(sa):
    """A dangling link is a plain new output; --force replaces a live link and leaves its target alone."""
    import os

    dangling = sa.work / "dangling.wav"
    os.symlink(sa.work / "nowhere" / "x.wav", dangling)
    result = sa.run(*sa.clone_args("dangling.wav"))
    assert result.returncode == 0, result.stderr
    assert not dangling.is_symlink() and dangling.stat().st_size > 44 and not (sa.work / "nowhere").exists()
    kept = sa.work / "kept.wav"
    kept.write_bytes(b"keep me")
    link = sa.work / "link.wav"
    os.symlink(kept, link)
    refused = sa.run(*sa.clone_args("link.wav"))
    assert refused.returncode == 1 and "already exists" in refused.stderr
    forced = sa.run(*sa.clone_args("link.wav", "hello world", "--force"))
    assert forced.returncode == 0, forced.stderr
    assert not link.is_symlink() and kept.read_bytes() == b"keep me"
    assert not sa.stray_files()
