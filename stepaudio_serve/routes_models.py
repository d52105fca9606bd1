"""Health, models, status, load and unload (`/healthz`, `/v1/models`, `/api/v1/models/...`)."""
from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from stepaudio_protos import __version__
from stepaudio_protos.settings import VARIANTS
from stepaudio_serve.disconnect import unless_disconnected
from stepaudio_protos.errors import Reason
from stepaudio_serve.errors import ApiError

router = APIRouter()

MODEL_ID = "step-audio-editx"          # the model name OpenAI clients send; a variant name also works
ASR_MODEL_ID = "paraformer"            # the ASR that ships in the tokenizer folder (transcriptions)


def client_of(request: Request):
    return request.app.state.client


# OpenAI's speech model names, which clients such as Open WebUI send by default: they mean "the default
# variant" here, as other OpenAI-compatible TTS servers (Kokoro-FastAPI, speaches) accept them too.
OPENAI_ALIASES = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")


def variant_of(name: str) -> str:
    """A model id, an OpenAI alias or a variant name → the variant ("" = the daemon's default)."""
    if name in ("", MODEL_ID, *OPENAI_ALIASES):
        return ""
    for variant in VARIANTS:
        if name in (variant, f"{MODEL_ID}-{variant}"):
            return variant
    raise ApiError.of(Reason.UNKNOWN_VARIANT, f"unknown model '{name}'", "model",
                   f"models: {MODEL_ID} (the daemon's default variant), " + ", ".join(VARIANTS))


@router.get("/healthz", tags=["server"], summary="Liveness of the HTTP server (no API key needed)")
async def healthz() -> dict:
    return {"status": "ok", "version": __version__}


@router.get("/v1/models", tags=["models"], summary="Models (OpenAI-compatible list)")
async def list_models() -> dict:
    ids = [MODEL_ID, *VARIANTS, ASR_MODEL_ID]
    return {"object": "list",
            "data": [{"id": i, "object": "model", "created": 0, "owned_by": "stepaudio"} for i in ids]}


@router.get("/api/v1/models/status", tags=["models"],
            summary="What the daemon has loaded, its queue, cache and settings (as `stepaudio status --json`)")
async def models_status(request: Request) -> dict:
    from stepaudio_cli.messages import message_dict

    return message_dict(await client_of(request).status())


class LoadBody(BaseModel):
    keep_alive: Optional[float] = Field(default=None, description="seconds to keep it loaded when idle "
                                                          "(0 = unload when idle, negative = until unloaded)")


@router.post("/api/v1/models/{variant}/load", tags=["models"],
             summary="Load a variant now (idempotent: a loaded variant answers at once)")
async def load(variant: str, request: Request, body: Optional[LoadBody] = None) -> dict:
    name = variant_of(variant)
    keep = body.keep_alive if body is not None else None
    result = await unless_disconnected(request, client_of(request).load(name, keep).wait())
    chosen = result.options.get("variant") or name or "default"
    return {"variant": chosen, "loaded": True, "load_time_s": round(result.timings.get("load", 0.0), 3)}


@router.post("/api/v1/models/{variant}/unload", tags=["models"],
             summary="Unload a variant (idempotent: one that is not loaded answers 200 and says so)")
async def unload(variant: str, request: Request, to_cpu: bool = False) -> dict:
    return await _unload(request, variant_of(variant), False, to_cpu)


@router.post("/api/v1/models/unload", tags=["models"], summary="Unload every variant")
async def unload_all(request: Request, to_cpu: bool = False) -> dict:
    return await _unload(request, "", True, to_cpu)


async def _unload(request: Request, variant: str, all_: bool, to_cpu: bool) -> dict:
    reply = await client_of(request).unload(variant, all_, to_cpu)
    out: dict[str, object] = {"unloaded": list(reply.unloaded), "offloaded": list(reply.offloaded),
                              "deferred": list(reply.deferred)}
    if not any(out.values()):
        out["message"] = "nothing was loaded" if all_ else f"{variant or 'the default variant'} was not loaded"
    elif reply.deferred:
        out["message"] = f"busy: {', '.join(reply.deferred)} will be unloaded when the running job ends"
    return out
