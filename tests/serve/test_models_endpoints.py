"""Health, models, status, load and unload through `stepaudio serve`, the real daemon and a worker (fake engine)."""
from __future__ import annotations


def test_health_models_status_load_unload(fake_served):
    served = fake_served
    with served.client() as http:
        assert http.get("/healthz").json()["status"] == "ok"
        ids = [m["id"] for m in http.get("/v1/models").json()["data"]]
        assert "step-audio-editx" in ids and "base" in ids

        # unloading what is not loaded is fine and says so
        first = http.post("/api/v1/models/base/unload")
        assert first.status_code == 200 and first.json()["message"] == "base was not loaded"

        loaded = http.post("/api/v1/models/base/load", json={"keep_alive": -1})
        assert loaded.status_code == 200, loaded.text
        assert loaded.json()["variant"] == "base"
        again = http.post("/api/v1/models/step-audio-editx/load")  # idempotent; the model id = default
        assert again.status_code == 200 and again.json()["variant"] == "base"

        status = http.get("/api/v1/models/status").json()
        base = next(v for v in status["variants"] if v["variant"] == "base")
        assert base["tier"] == "loaded" and base["worker_pid"] > 0
        assert served.inst.variant()["tier"] == "loaded"  # the CLI sees the same daemon and model

        done = http.post("/api/v1/models/unload")
        assert done.status_code == 200 and done.json()["unloaded"] == ["base"]
        assert served.inst.variant()["tier"] == "unloaded"


def test_unknown_variant_and_path_are_openai_shaped_errors(fake_served):
    served = fake_served
    with served.client() as http:
        for path, status, code in (("/api/v1/models/huge/load", 404, "UNKNOWN_VARIANT"),
                                   ("/api/v1/models/huge/unload", 404, "UNKNOWN_VARIANT"),
                                   ("/v1/nothing-here", 404, "NOT_FOUND")):
            reply = http.post(path)
            assert reply.status_code == status, reply.text
            error = reply.json()["error"]
            assert error["code"] == code and error["message"] and set(error) == {"message", "type", "param", "code"}
        for alias in ("tts-1", "tts-1-hd", "gpt-4o-mini-tts"):  # OpenAI's names mean the default variant
            reply = http.post(f"/api/v1/models/{alias}/unload")
            assert reply.status_code == 200 and "default variant" in reply.json()["message"], reply.text
        assert http.get("/docs").status_code == 200 and "openapi" in http.get("/openapi.json").text


def test_a_daemon_that_went_away_is_started_again(fake_served):
    with fake_served.client() as http:
        before = http.get("/api/v1/models/status").json()["pid"]
        assert fake_served.inst.run("daemon", "stop").returncode == 0
        after = http.get("/api/v1/models/status")  # the server finds no daemon, starts one, re-reads its token
        assert after.status_code == 200, after.text
        assert after.json()["pid"] != before


def test_no_daemon_and_no_autostart_is_503(sa):
    from serve.http_helpers import HttpServer

    server = HttpServer(sa, global_args=("--no-autostart",))
    try:
        reply = server.client().get("/api/v1/models/status")
        assert reply.status_code == 503 and reply.headers["retry-after"]
        assert reply.json()["error"]["code"] == "UNAVAILABLE"
        assert server.client().get("/healthz").status_code == 200  # the server itself is fine
    finally:
        server.stop()
