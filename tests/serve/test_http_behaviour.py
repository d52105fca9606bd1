"""`stepaudio serve` behaviour through the real daemon and worker with the fake engine: every response
format read back, errors as raw HTTP in OpenAI's shape, limits, a client that disconnects mid-job,
32 concurrent SDK clients, a full queue (429 + Retry-After)."""
from __future__ import annotations

import base64
import concurrent.futures
import io
import json
import socket
import time

import httpx
import pytest
import soundfile as sf
from openai import OpenAI

from sa_helpers import wait_for, write_wav

FORMATS = {"mp3": "MP3", "opus": "OGG", "flac": "FLAC", "wav": "WAV"}


def _ref_b64(inst) -> str:
    return base64.b64encode(write_wav(inst.work / "ref.wav", seconds=1.0).read_bytes()).decode()


def _speech(text: str = "hello", **extra) -> dict:
    return {"model": "step-audio-editx", "input": text, "voice": "alloy", **extra}


def test_every_response_format_reads_back(fake_served):
    ref = _ref_b64(fake_served.inst)
    with fake_served.client() as http:
        for fmt, container in FORMATS.items():
            reply = http.post("/v1/audio/speech", json=_speech(ref_audio=ref, ref_text="a ref", response_format=fmt))
            assert reply.status_code == 200, reply.text
            info = sf.info(io.BytesIO(reply.content))
            assert (info.format, info.samplerate, info.channels) == (container, 24000, 1), fmt
            assert info.frames > 0
        pcm = http.post("/v1/audio/speech", json=_speech(ref_audio="data:audio/wav;base64," + ref, ref_text="a",
                                                         response_format="pcm"))
        assert pcm.status_code == 200 and pcm.headers["content-type"] == "audio/pcm"
        seconds = 0.25 + 0.01 * len("hello")  # what the fake engine makes of this text
        assert len(pcm.content) == int(seconds * 24000) * 2  # 24 kHz s16le, no header


@pytest.mark.parametrize("body, status, code, param", [
    (_speech(), 404, "UNKNOWN_VOICE", "voice"),
    (_speech(voice=None), 400, "BAD_INPUT", "voice"),
    (_speech(response_format="aac"), 400, "UNSUPPORTED", "response_format"),
    (_speech(response_format="ogg"), 400, "BAD_INPUT", "response_format"),
    (_speech(instructions="sound like a pirate"), 400, "BAD_INPUT", "instructions"),
    (_speech(speed=5), 400, "BAD_INPUT", "speed"),
    (_speech(""), 400, "BAD_INPUT", "input"),
    (_speech("x" * 5000), 413, "TOO_LARGE", "input"),
    (_speech(ref_audio="https://example.com/a.wav"), 400, "BAD_INPUT", "ref_audio"),
    (_speech(ref_audio="/etc/passwd"), 400, "BAD_INPUT", "ref_audio"),
    (_speech(ref_audio="not base64!"), 400, "BAD_INPUT", "ref_audio"),
    (_speech(ref_audio=base64.b64encode(b"plain text, not audio").decode()), 400, "BAD_INPUT", "ref_audio"),
    (_speech(model="gpt-4o-transcribe"), 404, "UNKNOWN_VARIANT", "model"),
    (_speech(extra_params={"edit_type": "emotion", "edit_info": "hapy"}), 400, "BAD_INPUT", "extra_params.edit_info"),
    (_speech(extra_params={"unknown": 1}), 400, "BAD_INPUT", "extra_params.unknown"),
    ({"voice": "alloy"}, 400, "BAD_INPUT", "input"),
])
def test_bad_speech_requests_are_openai_shaped_errors(fake_served, body, status, code, param):
    with fake_served.client() as http:
        reply = http.post("/v1/audio/speech", json=body)
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert (error["code"], error["param"]) == (code, param)
    assert error["message"] and "Traceback" not in reply.text


def test_unknown_voice_says_how_to_add_one_and_job_failures_map_to_status(fake_served):
    with fake_served.client() as http:
        missing = http.post("/v1/audio/speech", json=_speech())
        assert "POST /v1/audio/voices" in missing.json()["error"]["message"]
        bad_json = http.post("/v1/audio/speech", content=b"{not json", headers={"content-type": "application/json"})
        assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["error"]["message"]
        ref = _ref_b64(fake_served.inst)
        failed = http.post("/v1/audio/speech", json=_speech("[[fail]]", ref_audio=ref, ref_text="a"))
        assert failed.status_code == 400 and failed.json()["error"]["code"] == "BAD_INPUT"
        bug = http.post("/v1/audio/speech", json=_speech("[[bug]]", ref_audio=ref, ref_text="a"))
        assert bug.status_code == 500 and bug.json()["error"]["code"] == "INTERNAL"
        assert http.get("/healthz").status_code == 200  # the server and daemon go on


