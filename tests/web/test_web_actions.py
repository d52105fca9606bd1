"""The web UI's actions without a browser, in-process, against the real daemon and worker on the tiny model.

These are the handlers behind every button; the browser test (test_web_browser.py) walks the same path
through Chromium. They use stepaudio_serve's AsyncDaemonClient, as the UI does when mounted."""
from __future__ import annotations

import asyncio

import pytest
import soundfile as sf

from sa_helpers import write_wav
from stepaudio_protos.paths import resolve_paths
from stepaudio_serve.daemon_client import AsyncDaemonClient, Progress, Queued
from stepaudio_web import views
from stepaudio_web.actions import Actions, UiError


@pytest.fixture
def actions(real, monkeypatch, tmp_path):
    for key, value in real.env.items():
        if key.startswith("STEPAUDIO_"):
            monkeypatch.setenv(key, value)
    paths = resolve_paths()
    client = AsyncDaemonClient(paths)
    act = Actions(lambda: client, paths, tmp_path / "ui")
    yield act
    act.close()


def run(actions: Actions, coro_fn):
    """Run a walk on a fresh event loop and close the client's channel on that loop."""
    async def main():
        try:
            return await coro_fn()
        finally:
            await actions._client().close()
    return asyncio.run(main())


def test_clone_edit_voices_models_through_the_daemon(actions, real):
    ref = real.work / "ref.wav"
    write_wav(ref)

    async def walk():
        events = []
        first = await actions.clone(str(ref), "a reference", "Hello from the web UI.", "default", "7", 1,
                                    events.append)
        again = await actions.clone(str(ref), "a reference", "Hello from the web UI.", "base", " 7 ", 1)
        edited = await actions.edit(first.audio, "Hello from the web UI.", "emotion", "happy", 1)
        saved = await actions.save_voice("alice", str(ref), "a reference")
        status = await actions.status()
        unloaded = await actions.unload(None, all_=True)
        after = await actions.status()
        return events, first, again, edited, saved, status, unloaded, after

    events, first, again, edited, saved, status, unloaded, after = run(actions, walk)
    assert any(isinstance(e, Queued) for e in events) and any(isinstance(e, Progress) for e in events)
    assert first.seed == 7 and again.seed == 7
    assert open(first.audio, "rb").read() == open(again.audio, "rb").read()  # the seed reached the engine
    assert sf.info(first.audio).frames > 0 and sf.info(edited.audio).frames > 0
    assert "seed 7" in views.outcome_markdown(first)
    assert saved == "alice" and [v["name"] for v in actions.voices()] == ["alice"]
    assert actions.voice_audio("alice").endswith("reference.wav")
    rows = {row[0]: row for row in views.model_rows(status)}
    assert rows["base"][1] == "loaded"
    assert "stepaudiod" in views.status_summary(status)
    assert unloaded == "unloaded base"
    assert {row[0]: row[1] for row in views.model_rows(after)}["base"] == "unloaded"
    actions.remove_voice("alice")
    assert actions.voices() == []


def test_bad_inputs_read_as_the_cli_says_them(actions, real):
    ref = real.work / "ref.wav"
    write_wav(ref)

    async def expect(coro) -> UiError:
        with pytest.raises(UiError) as caught:
            await coro
        return caught.value

    async def walk():
        return [await expect(actions.clone(None, "", "hi")),
                await expect(actions.clone(str(ref), "", "hi", seed="1.5")),
                await expect(actions.clone(str(real.work / "missing.wav"), "", "hi")),
                await expect(actions.clone(str(ref), "", "   ")),
                await expect(actions.edit(str(ref), "hi", "emotion", "ecstatic")),
                await expect(actions.save_voice("bad name!", str(ref), "a reference")),
                await expect(actions.clone(str(ref), "a reference", "hi", language="klingon"))]

    errors = run(actions, walk)
    assert "no reference recording" in errors[0].message and "record" in errors[0].hint
    assert "whole number" in errors[1].message
    assert "does not exist" in errors[2].message
    assert "empty" in errors[3].text() or "text" in errors[3].text()
    assert "ecstatic" in errors[4].message and errors[4].hint  # the CLI's message, with the option list
    assert "invalid voice name" in errors[5].message
    assert "unknown language 'klingon'" in errors[6].text()
    with pytest.raises(UiError, match="no voice named"):
        actions.voice_audio("nobody")
