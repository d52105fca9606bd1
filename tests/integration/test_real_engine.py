"""clone and edit through CLI → daemon → worker → the real engine on the tiny model."""
from __future__ import annotations

import json
import signal
import wave

from sa_helpers import wait_for


def _wav(path) -> tuple[int, int, int]:
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getnframes()


def test_clone_then_edit_writes_24k_audio_and_reports_it(real):
    clone = real.run(*real.clone_args("c.wav", "hello there", "--seed", "3", "--json"), timeout=300)
    assert clone.returncode == 0, clone.stderr
    data = json.loads(clone.stdout)
    assert data["sample_rate"] == 24000 and data["options"]["seed"] == 3
    assert data["options"]["speaker_id"].startswith("clone_")
    assert {"load", "tokenize", "generate", "vocode"} <= set(data["timings"])
    assert any("noise" in n for n in data["notes"])  # the tiny model says so
    rate, channels, frames = _wav(real.work / "c.wav")
    assert (rate, channels) == (24000, 1) and frames % 2880 == 0 and frames > 0  # whole 5-token groups
    edit = real.run("edit", str(real.work / "c.wav"), "--emotion", "sad", "--text", "hello there", "-n", "2",
                    "-o", str(real.work / "e.wav"), "--json", timeout=300)
    assert edit.returncode == 0, edit.stderr
    e = json.loads(edit.stdout)
    assert e["options"]["edit_type"] == "emotion" and e["options"]["iterations"] == 2
    assert _wav(real.work / "e.wav")[0] == 24000
    v = real.variant()
    assert v["tier"] == "loaded" and v["model_bytes"] > 0 and v["jobs_served"] == 2 and v["device"] == "cpu"


def test_same_seed_same_audio_and_the_prompt_cache_hits(real):
    args = ("same ref", "--seed", "11")
    assert real.run(*real.clone_args("a.wav", *args), timeout=300).returncode == 0
    assert real.run(*real.clone_args("b.wav", *args), timeout=300).returncode == 0
    assert (real.work / "a.wav").read_bytes() == (real.work / "b.wav").read_bytes()
    cache = real.status()["cache"]
    assert cache["misses"] == 1 and cache["hits"] == 1 and cache["entries"] == 1 and cache["bytes"] > 0


def test_cancel_during_generation_leaves_nothing(real):
    job = real.popen(*real.clone_args("x.wav", "a long sentence " * 20))
    wait_for(lambda: real.variant()["running_job"], timeout=120, what="job running")
    job.send_signal(signal.SIGINT)
    assert job.wait(timeout=60) == 130
    wait_for(lambda: not real.variant()["running_job"], timeout=30, what="job stopped")
    assert not (real.work / "x.wav").exists() and not real.stray_files()
    assert real.run(*real.clone_args("y.wav", "short"), timeout=300).returncode == 0


def test_missing_models_fail_clearly_and_the_daemon_stays(real, tmp_path):
    real.set(models_dir=tmp_path / "empty")
    (tmp_path / "empty").mkdir()
    result = real.run(*real.clone_args("m.wav"), timeout=120)
    assert result.returncode == 1
    assert "not installed" in result.stderr and "huggingface-cli download" in result.stderr
    assert real.status()["pid"]


def test_non_audio_with_an_audio_header_is_rejected_by_the_engine(real):
    bogus = real.work / "bogus.wav"
    bogus.write_bytes(b"RIFF" + b"\x00" * 100)
    result = real.run("clone", str(bogus), "hi", "--ref-text", "a", "-o", str(real.work / "o.wav"), timeout=120)
    assert result.returncode == 1 and "error:" in result.stderr and "Traceback" not in result.stderr
    assert not (real.work / "o.wav").exists()


def test_selftest_passes_and_keep_says_where_its_files_are(real):
    result = real.run("selftest", "--keep", timeout=600)
    assert result.returncode == 0, result.stderr
    assert "selftest passed" in result.stdout and "noise" in result.stdout
    home = real.home / "cache" / "selftest"
    assert f"kept the outputs in {home / 'work'}" in result.stderr, result.stderr
    assert (home / "work" / "clone.wav").exists() and f"STEPAUDIO_HOME={home} stepaudio daemon stop" in result.stderr
    stop = dict(real.env, STEPAUDIO_HOME=str(home))
    import subprocess

    done = subprocess.run(real.cmd("daemon", "stop"), env=stop, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "stopped" in done.stderr, done.stderr


def test_a_short_reference_clones_with_a_note(real):
    from sa_helpers import write_wav

    write_wav(real.work / "short.wav", seconds=0.5)
    out = real.run("clone", "short.wav", "hi", "--ref-text", "a ref", "-o", "s.wav", "--json", timeout=300)
    assert out.returncode == 0, out.stderr
    assert "the reference is only 0.5 s long: 3-10 s of clear speech clones a voice better" in \
        json.loads(out.stdout)["notes"]
    assert "note: the reference is only 0.5 s long" in out.stderr
