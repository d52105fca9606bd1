"""A corpus of hostile and odd inputs through the real CLI, daemon, worker and engine (tiny model).

Every case states the exit code and a fragment of the message the user must see; after each case the
same daemon still answers, no output or temp file appeared, and nothing printed a traceback. A few
extremes are valid input (6 channels, 96 kHz, mixed scripts): those must succeed and write one WAV.
One daemon serves the whole module (the tiny model loads once, ~20 s); the cases then take ~1 s each.
"""
from __future__ import annotations

import math
import os
import struct
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from sa_helpers import StepAudio, cleanup, short_tmp

USAGE, FAILED, OK = 2, 1, 0
IS_ROOT = os.geteuid() == 0


# ---- the corpus files ---------------------------------------------------------------------------------------


def _pcm16(samples: list[float]) -> bytes:
    return b"".join(struct.pack("<h", int(max(-1.0, min(1.0, s)) * 20000)) for s in samples)


def _tone(seconds: float, rate: int) -> list[float]:
    return [0.3 * math.sin(i * 440 * 2 * math.pi / rate) for i in range(int(seconds * rate))]


def _riff(fmt: bytes, data: bytes, data_claim: int | None = None, riff_claim: int | None = None) -> bytes:
    """A RIFF/WAVE file from raw chunks; the size fields can lie."""
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data) if data_claim is None else data_claim) + data
    return b"RIFF" + struct.pack("<I", len(body) if riff_claim is None else riff_claim) + body


def _fmt(channels: int = 1, rate: int = 16000, bits: int = 16, tag: int = 1) -> bytes:
    align = channels * bits // 8
    return struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)


def _wav(seconds: float, rate: int = 16000, channels: int = 1) -> bytes:
    mono = _pcm16(_tone(seconds, rate))
    frames = [mono[i:i + 2] * channels for i in range(0, len(mono), 2)]
    return _riff(_fmt(channels, rate), b"".join(frames))


def _float_wav(values: list[float]) -> bytes:
    return _riff(_fmt(bits=32, tag=3), b"".join(struct.pack("<f", v) for v in values))


def _flac_bytes(folder: Path) -> bytes:
    import soundfile as sf  # engine extra; only to make a valid FLAC whose body we then damage

    path = folder / ".valid.flac"
    sf.write(str(path), [s for s in _tone(1.0, 16000)], 16000, format="FLAC")
    data = path.read_bytes()
    path.unlink()
    return data


def _streamed_flac(folder: Path, seconds: float = 1.0) -> bytes:
    """A FLAC as a writer on a pipe leaves it: STREAMINFO's total sample count is 0 (unknown)."""
    import soundfile as sf

    path = folder / ".streamed.flac"
    sf.write(str(path), _tone(seconds, 16000), 16000, format="FLAC")
    data = bytearray(path.read_bytes())
    path.unlink()
    packed = int.from_bytes(data[18:26], "big") & ~((1 << 36) - 1)  # rate(20) ch(3) bps(5) total(36)
    data[18:26] = packed.to_bytes(8, "big")
    return bytes(data)


def _streamed_wav(seconds: float, marker: int) -> bytes:
    """A WAV as espeak-ng (0x7ffff000) or ffmpeg/sox (0xFFFFFFFF) write it to a pipe: sizes unknown."""
    return _riff(_fmt(), _pcm16(_tone(seconds, 16000)), data_claim=marker, riff_claim=marker)


def _dense_flac(path: Path) -> None:
    """~30 KB on disk, ~98 MB as decoded float32: FLAC compresses silence to almost nothing."""
    import numpy as np
    import soundfile as sf

    with sf.SoundFile(str(path), "w", samplerate=384000, channels=8, format="FLAC", subtype="PCM_16") as f:
        for _ in range(8):
            f.write(np.zeros((384000, 8), np.int16))


