"""Shell completions: the committed scripts are what the generator makes now, and bash really completes."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from stepaudio_cli import gen_completions
from stepaudio_protos import edits

BASH_SCRIPT = gen_completions.OUT_DIR / "stepaudio.bash"


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return gen_completions.render_all()


def test_completion_scripts_are_fresh(generated):
    for name, text in generated.items():
        path = gen_completions.OUT_DIR / name
        assert path.exists() and path.read_text() == text, \
            f"{path} is stale: run `python -m stepaudio_cli.gen_completions`"


def test_spec_has_every_command_and_the_edit_choices():
    spec = gen_completions.cli_spec()
    paths = {" ".join(c.path) for c in spec.walk()}
    assert {"clone", "edit", "status", "list-edits", "daemon", "daemon logs"} <= paths
    edit = next(c for c in spec.walk() if c.path == ["edit"])
    by_name = {n: o for o in edit.options for n in o.names}
    assert by_name["--emotion"].value.choices == edits.EMOTIONS
    assert by_name["--speed"].value.choices == edits.SPEEDS
    assert by_name["-o"].value.kind == "file" and not by_name["--json"].takes_value
    assert edit.arguments[0].value.kind == "file"
    assert by_name["--emotion"].value.descriptions["happy"] == edits.OPTION_DESCRIPTIONS["emotion"]["happy"]


def test_scripts_never_start_python(generated):
    # TAB must not pay for a Python start-up: the scripts only carry data and shell code
    for name, text in generated.items():
        code = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
        assert not [line for line in code if "python" in line.lower() or "$(stepaudio" in line], name


def _bash_complete(tmp_path: Path, *words: str) -> list[str]:
    """COMPREPLY of the real bash function for `words` (the last one is being completed)."""
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    script = (f"source '{BASH_SCRIPT}'\n"
              f"COMP_WORDS=({quoted}); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\n"
              f"COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}\n"
              "_stepaudio\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    out = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True,
                         timeout=20, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    return [line for line in out.stdout.splitlines() if line]


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_commands_options_and_values(tmp_path):
    (tmp_path / "take1.wav").write_bytes(b"")
    (tmp_path / "notes.txt").write_bytes(b"")
    assert _bash_complete(tmp_path, "stepaudio", "cl") == ["clone"]
    assert "happy" in _bash_complete(tmp_path, "stepaudio", "edit", "x.wav", "--emotion", "ha")
    assert _bash_complete(tmp_path, "stepaudio", "edit", "x.wav", "--emotion", "") == edits.EMOTIONS
    # a value with a space comes back escaped, so the shell inserts it as one word
    assert _bash_complete(tmp_path, "stepaudio", "edit", "x.wav", "--speed", "more") == \
        ["more\\ faster", "more\\ slower"]
    assert _bash_complete(tmp_path, "stepaudio", "edit", "x.wav", "--style", "=", "whi") == ["whisper"]
    # global options with a value are skipped while finding the command
    assert _bash_complete(tmp_path, "stepaudio", "--models-dir", "/m", "cl") == ["clone"]
    assert _bash_complete(tmp_path, "stepaudio", "daemon", "l") == ["logs"]
    assert "--lines" in _bash_complete(tmp_path, "stepaudio", "daemon", "logs", "--")
    assert _bash_complete(tmp_path, "stepaudio", "load", "") == ["base", "bnb", "awq"]
    # paths: the input recording and -o complete files; free text (TEXT, --text) completes nothing
    assert sorted(_bash_complete(tmp_path, "stepaudio", "clone", "t")) == ["take1.wav"]
    assert sorted(_bash_complete(tmp_path, "stepaudio", "edit", "in.wav", "-o", "")) == ["notes.txt", "take1.wav"]
    assert _bash_complete(tmp_path, "stepaudio", "clone", "take1.wav", "") == []
    assert _bash_complete(tmp_path, "stepaudio", "edit", "take1.wav", "--text", "") == []
    # a variadic argument completes files at every position; setting names for `config set`
    assert _bash_complete(tmp_path, "stepaudio", "transcribe", "take1.wav", "no") == ["notes.txt"]
    assert _bash_complete(tmp_path, "stepaudio", "config", "set", "keep_al") == ["keep_alive", "keep_alive_max"]
    assert _bash_complete(tmp_path, "stepaudio", "config", "set", "keep_alive", "") == []


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_script_parses():
    out = subprocess.run(["zsh", "-n", str(gen_completions.OUT_DIR / "_stepaudio")], capture_output=True,
                         text=True, timeout=20)
    assert out.returncode == 0, out.stderr


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_script_parses():
    out = subprocess.run(["fish", "--no-config", "-n", str(gen_completions.OUT_DIR / "stepaudio.fish")],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr


def _interactive_complete(tmp_path: Path, shell: list[str], setup: str, line: str, expected: str) -> str:
    """Type `line` + TAB into a real interactive shell in tmux (own socket); the screen once `expected` shows
    (or after 20 s, for the failure message)."""
    import time

    sock = str(tmp_path / "tmux.sock")
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "TERM": "xterm", "LANG": "C.UTF-8",
           "XDG_CONFIG_HOME": str(tmp_path / "config")}

    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", "-S", sock, *args], env=env, capture_output=True, text=True, timeout=20,
                              check=True).stdout

    def wait(predicate) -> str:
        end = time.monotonic() + 20
        while not predicate(screen := tmux("capture-pane", "-p")) and time.monotonic() < end:
            time.sleep(0.05)
        return screen

    try:
        tmux("new-session", "-d", "-x", "120", "-y", "20", *shell)
        tmux("send-keys", setup + "; clear", "Enter")
        wait(lambda screen: "clear" not in screen)  # set-up done and the screen is empty
        tmux("send-keys", line, "Tab")
        return wait(lambda screen: expected in screen)
    finally:
        subprocess.run(["tmux", "-S", sock, "kill-server"], capture_output=True, timeout=20)


needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@needs_tmux
@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
@pytest.mark.parametrize("line,expected", [("stepaudio cl", "stepaudio clone"),
                                           ("stepaudio edit x.wav --emotion ha", "--emotion happy")])
def test_zsh_completes_in_a_real_terminal(tmp_path, line, expected):
    setup = (f"fpath=({gen_completions.OUT_DIR} $fpath); autoload -U compinit; "
             f"compinit -u -d {tmp_path}/zcompdump; PS1='> '")
    screen = _interactive_complete(tmp_path, ["zsh", "-f"], setup, line, expected)
    assert expected in screen, screen


@needs_tmux
@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
@pytest.mark.parametrize("line,expected", [("stepaudio cl", "stepaudio clone"),
                                           ("stepaudio edit x.wav --emotion ha", "--emotion happy")])
def test_fish_completes_in_a_real_terminal(tmp_path, line, expected):
    setup = f"source {gen_completions.OUT_DIR / 'stepaudio.fish'}"
    screen = _interactive_complete(tmp_path, ["fish", "--no-config"], setup, line, expected)
    assert expected in screen, screen
