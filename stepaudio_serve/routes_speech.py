"""`POST /v1/audio/speech` (OpenAI-compatible) on the daemon's model.

The daemon writes the requested format. `pcm` is streamed as the daemon makes it (AudioChunk events: a
long text sends its audio sentence by sentence), both as raw bytes and as SSE deltas; the container
formats (mp3, opus, flac, wav) are sent when the file is complete. The response starts only when the first
audio (or the finished file) is there, so every failure before that is a proper HTTP error; a failure
after it ends the response early (the client sees a truncated body).
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from pathlib import Path
from typing import AsyncIterator, Optional

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from stepaudio_cli import voice_store
from stepaudio_serve import audio
from stepaudio_serve.daemon_client import AudioChunk, JobEvent, JobResult
from stepaudio_serve.disconnect import unless_disconnected
from stepaudio_serve.routes_models import variant_of
from stepaudio_serve.runner import Reference, RunOptions, result_headers, run_plan, scratch_folder, upload_slot
from stepaudio_serve.speech import SpeechPlan, SpeechRequest, plan_speech, require_reference

router = APIRouter()
CHUNK_BYTES = 32 * 1024  # size of the pieces a finished file is streamed in


@router.post("/v1/audio/speech", tags=["audio"], response_class=Response,
             responses={200: {"content": {audio.media_type(f): {} for f in audio.RESPONSE_FORMATS}}},
             summary="Say `input` in a saved voice or in the voice of `ref_audio` (OpenAI-compatible)")
async def speech(body: SpeechRequest, request: Request) -> Response:
    config = request.app.state.config
    fmt = audio.check_response_format(body.response_format)
    plan = plan_speech(body, variant_of(body.model), config.limits.max_input_chars)
    voice = require_reference(body)
    extra = body.extra_params
    opts = RunOptions(extra.seed, extra.candidates, extra.check, body.keep_alive, format=fmt, stream=fmt == "pcm")
    sse = body.stream_format == "sse"
    async with contextlib.AsyncExitStack() as stack:
        if body.ref_audio is not None:
            await stack.enter_async_context(upload_slot(request))
        folder = stack.enter_context(scratch_folder(request))
        ref = await _reference(request, body, voice, folder)
        events = run_plan(request.app.state.client, plan, ref, body.input, folder, opts)
        stack.push_async_callback(events.aclose)  # type: ignore[attr-defined]  # cancels a job still running
        first = await unless_disconnected(request, _first_audio(events))
        if isinstance(first, JobResult) and not sse:  # a complete file: one plain response
            data = await asyncio.to_thread(Path(first.output).read_bytes)
            return Response(data, media_type=audio.media_type(fmt), headers=result_headers(first, plan))
        # streamed: the stack (scratch folder, upload slot, job) now lives as long as the response
        owned = stack.pop_all()
    stream = _sse(request, first, events, body.input, owned) if sse else _bytes(request, first, events, owned)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", **_early_headers(plan)}
    media = "text/event-stream" if sse else audio.media_type(fmt)
    return StreamingResponse(stream, media_type=media, headers=headers)


async def _reference(request: Request, body: SpeechRequest, voice: Optional[str], folder: Path) -> Reference:
    if voice is not None:
        path, text = voice_store.load_voice(request.app.state.config.paths, voice)
        return Reference(path, text)
    max_s = request.app.state.config.limits.max_audio_s

    def stage() -> Path:
        data = audio.decode_base64_audio(body.ref_audio or "", "ref_audio")
        path = audio.stage(folder, "ref", data)
        audio.check_audio(path, "ref_audio", max_s)
        return path

    return Reference(str(await asyncio.to_thread(stage)), body.ref_text)


async def _first_audio(events: AsyncIterator[JobEvent]) -> AudioChunk | JobResult:
    async for event in events:
        if isinstance(event, (AudioChunk, JobResult)):
            return event
    raise AssertionError("the plan ended without a result")


def _early_headers(plan: SpeechPlan) -> dict[str, str]:
    return {"X-Stepaudio-Edits": json.dumps(plan.applied)} if plan.applied else {}


async def _rest(request: Request, first: AudioChunk | JobResult,
                events: AsyncIterator[JobEvent]) -> AsyncIterator[AudioChunk | JobResult]:
    """The first audio event, then the others; a client that goes away stops the job at once."""
    yield first
    if isinstance(first, JobResult):
        return
    while True:
        event = await unless_disconnected(request, events.__anext__())
        if isinstance(event, (AudioChunk, JobResult)):
            yield event
        if isinstance(event, JobResult):
            return


async def _file_pieces(path: str) -> AsyncIterator[bytes]:
    data = await asyncio.to_thread(Path(path).read_bytes)
    for start in range(0, len(data), CHUNK_BYTES):
        yield data[start:start + CHUNK_BYTES]


async def _bytes(request: Request, first, events, owned: contextlib.AsyncExitStack) -> AsyncIterator[bytes]:
    """pcm as it is made."""
    async with owned:
        async for event in _rest(request, first, events):
            if isinstance(event, AudioChunk):
                yield event.pcm


async def _sse(request: Request, first, events, text: str, owned: contextlib.AsyncExitStack) -> AsyncIterator[bytes]:
    """OpenAI's speech SSE: speech.audio.delta events with base64 audio, then speech.audio.done."""
    async with owned:
        streamed = False
        async for event in _rest(request, first, events):
            if isinstance(event, AudioChunk):
                streamed = True
                yield _event({"type": "speech.audio.delta", "audio": base64.b64encode(event.pcm).decode()})
            elif isinstance(event, JobResult):
                if not streamed:  # a container format: its file, in pieces
                    async for piece in _file_pieces(event.output):
                        yield _event({"type": "speech.audio.delta", "audio": base64.b64encode(piece).decode()})
                tokens = int(event.report.get("audio_tokens", 0) or 0)
                yield _event({"type": "speech.audio.done", "job_id": event.job_id,
                              "usage": {"input_tokens": len(text), "output_tokens": tokens,
                                        "total_tokens": len(text) + tokens}})


def _event(payload: dict) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()
