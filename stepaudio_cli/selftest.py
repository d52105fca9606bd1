"""`stepaudio selftest`: clone and edit on the tiny model through a real daemon and worker.

It uses a daemon of its own (STEPAUDIO_HOME under the cache dir), so it never disturbs the user's
daemon or models; writes the tiny model folder once; checks the WAV files it gets back with the
stdlib (24 kHz, mono, non-silent, length in range); prints timings; and stops its daemon.
"""
from __future__ import annotations

import math
import os
import struct
import subprocess
import sys
import time
import wave
from pathlib import Path

import typer

from stepaudio_cli.errors import CliError
from stepaudio_cli.options import flag
from stepaudio_cli.render import err
from stepaudio_protos.errors import Exit, Reason
from stepaudio_protos.paths import resolve_paths

REF_TEXT = "This is a reference recording."
TEXT = "Hello from the tiny model."


def selftest(ctx: typer.Context,
             keep: bool = flag("--keep", help="keep the selftest daemon and files afterwards")) -> None:
    """Check the whole product on a tiny random model: writes it, clones, edits, checks the audio."""
    from stepaudio_cli.client import DaemonClient

    user = ctx.obj.paths
    home = user.cache_dir / "selftest"
    models = user.tiny_models_dir
    env = {**os.environ, "STEPAUDIO_HOME": str(home), "STEPAUDIO_MODELS_DIR": str(models),
           "STEPAUDIO_IDLE_SHUTDOWN": "60", "STEPAUDIO_DEVICE": "cpu"}
    work = home / "work"
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    _step("tiny model", lambda: _write_tiny(models))
    ref = _write_reference(work / "reference.wav")
    client = DaemonClient(resolve_paths(env), daemon_env=env)
    _step("daemon", client.connect)
    results = []
    try:
        clone_out = work / "clone.wav"
        results.append(_job(client, "clone", _clone_request(ref, clone_out)))
        edit_out = work / "edit.wav"
        results.append(_job(client, "edit --emotion happy", _edit_request(clone_out, edit_out)))
    finally:
        if not keep:
            client.shutdown_and_wait()
    _report(results, time.monotonic() - started)
    if keep:  # where to look, and how to use the kept daemon and tiny model by hand
        err(f"selftest: kept the outputs in {work}, the tiny model in {models} and the daemon "
            f"(STEPAUDIO_HOME={home}, log {home / 'state' / 'logs' / 'stepaudiod.log'})")
        err(f"selftest: try it: STEPAUDIO_HOME={home} stepaudio clone {ref} 'Some text' --ref-text '{REF_TEXT}' "
            f"-o {work / 'mine.wav'}; stop it: STEPAUDIO_HOME={home} stepaudio daemon stop")


def _step(name: str, action) -> None:
    t = time.monotonic()
    try:
        action()
    except CliError:
        raise
    except Exception as exc:  # noqa: BLE001 - report any failure of the step plainly
        raise CliError(f"selftest step '{name}' failed: {exc}", "run `stepaudio doctor` or see the daemon log") from exc
    err(f"selftest: {name} ready ({time.monotonic() - t:.1f} s)")


def _write_tiny(folder: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "stepaudio_engine.tiny", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise CliError("could not write the tiny model", (done.stderr or "").strip()[-2000:] or
                       "is the engine installed? pip install 'stepaudio[engine,cpu]'")


def _write_reference(path: Path, seconds: float = 2.0, rate: int = 16000) -> Path:
    """A voiced-sounding test signal: a 140 Hz buzz with a slow vibrato and two formant-like partials."""
    frames = bytearray()
    for i in range(int(seconds * rate)):
        t = i / rate
        f0 = 140 + 10 * math.sin(2 * math.pi * 3 * t)
        x = 0.3 * math.sin(2 * math.pi * f0 * t) + 0.1 * math.sin(2 * math.pi * 700 * t) \
            + 0.05 * math.sin(2 * math.pi * 1200 * t)
        frames += struct.pack("<h", int(x * 0.8 * 32767))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return path


def _clone_request(ref: Path, out: Path):
    from stepaudio_protos.v1 import stepaudio_pb2 as pb

    return pb.JobRequest(clone=pb.CloneJob(ref_audio=str(ref), ref_text=REF_TEXT, text=TEXT), output=str(out),
                         force=True, seed=1234)


def _edit_request(src: Path, out: Path):
    from stepaudio_protos.v1 import stepaudio_pb2 as pb

    return pb.JobRequest(edit=pb.EditJob(input_audio=str(src), audio_text=TEXT, edit_type="emotion",
                                         edit_info="happy", iterations=1), output=str(out), force=True, seed=1234)


def _job(client, label: str, request) -> dict:
    from stepaudio_cli.client import iterate_events

    for event in iterate_events(client.submit(request)):
        kind = event.WhichOneof("event")
        if kind == "failed":
            raise CliError.from_reason(event.failed.reason, f"selftest {label} failed: {event.failed.message}",
                                       event.failed.hint)
        if kind == "done":
            check = _check_wav(Path(event.done.output))
            err(f"selftest: {label} ok: {check['seconds']:.2f} s of audio, peak {check['peak']:.3f}")
            return {"label": label, "timings": dict(event.done.timings), **check, "notes": list(event.done.notes)}
    raise CliError(f"selftest {label}: the daemon ended the job without a result", "", Exit.UNAVAILABLE)


def _check_wav(path: Path) -> dict:
    with wave.open(str(path), "rb") as w:
        rate, channels, width, n = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
        data = w.readframes(n)
    problems = []
    if rate != 24000:
        problems.append(f"sample rate {rate}, expected 24000")
    if channels != 1 or width != 2:
        problems.append(f"{channels} channels of {8 * width} bits, expected mono 16-bit")
    samples = struct.unpack(f"<{n}h", data[:2 * n]) if width == 2 else ()
    peak = max((abs(s) for s in samples), default=0) / 32768
    seconds = n / rate if rate else 0.0
    if peak < 1e-3:
        problems.append("the output is silent")
    # at least one 5-token group (0.12 s); at most the clone budget for the text (5 s + 0.35 s per character)
    if not 0.12 <= seconds <= 5.0 + 0.35 * len(TEXT) + 1:
        problems.append(f"{seconds:.2f} s of audio is outside the expected range")
    if problems:
        raise CliError(f"selftest: {path.name}: " + "; ".join(problems), "this is a bug; see `stepaudio daemon logs`",
                       Reason.INTERNAL)
    return {"seconds": seconds, "peak": peak, "output": str(path)}


def _report(results: list[dict], total: float) -> None:
    stages = ["queued", "load", "tokenize", "generate", "vocode", "total"]
    print(f"{'job':22s}" + "".join(f"{s:>10s}" for s in stages) + f"{'audio s':>10s}")
    for r in results:
        print(f"{r['label']:22s}" + "".join(f"{r['timings'].get(s, 0.0):10.2f}" for s in stages)
              + f"{r['seconds']:10.2f}")
    print(f"selftest passed in {total:.1f} s")
    for note in sorted({n for r in results for n in r["notes"]}):
        print(f"note: {note}")
