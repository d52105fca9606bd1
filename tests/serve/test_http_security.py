"""API key (constant-time Bearer check on every endpoint but /healthz) and CORS (off unless origins are listed)."""
from __future__ import annotations

import httpx
import pytest
from openai import AuthenticationError, OpenAI


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-key"},
                                     {"Authorization": "Bearer s3cret-ke"}])
def test_every_endpoint_but_healthz_needs_the_key(keyed_served, headers):
    url = keyed_served.url
    assert httpx.get(url + "/healthz", headers=headers).status_code == 200
    for method, path in (("GET", "/v1/models"), ("GET", "/docs"), ("GET", "/openapi.json"),
                         ("GET", "/api/v1/models/status"), ("POST", "/api/v1/models/unload"),
                         ("POST", "/v1/audio/speech"), ("GET", "/v1/audio/voices"),
                         ("DELETE", "/v1/audio/voices/x"), ("GET", "/nothing")):
        reply = httpx.request(method, url + path, headers=headers)
        assert reply.status_code == 401, (method, path)
        assert reply.json()["error"]["type"] == "authentication_error"
        assert reply.headers["www-authenticate"] == "Bearer"


def test_right_key_works_and_the_sdk_reports_a_wrong_one(keyed_served):
    with keyed_served.client() as http:
        assert http.get("/v1/models").status_code == 200
    wrong = OpenAI(base_url=keyed_served.url + "/v1", api_key="nope", max_retries=0)
    with pytest.raises(AuthenticationError):
        wrong.models.list()
    right = OpenAI(base_url=keyed_served.url + "/v1", api_key="s3cret-key", max_retries=0)
    assert "step-audio-editx" in [m.id for m in right.models.list()]


def test_cors_only_for_listed_origins(keyed_served, fake_served):
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "authorization,content-type"}
    allowed = httpx.options(keyed_served.url + "/v1/audio/speech", headers=preflight)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    other = httpx.options(keyed_served.url + "/v1/audio/speech",
                          headers={**preflight, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    # no origins listed (the default): no CORS headers at all
    plain = httpx.get(fake_served.url + "/v1/models", headers={"Origin": "https://app.example"})
    assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers
