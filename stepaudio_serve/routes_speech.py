"""`POST /v1/audio/speech` (OpenAI-compatible) on the daemon's model."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from pathlib import Path
from typing import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from stepaudio_cli import voice_store
from stepaudio_serve import audio
from stepaudio_serve.daemon_client import JobResult
from stepaudio_serve.disconnect import unless_disconnected
from stepaudio_serve.routes_models import variant_of
from stepaudio_serve.runner import (Reference, RunOptions, last_result, result_headers, run_plan, scratch_folder,
                                    upload_slot)
from stepaudio_serve.speech import SpeechRequest, plan_speech, require_reference

router = APIRouter()
CHUNK_BYTES = 32 * 1024  # size of the pieces a finished result is streamed in


@router.post("/v1/audio/speech", tags=["audio"], response_class=Response,
             responses={200: {"content": {audio.media_type(f): {} for f in audio.RESPONSE_FORMATS}}},
             summary="Say `input` in a saved voice or in the voice of `ref_audio` (OpenAI-compatible)")
async def speech(body: SpeechRequest, request: Request) -> Response:
    config = request.app.state.config
    fmt = audio.check_response_format(body.response_format)
    plan = plan_speech(body, variant_of(body.model), config.limits.max_input_chars)
    voice = require_reference(body)
    extra = body.extra_params
    opts = RunOptions(extra.seed, extra.candidates, extra.check, body.keep_alive)
    async with contextlib.AsyncExitStack() as stack:
        if body.ref_audio is not None:
            await stack.enter_async_context(upload_slot(request))
        folder = stack.enter_context(scratch_folder(request))
        ref = await _reference(request, body, voice, folder)
        result = await unless_disconnected(request, last_result(run_plan(request.app.state.client, plan, ref, body.input,
                                                                    folder, opts)))
        data = await asyncio.to_thread(audio.encode, result.output, fmt)
    headers = result_headers(result, plan)
    if body.stream_format == "sse":
        return StreamingResponse(_sse(data, body.input, result), media_type="text/event-stream",
                                 headers={**headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    return Response(data, media_type=audio.media_type(fmt), headers=headers)


async def _reference(request: Request, body: SpeechRequest, voice: str | None, folder: Path) -> Reference:
    if voice is not None:
        path, text = voice_store.load_voice(request.app.state.config.paths, voice)
        return Reference(path, text)
    assert body.ref_audio is not None
    max_s = request.app.state.config.limits.max_audio_s

    def stage() -> Path:
        data = audio.decode_base64_audio(body.ref_audio or "", "ref_audio")
        path = audio.stage(folder, "ref", data)
        audio.check_audio(path, "ref_audio", max_s)
        return path

    return Reference(str(await asyncio.to_thread(stage)), body.ref_text)


async def _sse(data: bytes, text: str, result: JobResult) -> AsyncIterator[bytes]:
    """OpenAI's speech SSE: speech.audio.delta events with base64 audio, then speech.audio.done."""
    for start in range(0, len(data), CHUNK_BYTES):
        piece = base64.b64encode(data[start:start + CHUNK_BYTES]).decode()
        yield _event({"type": "speech.audio.delta", "audio": piece})
    tokens = int(result.report.get("audio_tokens", 0) or 0)
    yield _event({"type": "speech.audio.done",
                  "usage": {"input_tokens": len(text), "output_tokens": tokens, "total_tokens": len(text) + tokens}})


def _event(payload: dict) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


