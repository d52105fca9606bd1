"""The HTTP server is a client of the daemon: importing it loads no torch and no engine; the CLI
imports it only inside `stepaudio serve`."""
from __future__ import annotations

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_server_leaves_torch_and_the_engine_out():
    mods = _modules_after("import stepaudio_serve.app, stepaudio_serve.server")
    assert "torch" not in mods and "fastapi" in mods
    assert not any(m.startswith(("stepaudio_engine", "stepaudiod")) for m in mods)


def test_cli_app_does_not_import_the_server():
    mods = _modules_after("import stepaudio_cli.app")
    assert not any(m.startswith(("stepaudio_serve", "fastapi", "uvicorn")) for m in mods)
