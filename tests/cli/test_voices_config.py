"""`voices add` checks its reference as clone does and transcribes it without --text; it and `config set`
turn a full STEPAUDIO_HOME into a clear error with nothing half-written; config refuses nan/inf and stores a
relative models_dir absolute."""
from __future__ import annotations

import json
import resource
import subprocess
import wave

from sa_helpers import write_wav


def _silent(path, seconds: float = 1.0, rate: int = 16000):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return path


def _leftovers(sa) -> list[str]:
    voices = sa.home / "data" / "voices"
    return sorted(p.name for p in voices.rglob("*")) if voices.exists() else []


def test_voices_add_transcribes_without_text_and_checks_the_reference(sa):
    write_wav(sa.work / "ref.wav")
    added = sa.run("voices", "add", "alice", "ref.wav")
    assert added.returncode == 0 and "transcript: fake transcript" in added.stderr, added.stderr
    listed = json.loads(sa.run("voices", "list", "--json").stdout)
    assert [(v["name"], v["text"]) for v in listed] == [("alice", "fake transcript")]
    write_wav(sa.work / "long.wav", seconds=31)
    long = sa.run("voices", "add", "bob", "long.wav", "--text", "hi")
    assert long.returncode == 1 and "the limit is 30 s" in long.stderr, long.stderr
    silent = sa.run("voices", "add", "carol", str(_silent(sa.work / "quiet.wav")))
    assert silent.returncode == 1 and "no speech was heard" in silent.stderr, silent.stderr
    names = [v["name"] for v in json.loads(sa.run("voices", "list", "--json").stdout)]
    assert names == ["alice"]


def _limited(sa, limit: int, *args: str) -> subprocess.CompletedProcess:
    """The CLI with files capped at `limit` bytes (RLIMIT_FSIZE: writes fail with EFBIG, as on a full disk)."""
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return subprocess.run(sa.cmd(*args), env=sa.env, cwd=sa.work, capture_output=True, text=True, timeout=60,
                          preexec_fn=cap)


def test_a_full_home_fails_voices_add_and_config_set_cleanly(sa):
    write_wav(sa.work / "ref.wav")
    sa.status()  # the daemon runs without the cap; only the CLI's own writes hit it
    full = _limited(sa, 4096, "voices", "add", "alice", "ref.wav", "--text", "a ref")
    assert full.returncode == 1 and "cannot save the voice 'alice'" in full.stderr, full.stderr
    assert "Traceback" not in full.stderr and _leftovers(sa) == []  # no .alice.tmp/ left behind
    config = sa.home / "config" / "config.toml"
    long_dir = "/tmp/" + "d" * 300
    failed = _limited(sa, 64, "config", "set", "models_dir", long_dir)
    assert failed.returncode == 1 and "cannot write" in failed.stderr and "Traceback" not in failed.stderr
    assert not config.exists() and not list(config.parent.glob(".config-*"))


def test_config_set_refuses_nan_and_inf_and_stores_a_relative_models_dir_absolute(sa):
    for value in ("nan", "inf", "-inf"):
        bad = sa.run("config", "set", "keep_alive", value)
        assert bad.returncode == 2 and "finite" in bad.stderr, bad.stderr
    assert sa.run("config", "set", "models_dir", "my/models").returncode == 0
    shown = sa.run("config", "show", "--json")
    value = next(s["value"] for s in json.loads(shown.stdout)["settings"] if s["name"] == "models_dir")
    assert value == str(sa.work / "my" / "models"), shown.stdout
