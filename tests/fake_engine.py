"""A test double of the engine, used ONLY by tests (the product never selects it) to force faults.

Selected with STEPAUDIO_ENGINE=fake_engine:FakeEngine (tests put tests/ on PYTHONPATH). Behaviour is set
per daemon with env vars and per request with markers in the text:
  FAKE_LOAD_S=<s>   load takes this long (progress every 50 ms)
  FAKE_STEP_S=<s>   each of the 10 job steps takes this long
  FAKE_NOISE=1      print junk to stdout while loading (must not break the protocol)
  text "[[slow]]"   each step takes 0.5 s (a job to cancel midway, whatever FAKE_STEP_S is)
  request format/stream: other formats than WAV are written, and streamed audio handed out in two pieces,
                    with the engine's own output writer
  text "[[crash]]"  SIGKILL itself mid-job;   "[[hang]]"  ignore cancel and sleep for a long time
  text "[[fail]]"   raise a BAD_INPUT EngineError; "[[bug]]" raise a plain exception;
  text "[[oom]]"    raise MemoryError (the host ran out of memory)
  text "[[write-early]]"  open the output and write half a header before the steps (a long write in flight)
It writes a real 24 kHz 16-bit WAV with the stdlib wave module (no numpy needed).
"""
from __future__ import annotations

import math
import os
import signal
import struct
import sys
import time
import wave

from stepaudio_engine.api import (CancelToken, CloneRequest, EditRequest, EngineError, EngineResult,
                                  LoadOptions, ProgressFn, Reason, TranscribeRequest)

SR = 24000


class FakeEngine:
    def __init__(self) -> None:
        self.options: LoadOptions | None = None
        self.device = ""

    def load(self, options: LoadOptions, progress: ProgressFn) -> dict:
        if os.environ.get("FAKE_NOISE"):
            print("noise on stdout from a chatty library", flush=True)
            sys.stdout.write("{not json\n")
            sys.stdout.flush()
        if os.environ.get("FAKE_CRASH_LOAD"):
            os.kill(os.getpid(), signal.SIGKILL)
        total = float(os.environ.get("FAKE_LOAD_S", "0"))
        steps = max(1, int(total / 0.05))
        for i in range(steps):
            time.sleep(total / steps)
            progress("weights", (i + 1) / steps, {})
        self.options, self.device = options, "cpu"
        return {"device": "cpu", "model_bytes": 1234, "folder": options.models_dir}

    def offload(self) -> dict:
        return {"device": "cpu"}

    def resume(self, progress: ProgressFn) -> dict:
        return {"device": "cpu"}

    def clone(self, req: CloneRequest, progress: ProgressFn, cancel: CancelToken) -> EngineResult:
        return self._job(req.text, req.output, req.seed, progress, cancel, {"kind": "clone"}, req)

    def edit(self, req: EditRequest, progress: ProgressFn, cancel: CancelToken) -> EngineResult:
        return self._job(req.audio_text + req.text, req.output, req.seed, progress, cancel,
                         {"kind": "edit", "edit_type": req.edit_type, "edit_info": req.edit_info,
                          "iterations": req.iterations}, req)

    def transcribe(self, req: TranscribeRequest, progress: ProgressFn, cancel: CancelToken) -> EngineResult:
        # the real engine's input checks (readable, at most 30 s); silence is heard as nothing, as by an ASR
        from stepaudio_engine.audio import load_audio

        wav, rate = load_audio(req.audio, 30.0)
        heard = "fake transcript" if wav.size and float(abs(wav).max()) > 0 else ""
        return EngineResult(output="", sample_rate=rate, duration_s=wav.size / rate, report={"transcript": heard})

    def _job(self, text: str, output: str, seed, progress: ProgressFn, cancel: CancelToken,
             options: dict, req=None) -> EngineResult:
        if "[[fail]]" in text:
            raise EngineError(Reason.BAD_INPUT, "the fake engine was told to fail", "remove [[fail]]")
        if "[[oom]]" in text:
            raise MemoryError("fake engine: cannot allocate 8 GiB")
        if "[[bug]]" in text:
            raise RuntimeError("fake engine bug")
        step = 0.5 if "[[slow]]" in text else float(os.environ.get("FAKE_STEP_S", "0"))
        started = time.monotonic()
        if "[[write-early]]" in text:
            with open(output, "wb") as partial:
                partial.write(b"RIFF")
        passes = max(1, int(getattr(req, "iterations", 1) or 1))
        for i in range(10):
            if passes > 1 and i % max(1, 10 // passes) == 0 and i // max(1, 10 // passes) < passes:
                k = i // max(1, 10 // passes)  # as the engine: an "iteration" stage before each edit pass
                progress("iteration", k / passes, {"text": f"pass {k + 1} of {passes}"})
            if "[[crash]]" in text and i == 3:
                print("fake engine: about to crash", file=sys.stderr, flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            if "[[hang]]" in text and i == 3:
                time.sleep(3600)
            cancel.check()
            time.sleep(step)
            progress("generating", (i + 1) / 10, {"tokens": (i + 1) * 4})
        duration = 0.25 + 0.01 * len(text)
        fmt, stream = getattr(req, "format", "wav"), getattr(req, "stream", False)
        if fmt == "wav" and not stream:
            _write_wav(output, duration)
        else:  # other formats and streamed audio: the engine's own writer, pieces as AUDIO_STAGE progress
            _write_with_engine_writer(output, duration, fmt, progress if stream else None)
        return EngineResult(output=output, sample_rate=SR, duration_s=duration,
                            timings={"generate": time.monotonic() - started},
                            options={**options, "seed": seed}, notes=["fake engine"])


def _write_with_engine_writer(path: str, seconds: float, fmt: str, progress) -> None:
    import numpy as np

    from stepaudio_engine.api import AUDIO_STAGE
    from stepaudio_engine.output_writer import OutputWriter

    samples = (0.25 * np.sin(2 * np.pi * 220 * np.arange(int(SR * seconds)) / SR)).astype(np.float32)
    writer = OutputWriter(path, fmt)
    for index, piece in enumerate(np.array_split(samples, 2)):  # two pieces, as a two-sentence text
        writer.write(piece)
        if progress is not None:
            pcm = (np.clip(piece, -1, 1) * 32767).astype("<i2").tobytes()
            progress(AUDIO_STAGE, -1, {"index": index, "rate": SR, "encoding": "s16le", "pcm": pcm})
    writer.close()


def _write_wav(path: str, seconds: float) -> None:
    n = int(SR * seconds)
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 220 * i / SR))) for i in range(n))
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(frames)
