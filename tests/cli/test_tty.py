"""Progress in a real terminal (tmux): a live bar on a TTY, plain lines when stderr is a file.

The same session as docs/terminal-session.md, on the fake engine (FAKE_STEP_S makes the job last over a second so the
bar is on screen long enough to capture).
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from sa_helpers import wait_for

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

BAR_CHARS = "━╸╺"
SPINNER_CHARS = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Terminal:
    """One tmux server with one 100x20 pane running a command; its own socket, so nothing else is touched."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.socket = str(root / "tmux.sock")
        self.env = {**env, "LANG": "C.UTF-8"}
        for key in ("TMUX", "NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES"):
            self.env.pop(key, None)

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.socket, *args], env=self.env, capture_output=True, text=True,
                              timeout=20, check=True).stdout

    def run(self, command: str, rc_file: Path) -> None:
        shell = f"{command}; echo $? > {shlex.quote(str(rc_file))}; sleep 60"  # keep the pane for capture
        self.tmux("new-session", "-d", "-x", "100", "-y", "20", "bash", "--norc", "--noprofile", "-c", shell)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p")

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True, timeout=20)


def _captures_until_done(term: Terminal, rc_file: Path, timeout: float = 60) -> list[str]:
    screens = []
    end = time.monotonic() + timeout
    while not rc_file.exists():
        assert time.monotonic() < end, "the command did not finish:\n" + term.screen()
        screens.append(term.screen())
        time.sleep(0.05)
    screens.append(term.screen())
    return screens


def test_progress_bar_on_a_tty_and_plain_lines_in_a_file(sa):
    sa.set(FAKE_STEP_S=0.12, FAKE_LOAD_S=0.3)
    cli = " ".join(shlex.quote(a) for a in sa.cmd(*sa.clone_args("tty.wav")))
    term = Terminal(sa.root, sa.env)
    try:
        # 1. stderr is the terminal: a rich status line with spinner and bar, removed when the job ends
        rc1 = sa.work / "rc1"
        term.run(f"cd {shlex.quote(str(sa.work))} && {cli}", rc1)
        screens = _captures_until_done(term, rc1)
        assert rc1.read_text().strip() == "0", screens[-1]
        live = [line for s in screens for line in s.splitlines()
                if "clone" in line and any(c in line for c in BAR_CHARS)]
        assert live, "no progress bar was ever on screen:\n" + screens[len(screens) // 2]
        assert any(c in "".join(live) for c in SPINNER_CHARS)
        assert any("clone: loading" in line or "clone: generating" in line for line in live)
        final = screens[-1]
        assert str(sa.work / "tty.wav") in final and "wrote " in final
        assert not any(c in final for c in BAR_CHARS)  # transient: the bar is gone once the job is done
        term.close()

        # 2. the same job with stderr redirected to a file (model unloaded first, so it loads again)
        assert sa.run("unload").returncode == 0
        wait_for(lambda: sa.variant()["tier"] == "unloaded", what="unload")
        rc2, log = sa.work / "rc2", sa.work / "clone.log"
        cli2 = " ".join(shlex.quote(a) for a in sa.cmd(*sa.clone_args("file.wav")))
        term.run(f"cd {shlex.quote(str(sa.work))} && {cli2} 2> {shlex.quote(str(log))}", rc2)
        screens = _captures_until_done(term, rc2)
        assert rc2.read_text().strip() == "0", screens[-1]
        text = log.read_text()
        lines = text.splitlines()
        assert "clone: loading" in lines and "clone: generating" in lines, text
        assert len(lines) == len(set(lines)), "one line per stage change, not one per progress event"
        assert "\x1b" not in text and not any(c in text for c in BAR_CHARS + SPINNER_CHARS), text
        assert any(line.startswith("wrote ") for line in lines)
        assert str(sa.work / "file.wav") in screens[-1]  # stdout still went to the terminal
    finally:
        term.close()


def test_iterated_edit_shows_the_pass_and_a_total_clock_on_a_tty(sa):
    sa.set(FAKE_STEP_S=0.15)
    ref = sa.work / "in.wav"
    sa.clone_args()  # writes ref.wav
    cli = " ".join(shlex.quote(a) for a in sa.cmd("edit", str(sa.work / "ref.wav"), "--emotion", "happy", "--text",
                                                  "a ref", "--iterations", "3", "-o", str(ref)))
    term = Terminal(sa.root, sa.env)
    try:
        rc = sa.work / "rc"
        term.run(f"cd {shlex.quote(str(sa.work))} && {cli}", rc)
        screens = _captures_until_done(term, rc)
        assert rc.read_text().strip() == "0", screens[-1]
        live = [line for s in screens for line in s.splitlines() if "edit (emotion)" in line]
        # the pass stays on screen through the stages inside it, next to the job's total clock
        assert any("pass 2 of 3, generating" in line or "pass 3 of 3, generating" in line for line in live), live
        assert any(re.search(r"\d+(\.\d+)? ?s\s*$|\d+:\d\d\s*$", line) for line in live), live
    finally:
        term.close()