def test_oversize_body_is_413_before_it_is_read(fake_served):  # http_max_body_mb is 2 here
    with fake_served.client() as http:
        big = http.post("/v1/audio/speech", content=b"x" * (3 * 1024 * 1024),
                        headers={"content-type": "application/json"})
        assert big.status_code == 413 and big.json()["error"]["code"] == "TOO_LARGE"

        def chunks():  # no Content-Length: counted while it streams in
            for _ in range(3):
                yield b"y" * (1024 * 1024)

        streamed = http.post("/v1/audio/speech", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413


def test_client_disconnect_cancels_its_job(fake_served):
    inst = fake_served.inst
    body = json.dumps(_speech("[[slow]] ten slow steps", ref_audio=_ref_b64(inst), ref_text="a")).encode()
    sock = socket.create_connection(("127.0.0.1", fake_served.port))
    sock.sendall(b"POST /v1/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    wait_for(lambda: inst.variant()["running_job"], timeout=60, what="the job to run")
    served_before = inst.variant()["jobs_served"]
    sock.close()  # the client goes away mid-job (the job needs 5 s)
    started = time.monotonic()
    wait_for(lambda: not inst.variant()["running_job"], timeout=30, what="the job to be cancelled")
    assert time.monotonic() - started < 4.5  # stopped between steps, not run to its end
    assert inst.variant()["jobs_served"] == served_before  # it did not complete
    log = (inst.home / "state" / "logs" / "stepaudiod.log").read_text()
    assert "disconnected; cancelling it" in log
    assert not list((inst.home / "run").glob("io-*"))  # the request's scratch folder is gone


def test_32_concurrent_sdk_clients(fake_served):
    with fake_served.client() as http:
        saved = http.post("/v1/audio/voices", data={"name": "bob", "ref_text": "a ref", "overwrite": "true"},
                          files={"audio_sample": ("r.wav", write_wav(fake_served.inst.work / "r.wav").read_bytes())})
        assert saved.status_code == 201, saved.text

    def one(i: int) -> tuple[int, int]:
        client = OpenAI(base_url=fake_served.url + "/v1", api_key="x", max_retries=0, timeout=120)
        reply = client.audio.speech.create(model="step-audio-editx", voice="bob", input=f"client {i}",
                                           response_format="wav")
        return i, sf.info(io.BytesIO(reply.content)).frames

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        results = list(pool.map(one, range(32)))
    assert len(results) == 32 and all(frames > 0 for _, frames in results)
    # each answer is its own job's: the fake engine's length grows with the text
    assert {frames for _, frames in results if _ < 10} != {frames for _, frames in results if _ >= 10}


def test_too_many_uploads_at_once_is_429_with_retry_after(fake_served):
    """At most http_max_uploads (4 here) requests carrying audio are handled at once; the rest get 429 at once."""
    inst = fake_served.inst
    body = _speech("[[slow]]", ref_audio=_ref_b64(inst), ref_text="a")

    def post(_: int):
        try:
            return httpx.post(fake_served.url + "/v1/audio/speech", json=body, timeout=4)
        except httpx.TimeoutException:
            return None  # still waiting: its disconnect cancels the job

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(post, range(8)))
    busy = [r for r in replies if r is not None and r.status_code == 429]
    assert len(busy) == 4, [r.status_code if r else "timeout" for r in replies]
    assert all(int(r.headers["retry-after"]) > 0 and r.json()["error"]["code"] == "BUSY" for r in busy)
    wait_for(lambda: not inst.variant()["running_job"] and not inst.status()["queue"], timeout=60,
             what="the abandoned jobs to be cancelled")


def test_pcm_streams_as_the_daemon_makes_it(fake_served):
    """pcm comes as the job's AudioChunk events (two pieces from the fake engine), raw or as SSE deltas."""
    ref = _ref_b64(fake_served.inst)
    with fake_served.client() as http:
        with http.stream("POST", "/v1/audio/speech", json=_speech(ref_audio=ref, ref_text="a",
                                                                  response_format="pcm")) as reply:
            assert reply.status_code == 200 and reply.headers["content-type"] == "audio/pcm"
            assert "content-length" not in reply.headers  # streamed, not sent as one finished file
            raw = b"".join(reply.iter_bytes())
        with http.stream("POST", "/v1/audio/speech", json=_speech(ref_audio=ref, ref_text="a", response_format="pcm",
                                                                  stream_format="sse")) as reply:
            events = [json.loads(line[6:]) for line in reply.iter_lines() if line.startswith("data: ")]
    deltas = [base64.b64decode(e["audio"]) for e in events if e["type"] == "speech.audio.delta"]
    assert len(deltas) == 2 and events[-1]["type"] == "speech.audio.done"
    assert b"".join(deltas) == raw and len(raw) == int((0.25 + 0.01 * len("hello")) * 24000) * 2


def test_full_daemon_queue_is_429_with_retry_after():
    """The daemon's own BUSY (queue_size 1: one job runs, one waits, the third is refused) → 429."""
    from sa_helpers import StepAudio, cleanup, short_tmp
    from serve.http_helpers import HttpServer

    root = short_tmp()
    inst = StepAudio(root, queue_size=1)
    server = HttpServer(inst)
    try:
        with server.client() as http:
            saved = http.post("/v1/audio/voices", data={"name": "q", "ref_text": "a"},
                              files={"audio_sample": ("r.wav", write_wav(inst.work / "r.wav").read_bytes())})
            assert saved.status_code == 201, saved.text
        body = _speech("[[slow]]", voice="q")

        def post(_: int):
            try:
                return httpx.post(server.url + "/v1/audio/speech", json=body, timeout=4)
            except httpx.TimeoutException:
                return None  # running or queued: its disconnect cancels it

        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            replies = list(pool.map(post, range(3)))
        busy = [r for r in replies if r is not None]
        assert len(busy) == 1 and busy[0].status_code == 429, [r.status_code if r else "timeout" for r in replies]
        assert busy[0].json()["error"]["code"] == "BUSY" and int(busy[0].headers["retry-after"]) > 0
    finally:
        server.stop()
        inst.shutdown()
        cleanup(root)
