"""The web UI in a real headless browser (Debian's Chromium, driven by Playwright) against `stepaudio serve`
on the real daemon and worker with the tiny model: clone → listen → save voice → edit → history → voices →
models → unload; a CLI job at the same time shares the one worker; the API key guards the UI.

Without Chromium these tests are skipped with a loud reason (`apt-get install chromium`); the UI's actions
are still tested without a browser in test_web_actions.py."""
from __future__ import annotations

import threading

import httpx
import pytest

from sa_helpers import write_wav
from serve.http_helpers import HttpServer
from web.browser import chromium_path, launch

pytest.importorskip("playwright", reason="playwright is not installed (the test extra has it)")
if not chromium_path():
    pytest.skip("NO BROWSER: the web UI's browser tests need Chromium (apt-get install chromium); "
                "they did NOT run", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402

JOB_TIMEOUT_MS = 240_000  # the first job loads the model; CI machines are slow


# In the page: the result's download link (Gradio's own file URL), fetched with the page's cookies, and
# loaded into an <audio> element until the browser knows its duration (i.e. it can play it).
PLAYABLE_JS = """async sel => {
  const link = document.querySelector(sel + ' a[data-testid="download-link"][href]');
  if (!link) return null;
  const bytes = new Uint8Array(await (await fetch(link.href)).arrayBuffer());
  const audio = new Audio(link.href);
  const duration = await new Promise(ok => {
    audio.onloadedmetadata = () => ok(audio.duration); audio.onerror = () => ok(-1); setTimeout(() => ok(-2), 20000);
  });
  return {head: String.fromCharCode(...bytes.slice(0, 4)), size: bytes.length, duration, href: link.href};
}"""


def _playable(page, selector: str) -> dict:
    """Wait for a result in the Audio component `selector`; the browser must be able to play it."""
    page.wait_for_selector(f'{selector} a[data-testid="download-link"][href]', state="attached",
                           timeout=JOB_TIMEOUT_MS)
    found = page.evaluate(PLAYABLE_JS, selector)
    assert found and found["head"] == "RIFF" and found["size"] > 44, found
    assert found["duration"] > 0, found  # -1: the browser could not decode it; -2: it never loaded
    return found


@pytest.fixture
def ui_server(real):
    server = HttpServer(real, "--ui")
    try:
        yield server
    finally:
        server.stop()


def test_clone_listen_edit_voices_models_unload(ui_server, real):
    ref = real.work / "ref.wav"
    write_wav(ref, seconds=2.0)
    cli_result: dict = {}

    def cli_clone():  # a CLI job while the UI's job runs: both must use the daemon's one worker
        cli_result["r"] = real.run(*real.clone_args("cli.wav"), timeout=300)
        cli_result["workers"] = real.worker_pids()

    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(ui_server.url + "/")
        # Clone: upload a reference, type, clone, listen
        page.locator("#clone-ref input[type=file]").first.set_input_files(str(ref))
        page.locator("#clone-ref-text textarea").fill("a reference")
        page.locator("#clone-text textarea").fill("Hello from the browser.")
        cli = threading.Thread(target=cli_clone)
        page.locator("#clone-run").click()
        cli.start()
        first = _playable(page, "#clone-out")
        expect(page.locator("#clone-info")).to_contain_text("seed", timeout=JOB_TIMEOUT_MS)
        # save the reference as a voice
        page.locator("#clone-voice-name textarea, #clone-voice-name input").first.fill("alice")
        page.locator("#clone-save-voice").click()
        expect(page.locator("#clone-saved")).to_contain_text("saved voice alice", timeout=60_000)
        cli.join(timeout=300)
        assert cli_result["r"].returncode == 0, cli_result["r"].stderr
        assert len(cli_result["workers"]) == 1, cli_result["workers"]  # one model instance for CLI and UI
        # Edit: take the last result, make it happy, see the pass in the history
        page.get_by_role("tab", name="Edit").click()
        page.locator("#edit-take-last").click()
        page.wait_for_selector('#edit-source a[data-testid="download-link"][href], #edit-source audio[src]',
                               state="attached", timeout=30_000)
        page.locator("#edit-transcript textarea").fill("Hello from the browser.")
        page.locator("#edit-run").click()
        edited = _playable(page, "#edit-out")
        assert edited["href"] != first["href"]
        expect(page.locator("#edit-status")).to_contain_text("done", timeout=JOB_TIMEOUT_MS)
        expect(page.locator("#edit-history input")).to_have_value("pass 1: emotion happy", timeout=30_000)
        # Voices: the saved voice is listed (the same store as `stepaudio voices`) and can be removed
        page.get_by_role("tab", name="Voices").click()
        page.locator("#voices-refresh").click()
        expect(page.locator("#voices-table")).to_contain_text("alice", timeout=30_000)
        listed = real.run("voices", "list", "--json")
        assert "alice" in listed.stdout, listed.stdout + listed.stderr
        # Models: base is loaded (refreshed live), then unloaded from the page
        page.get_by_role("tab", name="Models").click()
        expect(page.locator("#models-table")).to_contain_text("loaded", timeout=30_000)
        page.locator("#models-unload-all").click()
        expect(page.locator("#models-message")).to_contain_text("unloaded base", timeout=60_000)
        browser.close()
    assert real.variant("base")["tier"] == "unloaded"
    assert not real.worker_pids()


def test_api_key_guards_the_ui_and_the_api(real):
    server = HttpServer(real, "--ui", api_key="s3cret-key")
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            assert http.get("/healthz").status_code == 200
            assert http.get("/v1/models").status_code == 401  # the API keeps its Bearer check
            assert http.get("/v1/models", headers={"Authorization": "Bearer s3cret-key"}).status_code == 200
            assert http.get("/config").status_code == 401  # the UI's data needs the login
            assert http.post("/login", data={"username": "me", "password": "wrong"}).status_code == 400
            assert http.post("/login", data={"username": "me", "password": "s3cret-key"}).status_code == 200
            assert http.get("/config").status_code == 200  # the login cookie opens the UI
    finally:
        server.stop()
