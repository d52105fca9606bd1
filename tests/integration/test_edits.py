"""Every edit type, iterations, the prompt cache and bad inputs through CLI → daemon → worker → engine (tiny model).

The tiny model's output is noise, so these tests check the plumbing: the edit reaches the engine with its option,
each pass runs, 24 kHz WAVs of whole 5-token groups appear, errors are clear and leave the daemon serving.
Short texts and fixed seeds keep the file at a few generations per test.
"""
from __future__ import annotations

import json
import math
import struct
import wave
from pathlib import Path

from sa_helpers import write_wav


def _frames(path: Path) -> tuple[int, int, int]:
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getnframes()


def _edit(real, source: Path, out: str, *args: str, seed: int = 1):
    return real.run("edit", str(source), *args, "-o", str(real.work / out), "--seed", str(seed), "--json",
                    timeout=300)


def _ok(real, result, out: str) -> dict:
    assert result.returncode == 0, result.stderr
    rate, channels, frames = _frames(real.work / out)
    assert (rate, channels) == (24000, 1) and frames > 0 and frames % 2880 == 0
    return json.loads(result.stdout)


def _write_pcm(path: Path, samples: list[float], rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(s * 32767)) for s in samples))
    return path


def test_every_edit_type_runs_with_its_option_and_iterations_run_every_pass(real):
    # seeds picked so the tiny model stops early (outputs of 1-3 groups keep the test short)
    source = write_wav(real.work / "in.wav", seconds=1.0)
    cases = [
        ("emotion", "happy", ["--emotion", "happy", "--text", "hello there"]),
        ("style", "whisper", ["--style", "whisper", "--text", "hello there"]),
        ("paralinguistic", "", ["--paralinguistic", "hello [Laughter] there", "--text", "hello there"]),
        ("denoise", "", ["--denoise"]),
        ("vad", "", ["--vad"]),
    ]
    for edit_type, option, args in cases:
        data = _ok(real, _edit(real, source, f"{edit_type}.wav", *args), f"{edit_type}.wav")
        opts = data["options"]
        assert (opts["kind"], opts["edit_type"], opts["edit_info"]) == ("edit", edit_type, option), data
        assert opts["iterations"] == 1 and opts["seed"] == 1 and opts["prompt_cache"] in ("miss", "hit")
        assert {"tokenize", "generate", "vocode", "write"} <= set(data["timings"])
    before = real.status()["cache"]
    result = _edit(real, source, "n3.wav", "--speed", "faster", "--text", "hello there", "--iterations", "3",
                   seed=9)
    data = _ok(real, result, "n3.wav")
    assert (data["options"]["edit_type"], data["options"]["edit_info"]) == ("speed", "faster")
    assert data["options"]["iterations"] == 3 and data["options"]["seed"] == 9
    # one prompt-cache lookup per pass: pass 1 reads the input (cached by the edits above), passes 2 and 3
    # each read the previous pass's output, which is new audio
    assert data["options"]["prompt_cache"].split(",") == ["hit", "miss", "miss"]
    after = real.status()["cache"]
    assert (after["hits"] - before["hits"], after["misses"] - before["misses"]) == (1, 2)
    assert real.variant()["jobs_served"] == len(cases) + 1  # three passes are one job


def test_a_second_clone_of_the_same_reference_hits_the_cache(real):
    first = real.run(*real.clone_args("a.wav", "two", "--seed", "2", "--json"), timeout=300)
    second = real.run(*real.clone_args("b.wav", "two", "--seed", "2", "--json"), timeout=300)
    a, b = _ok(real, first, "a.wav"), _ok(real, second, "b.wav")
    assert (a["options"]["prompt_cache"], b["options"]["prompt_cache"]) == ("miss", "hit")
    cache = real.status()["cache"]
    assert (cache["misses"], cache["hits"], cache["entries"]) == (1, 1, 1)
    # a hit skips both tokenizers and CAM++: a lookup, not a model run (a loose ratio, not a speed target;
    # benchmarks/pipeline_stages.py measures it)
    assert b["timings"]["tokenize"] < 0.5 * a["timings"]["tokenize"], (a["timings"], b["timings"])


def test_bad_inputs_fail_clearly_and_the_daemon_keeps_serving(real):
    ref = real.work / "ref.wav"
    write_wav(ref)
    long_ref = write_wav(real.work / "long.wav", seconds=31.0, rate=16000)
    silent = _write_pcm(real.work / "silent.wav", [0.0] * 16000)
    faint = _write_pcm(real.work / "faint.wav", [0.0003 * math.sin(i / 9) for i in range(16000)])
    pid = real.status()["pid"]
    cases = [
        (["clone", str(long_ref), "hi", "--ref-text", "a", "-o", "x1.wav"], 1, "the limit is 30 s"),
        (["clone", str(silent), "hi", "--ref-text", "a", "-o", "x2.wav"], 1, "is silent (digital silence)"),
        (["clone", str(faint), "hi", "--ref-text", "a", "-o", "x3.wav"], 1, "is silent (peak -7"),
        (["edit", str(silent), "--denoise", "-o", "x4.wav"], 1, "input audio"),
        (["clone", str(ref), "?!… ,;:—", "--ref-text", "a", "-o", "x5.wav"], 1, "has no words"),
        (["clone", str(ref), "hi", "--ref-text", "...", "-o", "x6.wav"], 1, "reference text has no words"),
        (["edit", str(ref), "--emotion", "happy", "--text", "!!", "-o", "x7.wav"], 1, "has no words"),
        (["edit", str(ref), "--style", "whisperr", "--text", "hi", "-o", "x8.wav"], 2, "did you mean 'whisper'?"),
    ]
    for args, code, message in cases:
        result = real.run(*args, timeout=120)
        assert result.returncode == code and message in result.stderr, (args, result.returncode, result.stderr)
        assert "Traceback" not in result.stderr
        assert not (real.work / args[args.index("-o") + 1]).exists()
    assert "hint:" in real.run(*cases[1][0], timeout=120).stderr  # what to do, not only what went wrong
    # the same daemon (no restart) still serves a good job, and no failed job left a temp file behind
    assert real.status()["pid"] == pid
    _ok(real, real.run(*real.clone_args("good.wav", "fine now", "--seed", "2", "--json"), timeout=300), "good.wav")
    assert not real.stray_files()
