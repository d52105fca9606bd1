"""Long text and output formats through CLI → daemon → worker → the real engine on the tiny model."""
from __future__ import annotations

import json

import numpy as np
import soundfile as sf

SENTENCES = ["The first sentence is long enough to be spoken as a chunk of its own.",
             "Dr. Smith paid 3.50 dollars for the second one, which is also long enough.",
             "A third sentence follows, and it ends the paragraph here."]


def _to_stdout(real, text: str, *extra: str) -> list[str]:
    return real.cmd(*real.clone_args("x", text)[:-2], "-o", "-", *extra)


def _clone(real, out: str, text: str, *extra: str):
    return real.run(*real.clone_args(out, text, "--seed", "5", *extra), timeout=600)


def test_long_text_is_spoken_chunk_by_chunk_and_reported(real):
    text = " ".join(SENTENCES)
    result = _clone(real, "long.flac", text, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    chunks = data["report"]["chunks"]
    assert [text[c["start"]:c["end"]] for c in chunks] == SENTENCES
    assert [c["seed"] for c in chunks] == [5, 105, 205]       # derived from the job seed
    assert all(c["stop"] == "eos" and c["seconds"] > 0 for c in chunks)
    audio, rate = sf.read(str(real.work / "long.flac"))
    assert rate == 24000 and sf.info(str(real.work / "long.flac")).format == "FLAC"
    # the chunks, trimmed, with two sentence pauses between them
    assert abs(len(audio) / rate - data["duration_s"]) < 1e-3
    assert len(audio) / rate > 2 * 0.3 and data["timings"]["first_audio"] < data["timings"]["total"]
    assert real.status()["cache"]["misses"] == 1   # one reference: its prompt is made once for every chunk


def test_every_output_format_reads_back(real):
    for name, fmt in (("o.wav", "WAV"), ("o.mp3", "MP3"), ("o.opus", "OGG")):
        result = _clone(real, name, "hello there")
        assert result.returncode == 0, result.stderr
        info = sf.info(str(real.work / name))
        assert (info.format, info.samplerate, info.channels) == (fmt, 24000, 1)
        assert info.frames > 0
    assert sf.info(str(real.work / "o.wav")).subtype == "PCM_16"
    result = _clone(real, "o.pcm", "hello there")
    assert result.returncode == 0, result.stderr
    pcm = np.frombuffer((real.work / "o.pcm").read_bytes(), "<i2")
    wav, _ = sf.read(str(real.work / "o.wav"), dtype="int16")
    assert np.array_equal(pcm, wav)     # same seed, same samples: raw PCM is the WAV without its header


def test_dash_o_streams_wav_while_the_job_runs_and_equals_the_file(real):
    import io
    import subprocess

    from sa_helpers import wait_for

    text = " ".join(SENTENCES)
    assert _clone(real, "whole.wav", "warm up").returncode == 0   # load the model first: then time is the job's
    proc = subprocess.Popen(_to_stdout(real, text, "--seed", "5", "--json"),
                            env=real.env, cwd=real.work, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            bufsize=0)   # unbuffered: communicate() below reads the pipe itself
    header = b""
    while len(header) < 44:
        got = proc.stdout.read(44 - len(header))
        assert got, proc.stderr.read()
        header += got
    assert header[:4] == b"RIFF" and header[4:8] == b"\xff\xff\xff\xff" and header[40:44] == b"\xff\xff\xff\xff"
    running = real.variant()["running_job"]   # the first sentence arrived; two are still being made
    rest, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr
    assert running, "the first audio arrived only after the job ended"
    result = json.loads(stderr[stderr.index(b"{"):stderr.rindex(b"}") + 1])
    assert result["output"] == "-" and 0 < result["timings"]["first_audio"] < result["timings"]["total"]
    streamed, rate = sf.read(io.BytesIO(header + rest), dtype="int16")
    assert _clone(real, "same.wav", text).returncode == 0
    written, _ = sf.read(str(real.work / "same.wav"), dtype="int16")
    assert rate == 24000 and np.array_equal(streamed, written)   # the stream is the file's samples
    raw = subprocess.run(_to_stdout(real, "hello there", "--seed", "5", "--format", "pcm"), env=real.env,
                         cwd=real.work, capture_output=True, timeout=600)
    assert raw.returncode == 0 and raw.stdout[:4] != b"RIFF" and len(raw.stdout) % 2 == 0 and raw.stdout
    wait_for(lambda: not real.variant()["running_job"], what="idle")


def test_a_reader_that_goes_away_cancels_the_stream_and_the_daemon_serves_on(real):
    import shlex
    import subprocess

    from sa_helpers import wait_for

    text = " ".join(SENTENCES * 3)
    shell = f"{' '.join(map(shlex.quote, _to_stdout(real, text)))} | head -c 1000 > /dev/null"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", shell], env=real.env, cwd=real.work,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 1 and "went away" in result.stderr and "Traceback" not in result.stderr
    wait_for(lambda: not real.variant()["running_job"], timeout=60, what="the job cancelled")
    assert _clone(real, "after.wav", "hello again").returncode == 0


def test_format_choices_that_do_not_fit_are_usage_errors(real):
    for extra, words in ((("-o", "x.mp3", "--format", "wav"), "does not match"),
                         (("-o", "x.mp3", "--sample-format", "float"), "cannot store float"),
                         (("-o", "x.m4a"), "cannot tell"),
                         (("-o", "x.wav", "--format", "aac"), "unknown output format")):
        result = real.run(*real.clone_args("x", "hi")[:-2], *extra)
        assert result.returncode == 2 and words in result.stderr, result.stderr
    assert not list(real.work.glob("x.*"))
    result = _clone(real, "f.wav", "hello there", "--sample-format", "float")
    assert result.returncode == 0, result.stderr
    assert sf.info(str(real.work / "f.wav")).subtype == "FLOAT"


def test_a_long_recording_is_edited_in_segments_with_every_pass(real):
    t = np.arange(15 * 16000) / 16000
    speech = (0.3 * np.sin(2 * np.pi * 180 * t) * (1.2 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    sf.write(str(real.work / "long.wav"), np.concatenate([speech, np.zeros(25 * 16000, np.float32)]), 16000)
    result = real.run("edit", str(real.work / "long.wav"), "--emotion", "happy", "--text", "one two three four",
                      "-n", "2", "--seed", "9", "-o", str(real.work / "long-happy.mp3"), "--json", timeout=900)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    first, second = data["report"]["segments"]
    assert first["start_s"] == 0 and 15 <= first["end_s"] <= 28 and second["end_s"] == 40
    assert first["text"] == "one two three four" and first["seed"] == 10   # pass 2 of segment 1: seed + 1
    assert second["skipped"] == "silent" and abs(second["seconds"] - (40 - second["start_s"])) < 0.01
    assert data["options"]["iterations"] == 2 and data["options"]["prompt_cache"].count(",") == 2
    assert sf.info(str(real.work / "long-happy.mp3")).format == "MP3"


def test_ctrl_c_stops_a_long_job_within_the_chunk_it_is_on(real):
    import signal
    import subprocess

    from sa_helpers import wait_for

    text = " ".join(SENTENCES * 4)   # 12 chunks
    proc = subprocess.Popen(real.cmd(*real.clone_args("cancelled.wav", text)), env=real.env, cwd=real.work,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:          # plain progress lines off a terminal
        if "(chunk 2 of 12)" in line:
            break
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    wait_for(lambda: not real.variant()["running_job"], timeout=30, what="the job stopped")
    assert real.variant()["worker_pid"]   # stopped by the engine between tokens, not by killing the worker
    assert not (real.work / "cancelled.wav").exists() and not real.stray_files()
