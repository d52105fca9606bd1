"""The OpenAI Python SDK as a real client of `stepaudio serve`, through the real daemon and worker on the
tiny model: saved voices, speech (plain, streamed SSE, with instructions), edits and transcriptions."""
from __future__ import annotations

import io
import json

import soundfile as sf
from openai import OpenAI

from sa_helpers import write_wav


def test_openai_sdk_voices_speech_sse_edits_transcriptions(served):
    ref = write_wav(served.inst.work / "ref.wav", seconds=1.0)
    client = OpenAI(base_url=served.url + "/v1", api_key="unused", max_retries=0, timeout=600)
    with served.client() as http:
        saved = http.post("/v1/audio/voices", data={"name": "alice", "ref_text": "a reference"},
                          files={"audio_sample": ("ref.wav", ref.read_bytes(), "audio/wav")})
        assert saved.status_code == 201, saved.text
    # the CLI sees the voice the HTTP API saved: one store
    assert json.loads(served.inst.run("voices", "list", "--json").stdout)[0]["name"] == "alice"

    speech = client.audio.speech.create(model="step-audio-editx", voice="alice", input="hello world",
                                        extra_body={"extra_params": {"seed": 7}})
    samples, rate = sf.read(io.BytesIO(speech.content))  # mp3 by default, as OpenAI
    assert rate == 24000 and len(samples) > 0
    assert speech.response.headers["content-type"] == "audio/mpeg"
    assert speech.response.headers["x-stepaudio-seed"] == "7"

    # instructions that name an emotion: a clone, then an emotion edit of it (two daemon jobs), whose
    # audio streams as the daemon makes it (pcm: AudioChunk events from the real engine)
    with client.audio.speech.with_streaming_response.create(
            model="base", voice={"id": "alice"}, input="hello world", instructions="Say it happily.",
            response_format="pcm", stream_format="sse") as streamed:
        assert streamed.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[len("data: "):]) for line in streamed.iter_lines() if line.startswith("data: ")]
        assert json.loads(streamed.headers["x-stepaudio-edits"]) == ["instructions -> emotion happy"]
    assert [e["type"] for e in events][-1] == "speech.audio.done" and len(events) >= 2
    assert events[-1]["usage"]["input_tokens"] == len("hello world")
    import base64

    pcm = b"".join(base64.b64decode(e["audio"]) for e in events if e["type"] == "speech.audio.delta")
    assert len(pcm) > 0 and len(pcm) % 2 == 0  # 24 kHz s16le samples

    with (served.inst.work / "ref.wav").open("rb") as fh:
        text = client.audio.transcriptions.create(model="whisper-1", file=fh)
    assert isinstance(text.text, str)  # the tiny ASR's words are noise; the shape is OpenAI's

    with served.client() as http:
        edited = http.post("/v1/audio/edits", data={"edit_type": "style", "edit_info": "whisper",
                                                     "text": "a reference", "response_format": "flac"},
                           files={"file": ("in.wav", ref.read_bytes(), "audio/wav")})
        assert edited.status_code == 200, edited.text
        assert sf.info(io.BytesIO(edited.content)).format == "FLAC"
        assert http.delete("/v1/audio/voices/alice").json()["deleted"] is True
        assert http.get("/v1/audio/voices").json()["data"] == []
    assert served.inst.variant()["jobs_served"] == 5  # clone, clone+edit, transcribe, edit
