"""Multipart audio endpoints: `/v1/audio/edits`, `/v1/audio/transcriptions` (OpenAI-compatible) and the
saved voices `/v1/audio/voices` (the same store as `stepaudio voices`)."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Optional

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import PlainTextResponse, Response

from stepaudio_cli import voice_store
from stepaudio_protos.v1 import stepaudio_pb2 as pb
from stepaudio_serve import audio
from stepaudio_serve.disconnect import unless_disconnected
from stepaudio_protos.errors import Reason
from stepaudio_serve.errors import ApiError, bad_request
from stepaudio_serve.routes_models import ASR_MODEL_ID, MODEL_ID, variant_of
from stepaudio_serve.runner import (Reference, RunOptions, last_result, result_headers, run_plan, scratch_folder,
                                    upload_slot)
from stepaudio_serve.speech import EDIT_TYPES, ExtraParams, SpeechPlan, reference_edit

router = APIRouter()


async def _staged(upload: UploadFile, folder: Path, name: str, param: str, max_s: float) -> Path:
    data = await upload.read()
    if not data:
        raise bad_request(f"{param} is empty", param, "attach an audio file")

    def stage() -> Path:
        path = audio.stage(folder, name, data)
        audio.check_audio(path, param, max_s)
        return path

    return await asyncio.to_thread(stage)


# ---- edits ---------------------------------------------------------------------------------------------
@router.post("/v1/audio/edits", tags=["audio"], response_class=Response,
             summary="Edit an uploaded recording: emotion, style, speed, sound tags, denoise, silence removal")
async def edit_audio(
    request: Request,
    file: UploadFile = File(..., description="the recording to edit"),
    edit_type: str = Form(..., description="emotion | style | speed | paralinguistic | denoise | vad"),
    edit_info: Optional[str] = Form(None, description="the option: happy, whisper, faster, … (list: "
                                                      "`stepaudio list-edits`)"),
    text: Optional[str] = Form(None, description="transcript of the recording (default: transcribe it); "
                                                 "paralinguistic: the transcript with sound tags"),
    iterations: int = Form(1, ge=1, le=10),
    seed: Optional[int] = Form(None),
    candidates: int = Form(1, ge=1, le=8),
    check: bool = Form(False),
    model: str = Form(MODEL_ID),
    response_format: str = Form("wav"),
    keep_alive: Optional[float] = Form(None),
) -> Response:
    config = request.app.state.config
    fmt = audio.check_response_format(response_format)
    kind = edit_type.lower()
    if kind not in EDIT_TYPES or kind == "clone":
        raise bad_request(f"unknown edit_type '{edit_type}'", "edit_type",
                          "edit types: " + ", ".join(t for t in EDIT_TYPES if t != "clone"))
    if kind == "paralinguistic" and not text:
        raise bad_request("paralinguistic edits need text: the transcript with sound tags", "text",
                          "e.g. 'Well [Laughter] that was fun'")
    extra = ExtraParams(edit_type=kind, edit_info=edit_info, iterations=iterations)
    step = reference_edit(kind, extra, text or "")
    plan = SpeechPlan([step], variant_of(model))
    opts = RunOptions(seed, candidates, check, keep_alive, format=fmt)
    async with upload_slot(request):
        with scratch_folder(request) as folder:
            path = await _staged(file, folder, "input", "file", config.limits.max_audio_s)
            # paralinguistic: `text` is the target with tags; the transcript is found by the ASR
            ref = Reference(str(path), None if kind == "paralinguistic" else text)
            result = await unless_disconnected(request, last_result(run_plan(request.app.state.client, plan, ref,
                                                                       text or "", folder, opts)))
            data = await asyncio.to_thread(Path(result.output).read_bytes)
    return Response(data, media_type=audio.media_type(fmt), headers=result_headers(result, plan))


# ---- transcriptions ------------------------------------------------------------------------------------
TRANSCRIPT_FORMATS = ("json", "text", "verbose_json")


@router.post("/v1/audio/transcriptions", tags=["audio"],
             summary="What a recording says (the Paraformer ASR in the tokenizer folder; OpenAI-compatible)")
async def transcribe(
    request: Request,
    file: UploadFile = File(..., description="the recording"),
    model: str = Form(ASR_MODEL_ID, description="any value: the bundled ASR answers (whisper-1 is accepted)"),
    response_format: str = Form("json", description="json | text | verbose_json"),
    language: Optional[str] = Form(None, description="accepted for compatibility; the ASR detects it"),
    prompt: Optional[str] = Form(None, description="accepted for compatibility; not used"),
):
    if response_format not in TRANSCRIPT_FORMATS:
        raise bad_request(f"response_format {response_format} is not available", "response_format",
                          "formats: " + ", ".join(TRANSCRIPT_FORMATS))
    variant = variant_of(model) if model not in (ASR_MODEL_ID, "whisper-1") and not model.startswith(
        ("whisper", "gpt-")) else ""
    async with upload_slot(request):
        with scratch_folder(request) as folder:
            path = await _staged(file, folder, "audio", "file", request.app.state.config.limits.max_audio_s)
            job = pb.JobRequest(transcribe=pb.TranscribeJob(audio=str(path)), variant=variant)
            result = await unless_disconnected(request, request.app.state.client.run(job))
    text = result.report.get("transcript", "")
    if response_format == "text":
        return PlainTextResponse(text + "\n")
    if response_format == "json":
        return {"text": text}
    return {"task": "transcribe", "language": language or "", "duration": round(result.duration_s, 3), "text": text,
            "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": round(result.duration_s, 3), "text": text}]}


# ---- saved voices --------------------------------------------------------------------------------------
def _voice_json(v: dict) -> dict:
    return {"id": v["name"], "object": "voice", "name": v["name"], "ref_text": v["text"], "added": v["added"]}


@router.get("/v1/audio/voices", tags=["voices"], summary="Saved voices (the same as `stepaudio voices list`)")
async def list_voices(request: Request) -> dict:
    voices = voice_store.list_voices(request.app.state.config.paths)
    return {"object": "list", "data": [_voice_json(v) for v in voices]}


@router.post("/v1/audio/voices", tags=["voices"], status_code=201,
             summary="Save a voice: a reference recording and its transcript under a name")
async def add_voice(
    request: Request,
    audio_sample: UploadFile = File(..., description="the reference recording (3-10 s of clear speech is best)"),
    name: str = Form(..., description="letters, digits, '.', '_' or '-' (at most 64)"),
    ref_text: Optional[str] = Form(None, description="what the recording says (default: transcribe it)"),
    overwrite: bool = Form(False, description="replace a voice of the same name"),
    consent: Optional[str] = Form(None, description="accepted for OpenAI compatibility; not stored"),
) -> dict:
    paths = request.app.state.config.paths
    voice_store.voice_dir(paths, name)  # a bad name fails before the upload is looked at
    if (paths.voices_dir / name).exists() and not overwrite:
        raise ApiError.of(Reason.OUTPUT_EXISTS, f"a voice named '{name}' exists", "name",
                          "send overwrite=true to replace it")
    async with upload_slot(request):
        with scratch_folder(request) as folder:
            path = await _staged(audio_sample, folder, "reference", "audio_sample",
                                 request.app.state.config.limits.max_audio_s)
            text = (ref_text or "").strip()
            if not text:
                job = pb.JobRequest(transcribe=pb.TranscribeJob(audio=str(path)))
                result = await unless_disconnected(request, request.app.state.client.run(job))
                text = result.report.get("transcript", "").strip()
                if not text:
                    raise bad_request("the ASR heard no words in audio_sample", "ref_text",
                                      "send ref_text with what the recording says")
            saved = await asyncio.to_thread(voice_store.add_voice, paths, name, path, text, overwrite, "http upload")
    return _voice_json(saved)


@router.delete("/v1/audio/voices/{name}", tags=["voices"], summary="Delete a saved voice")
async def delete_voice(name: str, request: Request) -> dict:
    voice_store.remove_voice(request.app.state.config.paths, name)
    return {"id": name, "object": "voice", "deleted": True}
