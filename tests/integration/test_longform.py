"""Long text and output formats through CLI → daemon → worker → the real engine on the tiny model."""
from __future__ import annotations

import json

import numpy as np
import soundfile as sf

SENTENCES = ["The first sentence is long enough to be spoken as a chunk of its own.",
             "Dr. Smith paid 3.50 dollars for the second one, which is also long enough.",
             "A third sentence follows, and it ends the paragraph here."]


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
