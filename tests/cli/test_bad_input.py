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
