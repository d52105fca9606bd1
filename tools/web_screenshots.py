"""Screenshots of the web UI's tabs for the README: `make screenshots` (needs the web and test extras and
Debian's chromium). Runs `stepaudio serve` on the tiny model in a throw-away STEPAUDIO_HOME, walks clone →
edit → voices → models in headless Chromium, and writes docs/screenshots/<tab>.png."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import wave
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def reference(path: Path) -> None:
    import math
    import struct

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(b"".join(struct.pack("<h", int(6000 * math.sin(i / 9) * (1 + math.sin(i / 4000)) / 2))
                               for i in range(48000)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(home: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEPAUDIO_")}
    env.update(STEPAUDIO_HOME=str(home), STEPAUDIO_MODELS_DIR=str(home / "models"), STEPAUDIO_DEVICE="cpu",
               STEPAUDIO_IDLE_SHUTDOWN="60")
    subprocess.run([sys.executable, "-m", "stepaudio_engine.tiny", str(home / "models")], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    proc = subprocess.Popen([sys.executable, "-m", "stepaudio_cli.entry", "serve", "--ui", "--port", str(port),
                             "--log-level", "warning"], env=env)
    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    raise SystemExit("stepaudio serve did not start")


def walk(url: str, ref: Path) -> None:
    chromium = os.environ.get("STEPAUDIO_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1050})
        page.goto(url)
        page.locator("#clone-ref input[type=file]").first.set_input_files(str(ref))
        page.locator("#clone-ref-text textarea").fill("What the reference recording says.")
        page.locator("#clone-text textarea").fill("Text to say in that voice, as long as you like.")
        page.locator("#clone-voice-name textarea, #clone-voice-name input").first.fill("alice")
        page.locator("#clone-run").click()
        page.wait_for_selector('#clone-out a[data-testid="download-link"][href]', state="attached", timeout=300_000)
        page.locator("#clone-save-voice").click()
        page.wait_for_selector("#clone-saved:has-text('saved voice')", timeout=60_000)
        page.screenshot(path=str(OUT / "clone.png"))
        page.get_by_role("tab", name="Edit").click()
        page.locator("#edit-take-last").click()
        page.wait_for_selector('#edit-source a[data-testid="download-link"][href], #edit-source audio[src]',
                               state="attached", timeout=30_000)
        page.locator("#edit-transcript textarea").fill("Text to say in that voice, as long as you like.")
        page.locator("#edit-run").click()
        try:
            page.wait_for_selector('#edit-out a[data-testid="download-link"][href]', state="attached",
                                   timeout=300_000)
        finally:
            print("edit:", page.locator("#edit-status").inner_text(), file=sys.stderr)
        page.screenshot(path=str(OUT / "edit.png"))
        page.get_by_role("tab", name="Voices").click()
        page.locator("#voices-refresh").click()
        page.wait_for_selector("#voices-table:has-text('alice')", timeout=30_000)
        page.screenshot(path=str(OUT / "voices.png"))
        page.get_by_role("tab", name="Models").click()
        page.wait_for_selector("#models-table:has-text('loaded')", timeout=30_000)
        page.screenshot(path=str(OUT / "models.png"))
        browser.close()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="sa-shots-"))
    port = free_port()
    proc = serve(home, port)
    try:
        reference(home / "ref.wav")
        walk(f"http://127.0.0.1:{port}/", home / "ref.wav")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        subprocess.run([sys.executable, "-m", "stepaudio_cli.entry", "daemon", "stop"],
                       env=dict(os.environ, STEPAUDIO_HOME=str(home)), capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
    print("wrote", ", ".join(sorted(p.name for p in OUT.glob("*.png"))), "in", OUT)


if __name__ == "__main__":
    main()
