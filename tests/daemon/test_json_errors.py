"""Every `--json` failure reports the real reason (docs/json.md), through the real CLI, daemon and
worker with the fake engine: clone, edit, batch lines, transcribe and saved voices."""
from __future__ import annotations

import json

from sa_helpers import write_wav


def _error(result) -> dict:
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, result.stdout
    return lines[0]["error"]


def test_clone_and_edit_report_out_of_memory_and_voices_report_unknown_voice(sa):
    oom = sa.run(*sa.clone_args("a.wav", "say [[oom]]"), "--json")
    assert oom.returncode == 1
    error = _error(oom)
    assert error["reason"] == "OUT_OF_MEMORY" and "cannot allocate" in error["message"] and error["hint"]
    assert "error: out of memory" in oom.stderr  # people still get the error:/hint: lines
    write_wav(sa.work / "in.wav")
    edit = sa.run("edit", str(sa.work / "in.wav"), "--emotion", "happy", "--text", "[[oom]]",
                  "-o", str(sa.work / "e.wav"), "--json")
    assert edit.returncode == 1 and _error(edit)["reason"] == "OUT_OF_MEMORY"
    voice = sa.run("clone", "--voice", "nobody", "hello", "-o", str(sa.work / "v.wav"), "--json")
    assert voice.returncode == 1 and _error(voice)["reason"] == "UNKNOWN_VOICE"
    (sa.work / "exists.wav").write_bytes(b"x")
    exists = sa.run(*sa.clone_args("exists.wav"), "--json")
    assert exists.returncode == 1 and _error(exists)["reason"] == "OUTPUT_EXISTS"
    assert not sa.stray_files()


def test_batch_lines_and_transcribe_report_their_reasons(sa):
    ref = sa.work / "ref.wav"
    write_wav(ref)
    lines = [{"ref": str(ref), "ref_text": "r", "text": "fine", "output": "ok.wav"},
             {"ref": str(ref), "ref_text": "r", "text": "[[oom]]", "output": "oom.wav"},
             {"voice": "nobody", "text": "hi", "output": "v.wav"},
             {"ref": str(ref), "ref_text": "r", "text": "[[fail]]", "output": "bad.wav"},
             {"ref": str(ref), "text": "x", "output": "u.wav", "variant": "huge"},
             {"ref": str(ref), "text": "x"}]
    (sa.work / "jobs.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    result = sa.run("batch", "jobs.jsonl")
    assert result.returncode == 1, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert out[0]["status"] == "ok"
    assert [o["error"]["reason"] for o in out[1:]] == ["OUT_OF_MEMORY", "UNKNOWN_VOICE", "BAD_INPUT",
                                                       "UNKNOWN_VARIANT", "USAGE"]
    missing = sa.run("transcribe", str(ref), str(sa.work / "missing.wav"), "--json")
    assert missing.returncode == 1
    files = [json.loads(line) for line in missing.stdout.splitlines()]
    assert files[0]["text"] == "fake transcript"
    assert files[1]["error"]["reason"] == "BAD_INPUT" and "does not exist" in files[1]["error"]["message"]