def build_corpus(folder: Path) -> None:
    """Write every corpus file into folder (once per module)."""
    good = _wav(1.0)
    files = {
        "ok.wav": good,
        "truncated.wav": good[:len(good) // 3],
        "huge_claim.wav": _riff(_fmt(), _pcm16(_tone(0.1, 16000)), data_claim=0xFFFFFFF0, riff_claim=0xFFFFFFF8),
        "fmt_chunk_huge.wav": good[:16] + struct.pack("<I", 0x7FFFFF00) + good[20:],
        "fmt_chunk_tiny.wav": good[:16] + struct.pack("<I", 2) + good[20:],
        "zero_channels.wav": _riff(_fmt(channels=0), _pcm16(_tone(0.5, 16000))),
        "zero_rate.wav": _riff(_fmt(rate=0), _pcm16(_tone(0.5, 16000))),
        "nan_inf.wav": _float_wav([0.1, float("nan"), 0.2, float("inf")] * 4000),
        "zero_frames.wav": _riff(_fmt(), b""),
        "one_frame.wav": _riff(_fmt(), _pcm16([0.5])),
        "six_channels.wav": _wav(1.0, channels=6),
        "8k.wav": _wav(1.0, rate=8000),
        "96k.wav": _wav(1.0, rate=96000),
        "hundredth.wav": _wav(0.01),
        "too_long.wav": _riff(_fmt(), b"\x00\x00" * (16000 * 31)),
        "garbage.flac": b"fLaC" + bytes((i * 131 + 7) % 256 for i in range(4000)),
        "garbage.ogg": b"OggS" + bytes((i * 97 + 3) % 256 for i in range(4000)),
        "garbage.mp3": b"ID3" + bytes((i * 61 + 5) % 256 for i in range(4000)),
        "text.wav": b"this is a text file, not a recording\n" * 20,
        "riff_only.wav": b"RIFF" + struct.pack("<I", 4) + b"WAVE",
        "768k.wav": _wav(0.01, rate=768000),
        "streamed_espeak.wav": _streamed_wav(1.0, 0x7FFFF000),
        "streamed_ffmpeg.wav": _streamed_wav(1.0, 0xFFFFFFFF),
        "streamed_long.wav": _streamed_wav(31.0, 0xFFFFFFFF),
        # long recordings for edit (issue 13): over max_edit_seconds, all silence, one silent segment
        "eleven_minutes.wav": _riff(_fmt(), b"\x00\x00" * (16000 * 601)),
        "silent_40s.wav": _riff(_fmt(), b"\x00\x00" * (16000 * 40)),
        "speech_then_silence_40s.wav": _riff(_fmt(), _pcm16(_tone(15.0, 16000)) + b"\x00\x00" * (16000 * 25)),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    flac = _flac_bytes(folder)
    _dense_flac(folder / "dense.flac")
    (folder / "truncated.flac").write_bytes(flac[:len(flac) // 2])
    (folder / "streamed.flac").write_bytes(_streamed_flac(folder))
    os.mkfifo(folder / "fifo.wav")
    os.symlink(folder / "loop_b.wav", folder / "loop_a.wav")
    os.symlink(folder / "loop_a.wav", folder / "loop_b.wav")
    (folder / "unreadable.wav").write_bytes(good)
    os.chmod(folder / "unreadable.wav", 0)
    (folder / "nul.txt").write_bytes(b"hello\x00world")
    (folder / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (folder / "a_file").write_bytes(b"x")
    (folder / "existing.wav").write_bytes(b"keep me")
    (folder / "readonly").mkdir()
    os.chmod(folder / "readonly", 0o555)
    (folder / "outdir").mkdir()


# ---- the cases ----------------------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    args: Callable[[Path, str], list[str]]   # (corpus folder, fresh output path) -> CLI arguments
    code: int
    fragment: str                            # must appear in stderr (exit != 0) or is ignored (exit 0)
    skip_root: bool = False


def clone(ref: str, text: str = "hello world", ref_text: str = "a reference", *extra: str):
    return lambda d, out: ["clone", ref if ref.startswith("/") else str(d / ref), text, "--ref-text", ref_text,
                           "-o", out, "--seed", "1", *extra]


def clone_out(out: str, *extra: str):
    return lambda d, _: ["clone", str(d / "ok.wav"), "hi", "--ref-text", "a", "-o",
                         out if out.startswith("/") else str(d / out), *extra]


def edit(*flags: str, source: str = "ok.wav"):
    return lambda d, out: ["edit", str(d / source), *flags, "-o", out, "--seed", "1"]


CASES = [
    # malformed and hostile audio
    Case("truncated wav", clone("truncated.wav"), FAILED, "which the file cannot hold"),
    Case("header claims 2^32 bytes", clone("huge_claim.wav"), FAILED, "header claims"),
    Case("fmt chunk size huge", clone("fmt_chunk_huge.wav"), FAILED, "not a readable audio file"),
    Case("fmt chunk size tiny", clone("fmt_chunk_tiny.wav"), FAILED, "not a readable audio file"),
    Case("zero channels", clone("zero_channels.wav"), FAILED, "not a readable audio file"),
    Case("zero sample rate", clone("zero_rate.wav"), FAILED, "not a readable audio file"),
    Case("NaN and inf samples", clone("nan_inf.wav"), FAILED, "NaN or infinite"),
    Case("zero frames", clone("zero_frames.wav"), FAILED, "no audio samples"),
    Case("RIFF header only", clone("riff_only.wav"), FAILED, "not a readable audio file"),
    Case("one frame", clone("one_frame.wav"), FAILED, "too short"),
    Case("0.01 s", clone("hundredth.wav"), FAILED, "too short"),
    Case("31 s", clone("too_long.wav"), FAILED, "the limit is 30 s"),
    Case("8 kHz", clone("8k.wav"), FAILED, "below 16000 Hz"),
    Case("768 kHz", clone("768k.wav"), FAILED, "sample rate 768000 Hz is too high"),
    Case("31 s in a streamed WAV header", clone("streamed_long.wav"), FAILED, "the limit is 30 s"),
    Case("FLAC magic then garbage", clone("garbage.flac"), FAILED, "not a readable audio file"),
    Case("truncated FLAC", clone("truncated.flac"), FAILED, "could not be decoded"),
    Case("OGG magic then garbage", clone("garbage.ogg"), FAILED, "not a readable audio file"),
    Case("ID3 magic then garbage", clone("garbage.mp3"), FAILED, "not a readable audio file"),
    Case("text file named .wav", clone("text.wav"), FAILED, "not an audio file"),
    Case("/dev/null as input", clone("/dev/null"), FAILED, "not a regular file"),
    Case("FIFO as input", clone("fifo.wav"), FAILED, "not a regular file"),
    Case("symlink loop", clone("loop_a.wav"), FAILED, "symlink"),
    Case("unreadable file", clone("unreadable.wav"), FAILED, "permission denied", skip_root=True),
    Case("input name too long", clone("y" * 300 + ".wav"), FAILED, "File name too long"),
    Case("empty input path", lambda d, out: ["clone", "", "hi", "--ref-text", "a", "-o", out], USAGE,
         "the input path is empty"),
    Case("8 ch x 384 kHz FLAC of silence", clone("dense.flac"), FAILED, "too much audio data"),
    Case("edit of a truncated wav", edit("--denoise", source="truncated.wav"), FAILED, "cannot hold"),
    # extremes that are valid input
    Case("six channels", clone("six_channels.wav"), OK, ""),
    Case("96 kHz", clone("96k.wav"), OK, ""),
    Case("streamed WAV header (espeak-ng)", clone("streamed_espeak.wav"), OK, ""),
    Case("streamed WAV header (ffmpeg, sox)", clone("streamed_ffmpeg.wav"), OK, ""),
    Case("FLAC without a total frame count", edit("--denoise", source="streamed.flac"), OK, ""),
    # odd text
    Case("empty text", clone("ok.wav", ""), FAILED, "text to speak is empty"),
    Case("whitespace-only text", clone("ok.wav", " \t\n "), FAILED, "text to speak is empty"),
    Case("over 20 000 characters", clone("ok.wav", "word " * 4001), FAILED, "the limit is 20000"),
    Case("empty chunks between sentences", clone("ok.wav", "Hello there. ... !!! … [Laughter] ... Good bye."), OK, ""),
    Case("only tags and punctuation", clone("ok.wav", "[Laughter] ... [Laughter] !!!"), FAILED, "no words"),
    Case("mixed scripts, several sentences",
         clone("ok.wav", "This is English, spoken first. 你好，这是中文。こんにちは、日本語です。Привет!"), OK, ""),
    Case("long edit over max_edit_seconds", edit("--denoise", source="eleven_minutes.wav"), FAILED,
         "the limit is 600 s"),
    Case("long edit of all silence", edit("--denoise", source="silent_40s.wav"), FAILED, "is silent"),
    Case("long paralinguistic edit", edit("--paralinguistic", "a [Laughter] b", "--text", "a b",
                                          source="speech_then_silence_40s.wav"), FAILED, "up to 30 s"),
    Case("long edit with one silent segment", edit("--denoise", source="speech_then_silence_40s.wav"), OK, ""),
    Case("control characters", clone("ok.wav", "hi \x01\x1b[31m there"), FAILED, "control character"),
    Case("C1 control character (CSI)", clone("ok.wav", "hi \x9b31m there"), FAILED, "control character"),
    Case("NUL byte (text file)", lambda d, out: ["clone", str(d / "ok.wav"), "--text-file", str(d / "nul.txt"),
                                                 "--ref-text", "a", "-o", out], FAILED, "control character"),
    Case("endless text file (/dev/zero)", lambda d, out: ["clone", str(d / "ok.wav"), "--text-file", "/dev/zero",
                                                          "--ref-text", "a", "-o", out], FAILED, "longer than"),
    Case("not UTF-8 (text file)", lambda d, out: ["clone", str(d / "ok.wav"), "--text-file", str(d / "latin1.txt"),
                                                  "--ref-text", "a", "-o", out], FAILED, "UTF-8"),
    Case("mixed scripts", clone("ok.wav", "Hello 你好 こんにちは Привет مرحبا שלום"), OK, ""),
    Case("only punctuation", clone("ok.wav", "?!… ,;:—"), FAILED, "has no words"),
    Case("<|EOT|> in the text", clone("ok.wav", "hi <|EOT|> there"), FAILED, "'<|EOT|>', which is a control token"),
    Case("<audio_5> in the reference text", clone("ok.wav", "hi", "a <audio_5> b"), FAILED,
         "'<audio_5>', which is a control token"),
    Case("<s> in the edit transcript", edit("--emotion", "happy", "--text", "a<s>b"), FAILED,
         "'<s>', which is a control token"),
    Case("<b> before <|EOT|>", clone("ok.wav", "a <b> then <|EOT|>"), FAILED, "'<|EOT|>', which is a control token"),
    Case("<im_start> in a paralinguistic text", edit("--paralinguistic", "hi <im_start> [Laughter]", "--text", "hi"),
         FAILED, "'<im_start>', which is a control token"),
    Case("angle brackets that are no token", clone("ok.wav", "1 < 2 and <b>bold</b>"), OK, ""),
    # bad options
    Case("--iterations 0", edit("--emotion", "happy", "--text", "a", "--iterations", "0"), USAGE, "1 to 10"),
    Case("--iterations 11", edit("--emotion", "happy", "--text", "a", "--iterations", "11"), USAGE, "1 to 10"),
    Case("unknown variant", clone("ok.wav", "hi", "a", "--variant", "large"), USAGE, "unknown variant"),
    Case("--keep-alive abc", clone("ok.wav", "hi", "a", "--keep-alive", "abc"), USAGE, "Invalid value"),
    Case("--keep-alive nan", clone("ok.wav", "hi", "a", "--keep-alive", "nan"), USAGE, "keep-alive"),
    Case("--seed beyond 64 bits", clone("ok.wav", "hi", "a", "--seed", str(2 ** 70)), USAGE, "seed"),
    Case("two edit flags", edit("--emotion", "happy", "--denoise", "--text", "a"), USAGE, "exactly one"),
    Case("unknown emotion", edit("--emotion", "ecstatic", "--text", "a"), USAGE, "emotion"),
    Case("unknown sound tag", edit("--paralinguistic", "bad [Laugh] tag", "--text", "bad tag"), USAGE,
         "unknown sound tag '[Laugh]'; did you mean '[laugh]'?"),
    Case("paralinguistic text without a tag", edit("--paralinguistic", "no tags here", "--text", "no tags here"),
         USAGE, "has no sound tag"),
    Case("--voice with --ref-text", lambda d, out: ["clone", "--voice", "alice", "hi", "--ref-text", "a", "-o", out],
         USAGE, "--ref-text does not go with --voice"),
    Case("clone with one argument that is no file", lambda d, out: ["clone", "hello", "--ref-text", "a", "-o", out],
         USAGE, "clone needs REF and TEXT, but got one argument ('hello')"),
    # unwritable and special outputs
    Case("output is a directory", clone_out("outdir"), FAILED, "is a directory"),
    Case("output /dev/full", clone_out("/dev/full"), FAILED, "already exists"),
    Case("output /dev/full --force", clone_out("/dev/full", "--force"), FAILED, "not a regular file"),
    Case("output /dev/null --force", clone_out("/dev/null", "--force"), FAILED, "not a regular file"),
    Case("output is a FIFO --force", clone_out("fifo.wav", "--force"), FAILED, "not a regular file"),
    Case("output under a file", clone_out("a_file/out.wav"), FAILED, "not a folder"),
    Case("existing output, no --force", clone_out("existing.wav"), FAILED, "--force"),
    Case("output name too long", clone_out("x" * 300 + ".wav"), FAILED, "File name too long"),
    Case("read-only folder", clone_out("readonly/out.wav"), FAILED, "permission denied", skip_root=True),
]


# ---- the module's daemon ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tiny_models):
    """One hermetic installation (real engine, tiny model) and the corpus folder, for every case."""
    root = short_tmp()
    inst = StepAudio(root, engine="stepaudio_engine.engine:Engine", models_dir=tiny_models, device="cpu",
                     threads=1)
    folder = inst.work / "corpus"
    folder.mkdir()
    build_corpus(folder)
    try:
        warm = inst.run("clone", str(folder / "ok.wav"), "warm up", "--ref-text", "a", "-o",
                        str(inst.work / "warm.wav"), timeout=300)
        assert warm.returncode == 0, warm.stderr
        yield inst, folder, inst.status()["pid"]
    finally:
        inst.shutdown()
        os.chmod(folder / "readonly", 0o755)
        cleanup(root)


def _listing(inst: StepAudio) -> set[str]:
    return {str(p.relative_to(inst.work)) for p in inst.work.rglob("*")}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_case(corpus, case: Case):
    if case.skip_root and IS_ROOT:
        pytest.skip("root ignores file permissions")
    inst, folder, daemon_pid = corpus
    out = inst.work / f"out-{abs(hash(case.name))}.wav"
    before = _listing(inst)
    result = inst.run(*case.args(folder, str(out)), timeout=120)
    stderr = result.stderr
    assert result.returncode == case.code, stderr
    assert "Traceback" not in stderr and "this is a bug" not in stderr  # no internal errors
    if case.code == OK:
        with wave.open(str(out), "rb") as w:
            assert w.getframerate() == 24000 and w.getnframes() > 0
        assert _listing(inst) - before == {out.name}
        out.unlink()
    else:
        assert case.fragment in stderr, stderr
        assert "error" in stderr.lower() and result.stdout == ""  # click renders its own usage errors
        assert _listing(inst) == before  # nothing written, no temp file
    assert not inst.stray_files()
    assert inst.status()["pid"] == daemon_pid  # the same daemon still answers


def _piped(inst: StepAudio, data: bytes, *args: str):
    import subprocess

    return subprocess.run(inst.cmd(*args), input=data, env=inst.env, capture_output=True, timeout=120, cwd=inst.work)


def test_streamed_headers_arrive_through_stdin(corpus):
    """`espeak-ng --stdout | clone -`, `ffmpeg -f wav - | transcribe -`, `ffmpeg -f flac - | edit -`."""
    inst, folder, daemon_pid = corpus
    out = inst.work / "from_pipe.wav"
    cloned = _piped(inst, (folder / "streamed_espeak.wav").read_bytes(),
                    "clone", "-", "hi", "--ref-text", "a", "-o", str(out), "--seed", "1")
    assert cloned.returncode == 0, cloned.stderr
    out.unlink()
    heard = _piped(inst, (folder / "streamed_ffmpeg.wav").read_bytes(), "transcribe", "-", "--json")
    assert heard.returncode == 0, heard.stderr
    edited = _piped(inst, (folder / "streamed.flac").read_bytes(), "edit", "-", "--denoise", "-o", "-")
    assert edited.returncode == 0 and edited.stdout[:4] == b"RIFF", edited.stderr
    assert inst.status()["pid"] == daemon_pid and not inst.stray_files()


def test_errors_about_stdin_say_stdin_not_a_temp_path(corpus):
    inst, folder, _ = corpus
    for args in (["clone", "-", "hi", "--ref-text", "a", "-o", str(inst.work / "never.wav")], ["transcribe", "-"]):
        result = _piped(inst, (folder / "streamed_long.wav").read_bytes(), *args)
        stderr = result.stderr.decode()
        assert result.returncode == FAILED and "stdin: audio is longer than 30 s" in stderr, stderr
        assert "io-" not in stderr and str(inst.home) not in stderr, stderr
    flac = _piped(inst, (folder / "garbage.flac").read_bytes(), "transcribe", "-").stderr.decode()
    assert "stdin: not a readable audio file" in flac and "stdin.wav" not in flac, flac


def test_the_corpus_has_at_least_30_cases():
    assert len(CASES) >= 30 and len({c.name for c in CASES}) == len(CASES)


def test_existing_output_and_corpus_files_are_untouched(corpus):
    inst, folder, _ = corpus
    assert (folder / "existing.wav").read_bytes() == b"keep me"
    assert (folder / "a_file").read_bytes() == b"x"


def test_the_daemons_output_check_turns_stat_errors_into_output_errors(tmp_path):
    """Other clients than the CLI reach outputs.check_output directly: a name too long is a bad path."""
    from stepaudiod.errors import DaemonError
    from stepaudiod.outputs import check_output

    with pytest.raises(DaemonError) as info:
        check_output(str(tmp_path / ("z" * 300) / "o.wav"), force=False)
    assert info.value.reason == "OUTPUT_UNWRITABLE" and "File name too long" in info.value.message
