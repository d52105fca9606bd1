"""What the web UI does, without Gradio: plain values in, plain values out.

Each action talks to the daemon only through stepaudio_serve's AsyncDaemonClient (the HTTP API's own
client) and builds its requests with the CLI's request builders, so a bad input gets the same message
and hint as on the command line. Failures are UiError(message, hint).
"""
from __future__ import annotations

import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from stepaudio_cli import voice_store
from stepaudio_cli.errors import CliError
from stepaudio_cli.job_options import JobOptions
from stepaudio_protos.paths import Paths
from stepaudio_serve.daemon_client import (AsyncDaemonClient, DaemonUnavailable, JobEvent, JobFailed, Progress,
                                           Queued)

OnEvent = Callable[[JobEvent], Any]


class UiError(Exception):
    """A failure shown in the UI as the CLI would print it: the message, then a hint line."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message, self.hint = message, hint

    def text(self) -> str:
        return self.message + (f"\nhint: {self.hint}" if self.hint else "")


@dataclass
class JobOutcome:
    """A finished clone or edit: the audio file (in the UI's private folder) and what the daemon reported."""

    audio: str
    seed: Optional[int]
    duration_s: float
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


def progress_text(event: JobEvent) -> tuple[float, str]:
    """(fraction or -1, one line) for a queue or progress event, as the CLI's progress line says it."""
    if isinstance(event, Queued):
        return -1.0, "started" if event.position == 0 else f"queued: position {event.position}"
    if isinstance(event, Progress):
        detail = f" ({event.detail})" if event.detail else ""
        tokens = f", {event.tokens} tokens" if event.tokens else ""
        return event.fraction, f"{event.stage}{tokens}{detail}"
    return -1.0, ""


def _variant(value: Optional[str]) -> Optional[str]:
    return None if value in (None, "", "default") else value


def _language(value: Optional[str]) -> Optional[str]:
    """The language menu: "auto" = none given (the model's default languages, Mandarin and English)."""
    return None if value in (None, "", "auto") else value


def _seed(value: Any) -> Optional[int]:
    """The seed box: empty = random, else a whole number (the CLI checks its range)."""
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise UiError(f"the seed must be a whole number, not '{text}'", "leave it empty for a random seed") from None


class Actions:
    """The UI's actions. `client` returns the shared daemon client (made by the FastAPI app on start-up)."""

    def __init__(self, client: Callable[[], AsyncDaemonClient], paths: Paths, workdir: Optional[Path] = None) -> None:
        self._client = client
        self.paths = paths
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="stepaudio-web-"))
        self.workdir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.workdir.chmod(0o700)  # results are the user's voice: nobody else reads them

    def output_path(self, kind: str) -> str:
        return str(self.workdir / f"{kind}-{uuid.uuid4().hex[:10]}.wav")

    # ---- jobs ---------------------------------------------------------------------------------
    async def clone(self, ref: Optional[str], ref_text: str, text: str, variant: Optional[str] = None,
                    seed: Any = None, candidates: int = 1, on_event: Optional[OnEvent] = None,
                    language: Optional[str] = None) -> JobOutcome:
        from stepaudio_cli.requests import clone_request

        if not ref:
            raise UiError("no reference recording", "upload or record 3-10 s of the voice to clone")
        request = _build(lambda: clone_request(ref, text, ref_text.strip() or None, JobOptions(
            output=self.output_path("clone"), variant=_variant(variant), seed=_seed(seed),
            candidates=int(candidates or 1)), _language(language)))
        return await self._run(request, on_event)

    async def edit(self, source: Optional[str], transcript: str, edit_type: str, option: str,
                   iterations: int = 1, variant: Optional[str] = None, seed: Any = None,
                   on_event: Optional[OnEvent] = None, language: Optional[str] = None) -> JobOutcome:
        from stepaudio_cli.requests import edit_request

        if not source:
            raise UiError("no recording to edit", "upload one, or take the last clone result")
        request = _build(lambda: edit_request(source, edit_type, option or "", transcript.strip() or None,
                                              int(iterations or 1), JobOptions(
                                                  output=self.output_path("edit"), variant=_variant(variant),
                                                  seed=_seed(seed)), _language(language)))
        return await self._run(request, on_event)

    async def transcribe(self, audio: Optional[str]) -> str:
        from stepaudio_cli.inputs import check_input_audio
        from stepaudio_protos.v1 import stepaudio_pb2 as pb

        if not audio:
            raise UiError("no recording to transcribe", "upload or record one first")
        request = _build(lambda: pb.JobRequest(transcribe=pb.TranscribeJob(audio=check_input_audio(audio))))
        result = await self._run_raw(request, None)
        return str(result.report.get("transcript", ""))

    async def cancel(self, job_id: str) -> None:
        if job_id:
            await self._guard(self._client().cancel(job_id))

    async def _run(self, request: Any, on_event: Optional[OnEvent]) -> JobOutcome:
        result = await self._run_raw(request, on_event)
        return JobOutcome(result.output, result.options.get("seed"), result.duration_s, result.timings,
                          result.notes, result.report, result.options)

    async def _run_raw(self, request: Any, on_event: Optional[OnEvent]):
        return await self._guard(self._client().run(request, on_event))

    @staticmethod
    async def _guard(awaitable: Any) -> Any:
        try:
            return await awaitable
        except JobFailed as exc:
            raise UiError(exc.message, exc.hint) from None
        except (DaemonUnavailable, CliError) as exc:
            raise UiError(exc.message, exc.hint) from None

    # ---- models -------------------------------------------------------------------------------
    async def status(self) -> Any:
        return await self._guard(self._client().status())

    async def load(self, variant: Optional[str]) -> str:
        result = await self._guard(self._client().load(_variant(variant) or "").wait())
        chosen = result.options.get("variant") or variant or "the default variant"
        return f"{chosen} is loaded ({result.timings.get('load', 0.0):.1f} s)"

    async def unload(self, variant: Optional[str], all_: bool = False, to_cpu: bool = False) -> str:
        reply = await self._guard(self._client().unload(_variant(variant) or "", all_, to_cpu))
        parts = []
        if reply.unloaded:
            parts.append("unloaded " + ", ".join(reply.unloaded))
        if reply.offloaded:
            parts.append("moved to CPU RAM: " + ", ".join(reply.offloaded))
        if reply.deferred:
            parts.append("busy, unloaded when its job ends: " + ", ".join(reply.deferred))
        return "; ".join(parts) or "nothing was loaded"

    # ---- voices -------------------------------------------------------------------------------
    def voices(self) -> list[dict]:
        return voice_store.list_voices(self.paths)

    def voice_audio(self, name: str) -> str:
        try:
            return voice_store.load_voice(self.paths, name)[0]
        except CliError as exc:
            raise UiError(exc.message, exc.hint) from None

    async def save_voice(self, name: str, ref: Optional[str], text: str, force: bool = False) -> str:
        """Save a reference as a named voice; without a transcript it is transcribed first (as clone does)."""
        from stepaudio_cli.inputs import check_input_audio

        if not ref:
            raise UiError("no reference recording to save", "upload or record one first")
        name = (name or "").strip()
        transcript = text.strip() or await self.transcribe(ref)
        try:
            source = Path(check_input_audio(ref))
            voice_store.add_voice(self.paths, name, source, transcript, force, origin="web UI upload")
        except CliError as exc:
            raise UiError(exc.message, exc.hint) from None
        return name

    def remove_voice(self, name: str) -> None:
        try:
            voice_store.remove_voice(self.paths, name)
        except CliError as exc:
            raise UiError(exc.message, exc.hint) from None

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def _build(make: Callable[[], Any]) -> Any:
    """A request from the CLI's builders; their CliErrors become UiErrors with the same text."""
    try:
        return make()
    except CliError as exc:
        raise UiError(exc.message, exc.hint) from None
