"""The engine's public contract: requests, results, errors, progress and cancellation.

The worker process (stepaudiod.worker) hosts one engine object and talks to it only through these
types; the daemon never imports the engine. Everything here is plain Python so it can be imported
without torch.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Optional, Protocol


class Reason(str, Enum):
    """Stable reason codes for engine failures (the first column of the error table, DESIGN.md §8).

    The engine must not import the protocol package, so this is a copy of part of
    stepaudio_protos.errors.Reason (which gives each its exit code and HTTP status);
    tests/daemon/test_reasons.py keeps it a subset.
    """

    BAD_INPUT = "BAD_INPUT"            # the audio/text/options the user gave cannot be used
    MODEL_MISSING = "MODEL_MISSING"    # a model file or folder is absent
    MODEL_CORRUPT = "MODEL_CORRUPT"    # a model file is present but unreadable or has the wrong shapes
    OUT_OF_MEMORY = "OUT_OF_MEMORY"    # the device or host ran out of memory
    CANCELLED = "CANCELLED"            # the cancel flag was set and the engine stopped between steps
    UNSUPPORTED = "UNSUPPORTED"        # valid request this build/device cannot serve (e.g. awq on CPU)
    OUTPUT_UNWRITABLE = "OUTPUT_UNWRITABLE"  # the output could not be written (disk full, quota, …)
    INTERNAL = "INTERNAL"              # a bug: anything else


class EngineError(Exception):
    """An error meant for the user: what went wrong (message) and what to do (hint)."""

    def __init__(self, reason: Reason, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.hint = hint


def error_from_exception(exc: BaseException) -> EngineError:
    """The one place an exception becomes a reason: EngineError keeps its own, running out of memory
    (the host's MemoryError, torch's OutOfMemoryError or an older torch's "CUDA out of memory"
    RuntimeError, matched by name so this module needs no torch) is OUT_OF_MEMORY, anything else is
    INTERNAL (a bug)."""
    if isinstance(exc, EngineError):
        return exc
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower():
        return EngineError(Reason.OUT_OF_MEMORY, f"out of memory ({text})",
                           "use a shorter input, a 4-bit variant (--variant bnb/awq), or unload other variants")
    return EngineError(Reason.INTERNAL, text)


class CancelToken:
    """A flag the worker sets from its control thread; the engine checks it between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise CANCELLED if the flag is set; call this between steps (tokens, chunks, stages)."""
        if self._event.is_set():
            raise EngineError(Reason.CANCELLED, "cancelled")


# progress(stage, fraction in [0, 1] or -1 if unknown, details such as {"tokens": 12})
ProgressFn = Callable[[str, float, dict], None]

# Audio handed out while a job runs (requests with stream=True) goes through the same callback with this
# stage name: progress(AUDIO_STAGE, -1, {"index": i, "rate": 24000, "encoding": "s16le" | "f32le",
# "pcm": bytes}). Pieces come in order; together they are exactly the samples of the output file.
AUDIO_STAGE = "audio"


def no_progress(stage: str, fraction: float, detail: dict) -> None:
    """A ProgressFn that drops everything (for library use and tests)."""


@dataclass
class LoadOptions:
    models_dir: str                 # root holding Step-Audio-EditX*/ and Step-Audio-Tokenizer/
    variant: str = "base"           # base | bnb | awq
    device: str = "auto"            # auto | cpu | cuda
    dtype: str = "auto"             # auto | bf16 | fp32 (auto: bf16 on CUDA, fp32 on CPU)
    threads: int = 0                # CPU threads for torch/onnxruntime; 0 = library default
    flow_bf16: str = "auto"         # auto | on | off: vocoder flow under bf16 autocast on the CPU
    cache_dir: Optional[str] = None  # prompt cache folder; None disables the cache
    cache_max_bytes: int = 1 << 30   # size bound of the prompt cache (least recently used entries go first)


@dataclass
class CloneRequest:
    ref_audio: str                  # absolute path of the reference recording
    ref_text: str                   # transcript of the reference recording ("" = transcribe it)
    text: str                       # what the cloned voice should say
    output: str                     # absolute path the engine writes the WAV to (a temp name)
    seed: Optional[int] = None
    check: bool = False             # transcribe and score the output (EngineResult.report["quality"])
    candidates: int = 1             # generate this many (seeds seed, seed+1, …), keep the best by score
    format: str = "wav"             # wav | flac | mp3 | opus | pcm (stepaudio_protos/formats.py)
    sample_format: str = "s16"      # s16 | float (wav and pcm only)
    stream: bool = False            # hand out audio as it is made (AUDIO_STAGE progress calls)
    language: str = ""              # language of the text (its tag goes in front; docs/engine/upstream-2026.md)


@dataclass
class EditRequest:
    input_audio: str                # absolute path of the audio to edit
    audio_text: str                 # transcript of that audio
    edit_type: str                  # emotion | style | speed | paralinguistic | denoise | vad
    edit_info: str = ""             # the option of the edit type (e.g. "happy"); "" where none
    text: str = ""                  # target text (paralinguistic: text with [Laughter] style tags)
    iterations: int = 1
    output: str = ""
    seed: Optional[int] = None
    check: bool = False
    candidates: int = 1
    format: str = "wav"
    sample_format: str = "s16"
    stream: bool = False
    max_seconds: float = 600.0      # longest input (the daemon's max_edit_seconds); over 30 s is edited in segments
    language: str = ""              # language spoken in the input ("" = unknown); guards the transcription


@dataclass
class TranscribeRequest:
    audio: str                      # absolute path of the recording


@dataclass
class EngineResult:
    output: str
    sample_rate: int
    duration_s: float
    timings: dict[str, float] = field(default_factory=dict)   # stage -> seconds
    options: dict[str, Any] = field(default_factory=dict)     # the options in force (seed, variant, ...)
    notes: list[str] = field(default_factory=list)            # things the user should know
    report: dict[str, Any] = field(default_factory=dict)      # transcripts, quality scores, candidates
    prompt_cache_hits: int = 0      # prompt-cache lookups that hit (one per pass), counted by the daemon
    prompt_cache_misses: int = 0    # ... and that missed (a cache that is off counts neither)


class Engine(Protocol):
    """What the worker process (stepaudiod.worker_main) needs from the engine object it hosts: the real
    one (stepaudio_engine.engine.Engine) and the tests' double (tests/fake_engine.py) both satisfy it
    (tests/daemon/test_engine_protocol.py). Failures are EngineErrors; anything else the worker
    classifies with error_from_exception."""

    def load(self, options: LoadOptions, progress: ProgressFn) -> dict:
        """Load the weights; returns {device, model_bytes, vram_bytes, folder} (missing keys mean 0/"")."""

    def offload(self) -> dict:
        """Move the weights to CPU RAM; returns {device, vram_bytes}."""

    def resume(self, progress: ProgressFn) -> dict:
        """Move offloaded weights back; returns {device, vram_bytes}."""

    def clone(self, req: CloneRequest, progress: ProgressFn, cancel: CancelToken) -> EngineResult:
        """Write the clone to req.output."""

    def edit(self, req: EditRequest, progress: ProgressFn, cancel: CancelToken) -> EngineResult:
        """Write the edited audio to req.output."""

    def transcribe(self, req: TranscribeRequest, progress: ProgressFn, cancel: CancelToken) -> EngineResult:
        """The transcript in report["transcript"] (output is "")."""
