"""`POST /v1/audio/speech`: OpenAI's request body plus our fields, and how a request becomes daemon jobs.

A request is planned first (pure, no I/O: every 400 is found before any upload is staged):
the main step is a clone of `input` in the reference voice, or — with extra_params.edit_type — an
edit of the reference recording; `instructions` that name an emotion or style, and a `speed` other
than 1.0, add edit passes on the result. Each step is one daemon job; the next edits the last output.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

from stepaudio_protos import edits
from stepaudio_protos.errors import Reason
from stepaudio_protos.facts import MAX_CANDIDATES, MAX_ITERATIONS, VARIANTS
from stepaudio_serve.errors import bad_request

EDIT_TYPES = ("clone", *edits.EDIT_TYPES)
# everyday words for an emotion or style, for `instructions` ("speak happily", "whispering")
ALIASES = {
    "happily": "happy", "cheerful": "happy", "cheerfully": "happy", "joyful": "happy", "angrily": "angry",
    "sadly": "sad", "excitedly": "excited", "surprise": "surprised", "fearful": "fear", "afraid": "fear",
    "scared": "fear", "confused": "confusion", "humorous": "humour", "humor": "humour", "funny": "humour",
    "cold": "coldness", "coldly": "coldness", "disgust": "disgusted", "embarrassed": "embarrass",
    "empathetic": "empathy", "depressing": "depressed", "whispering": "whisper", "whispered": "whisper",
    "shouting": "shout", "murmuring": "murmur", "gently": "gentle", "warmly": "warm", "seriously": "serious",
    "shyly": "shy", "sweetly": "sweet", "loud": "loudly", "childlike": "child", "old": "older",
    "narrate": "story", "narration": "story", "storytelling": "story", "newsreader": "news",
    "reciting": "recite", "roaring": "roar", "exaggerate": "exaggerated", "coy": "act_coy",
}


class VoiceId(BaseModel):
    id: str


class ExtraParams(BaseModel):
    """Our fields beyond OpenAI's (as vllm-omni's Step-Audio-EditX server names them)."""

    model_config = ConfigDict(extra="forbid")
    edit_type: Optional[str] = Field(default=None, description="clone (default) | emotion | style | speed | "
                                                               "paralinguistic | denoise | vad: edit the reference "
                                                               "recording instead")
    edit_info: Optional[str] = Field(default=None, description="the edit's option, e.g. happy, whisper, faster")
    iterations: int = Field(default=1, ge=1, le=MAX_ITERATIONS, description="edit passes, each on the last output")
    seed: Optional[int] = Field(default=None, ge=-(2 ** 63), le=2 ** 63 - 1, description="seed for reproducible output")
    candidates: int = Field(default=1, ge=1, le=MAX_CANDIDATES,
                            description="generate N with different seeds, keep the best")
    check: bool = Field(default=False, description="transcribe the result and score it (in X-Stepaudio-Report)")
    variant: Optional[str] = Field(default=None, description=f"{' | '.join(VARIANTS)} (default: from `model`)")


class SpeechRequest(BaseModel):
    model: str = Field(default="step-audio-editx", description="step-audio-editx (the daemon's default variant) or a "
                                                       f"variant name: {', '.join(VARIANTS)}")
    input: str = Field(..., description="the text to speak")
    voice: Union[str, VoiceId, None] = Field(default=None, description="a saved voice (GET /v1/audio/voices), by name "
                                                               "or {\"id\": name}; ref_audio wins when given")
    instructions: Optional[str] = Field(default=None, max_length=4096,
                                        description="an emotion or style to speak in, e.g. 'happy' or 'whisper'")
    response_format: str = Field(default="mp3", description="mp3 | opus | flac | wav | pcm (24 kHz s16le); aac: 400")
    speed: float = Field(default=1.0, ge=0.25, le=4.0, description="1.0 = as generated; other values map to the "
                                                           "model's speed edits (X-Stepaudio-Edits says which)")
    stream_format: Literal["audio", "sse"] = Field(default="audio", description="audio: bytes as they are ready; "
                                                                        "sse: speech.audio.delta/done events")
    ref_audio: Optional[str] = Field(default=None, description="reference recording: base64 or a data: URL")
    ref_text: Optional[str] = Field(default=None, description="transcript of ref_audio (default: transcribe it)")
    keep_alive: Optional[float] = Field(default=None, description="seconds to keep the model loaded after this request")
    extra_params: ExtraParams = Field(default_factory=ExtraParams)


@dataclass
class Step:
    """One daemon job: the clone, or an edit of the previous output (or of the reference)."""

    kind: str                    # clone | edit
    edit_type: str = ""
    edit_info: str = ""
    text: str = ""               # clone: what to say; paralinguistic: target text with tags
    on_reference: bool = False   # edit the reference itself (extra_params.edit_type)
    iterations: int = 1


@dataclass
class SpeechPlan:
    steps: list[Step]
    variant: str
    applied: list[str] = field(default_factory=list)  # e.g. ["instructions=happy→emotion happy"]


def plan_speech(body: SpeechRequest, variant: str, max_input_chars: int) -> SpeechPlan:
    if not body.input.strip():
        raise bad_request("input is empty", "input", "give the text to speak")
    if len(body.input) > max_input_chars:
        raise bad_request(f"input is {len(body.input)} characters; the limit is {max_input_chars}", "input",
                          "split the text over several requests, or raise http_max_input_chars", Reason.TOO_LARGE)
    if body.ref_audio is None and body.ref_text is not None and _voice_name(body) is not None:
        raise bad_request("ref_text goes with ref_audio; a saved voice keeps its own transcript", "ref_text",
                          "drop ref_text, or send ref_audio too")
    extra = body.extra_params
    plan = SpeechPlan([], extra.variant or variant)
    edit_type = (extra.edit_type or "clone").lower()
    if edit_type not in EDIT_TYPES:
        raise bad_request(f"unknown extra_params.edit_type '{extra.edit_type}'", "extra_params.edit_type",
                          "edit types: " + ", ".join(EDIT_TYPES))
    if edit_type == "clone":
        plan.steps.append(Step("clone", text=body.input))
    else:
        plan.steps.append(reference_edit(edit_type, extra, body.input))
    for edit_type_, option in _instruction_edits(body.instructions):
        plan.steps.append(Step("edit", edit_type_, option))
        plan.applied.append(f"instructions -> {edit_type_} {option}")
    speed = speed_edit(body.speed)
    if speed:
        plan.steps.append(Step("edit", "speed", speed))
        plan.applied.append(f"speed {body.speed:g} -> {speed}")
    return plan


def _voice_name(body: SpeechRequest) -> Optional[str]:
    return body.voice.id if isinstance(body.voice, VoiceId) else body.voice


def reference_edit(edit_type: str, extra: ExtraParams, text: str) -> Step:
    option = (extra.edit_info or "").strip()
    if edit_type in ("emotion", "style", "speed"):
        problem = edits.check_option(edit_type, option) if option else f"extra_params.edit_info is required " \
                                                                        f"for edit_type {edit_type}"
        if problem:
            raise bad_request(problem, "extra_params.edit_info",
                              f"{edit_type} options: {', '.join(edits.EDIT_TYPES[edit_type])}")
        return Step("edit", edit_type, option, on_reference=True, iterations=extra.iterations)
    if edit_type == "paralinguistic":
        problem = edits.check_paralinguistic(text)
        if problem:
            raise bad_request(problem, "input", "for paralinguistic edits, input is the transcript with sound tags")
        return Step("edit", edit_type, "", text=text, on_reference=True, iterations=extra.iterations)
    return Step("edit", edit_type, "", on_reference=True, iterations=extra.iterations)  # denoise, vad


def _instruction_edits(instructions: Optional[str]) -> list[tuple[str, str]]:
    """(edit type, option) for each emotion and style `instructions` names (at most one of each);
    instructions that name none are refused with the list of what works."""
    if instructions is None or not instructions.strip():
        return []
    found: dict[str, str] = {}
    for word in re.findall(r"[a-z_]+", instructions.lower()):
        word = ALIASES.get(word, word)
        for kind, options in (("emotion", edits.EMOTIONS), ("style", edits.STYLES)):
            if word in options and word != "remove":
                if kind in found and found[kind] != word:
                    raise bad_request(f"instructions name two {kind}s ({found[kind]}, {word}); one is possible",
                                      "instructions", f"keep one {kind}")
                found.setdefault(kind, word)
    if not found:
        raise bad_request("instructions name no emotion or style this model can do", "instructions",
                          f"emotions: {', '.join(e for e in edits.EMOTIONS if e != 'remove')}; "
                          f"styles: {', '.join(s for s in edits.STYLES if s != 'remove')}")
    return [(kind, found[kind]) for kind in ("emotion", "style") if kind in found]


def speed_edit(speed: float) -> str:
    """OpenAI's speed factor → the model's speed edits, which change speed by an amount the model picks:
    1.0 none; above 1: faster (< 1.5) or more faster; below 1: slower (> 0.67) or more slower."""
    if speed == 1.0:
        return ""
    if speed > 1.0:
        return "faster" if speed < 1.5 else "more faster"
    return "slower" if speed > 0.67 else "more slower"


def require_reference(body: SpeechRequest) -> Optional[str]:
    """The saved voice to use (None: ref_audio is given). OpenAI clients always send a voice, so
    ref_audio wins over it."""
    if body.ref_audio is not None:
        return None
    name = _voice_name(body)
    if not name:
        raise bad_request("give a voice (a saved voice's name) or ref_audio (the reference recording)", "voice",
                          "list voices with GET /v1/audio/voices")
    return name
