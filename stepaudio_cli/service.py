"""`stepaudio daemon install-service`: a systemd user unit that keeps stepaudiod running (docs/service.md).

The unit runs this very interpreter (`sys.executable -m stepaudiod.main`), so the service uses the same
installation and version as the CLI that wrote it. Settings belong in config.toml (`stepaudio config set`),
not in the unit; the unit only carries what locates the installation.
"""
from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Mapping, Optional

import typer

from stepaudio_cli.options import flag
from stepaudio_cli.render import err

UNIT_NAME = "stepaudiod.service"
HTTP_UNIT_NAME = "stepaudio-http.service"  # `stepaudio serve` (install-service --http)


def enable_lines(unit: str) -> list[str]:
    return ["systemctl --user daemon-reload", f"systemctl --user enable --now {unit.removesuffix('.service')}"]


def unit_path(env: Optional[Mapping[str, str]] = None, name: str = UNIT_NAME) -> Path:
    """Where the unit goes: systemd's per-user folder ($XDG_CONFIG_HOME/systemd/user, else ~/.config/...).
    With STEPAUDIO_HOME set (a re-rooted, e.g. test, installation) it goes under that folder instead."""
    env = os.environ if env is None else env
    if env.get("STEPAUDIO_HOME"):
        base = Path(env["STEPAUDIO_HOME"]).expanduser().absolute()
    else:
        xdg = env.get("XDG_CONFIG_HOME", "")
        base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".config"
    return base / "systemd" / "user" / name


def _assignment(name: str, value: str) -> str:
    """`Environment="NAME=value"` (the quoted form systemd.exec documents): quotes and backslashes escaped,
    % doubled because systemd expands specifiers there."""
    text = f"{name}={value}".replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'Environment="{text}"'


def unit_text(models_dir: Optional[str], env: Optional[Mapping[str, str]] = None, http: bool = False) -> str:
    """The daemon's unit, or with `http` the unit of `stepaudio serve` (address, port, limits and the API key
    file come from config.toml, `stepaudio config set http_...`; the key itself never goes in the unit)."""
    env = os.environ if env is None else env
    environment = {"PYTHONUNBUFFERED": "1",
                   # a managed daemon should stay up: models still unload after keep_alive
                   "STEPAUDIO_IDLE_SHUTDOWN": "0"}
    for name in ("STEPAUDIO_HOME", "PYTHONPATH"):   # what locates this installation, if set
        if env.get(name):
            environment[name] = env[name]
    if models_dir:
        environment["STEPAUDIO_MODELS_DIR"] = str(Path(models_dir).expanduser().absolute())
    # systemd splits ExecStart= like a shell: quote the interpreter path; % must be doubled
    command = ("-m", "stepaudio_cli.entry", "serve") if http else ("-m", "stepaudiod.main", "--log-stderr")
    exec_start = " ".join(shlex.quote(a) for a in (sys.executable, *command))
    what = ("stepaudio serve: OpenAI-compatible HTTP API of the stepaudio daemon" if http
            else "stepaudiod: Step-Audio-EditX voice cloning and editing daemon")
    # the HTTP server starts a daemon itself when none runs; with the daemon's unit installed it uses that one
    order = [f"Wants={UNIT_NAME}", f"After={UNIT_NAME}"] if http else []
    lines = [
        f"# written by `stepaudio daemon install-service{' --http' if http else ''}`; see docs/service.md",
        "[Unit]",
        f"Description={what}",
        *order,
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={exec_start.replace('%', '%%')}",
        "Restart=on-failure",
        "RestartSec=5",
        *[_assignment(name, value) for name, value in environment.items()],
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ]
    return "\n".join(lines)


def install_service(
    ctx: typer.Context,
    print_only: bool = flag("--print", help="print the unit instead of writing it"),
    http: bool = flag("--http", help="the unit of `stepaudio serve` (the HTTP API) instead of the daemon's"),
) -> None:
    """Write a systemd user unit that runs the daemon (restarted on failure), and print how to enable it.
    With --http: a unit for `stepaudio serve`, configured by the http_* settings (`stepaudio config set`)."""
    from stepaudio_cli.config_cmd import write_atomic

    text = unit_text(ctx.obj.models_dir, http=http)
    if print_only:
        print(text, end="")
        return
    name = HTTP_UNIT_NAME if http else UNIT_NAME
    path = unit_path(name=name)
    existed = path.exists()
    write_atomic(path, text)
    print(path)
    err(f"{'updated' if existed else 'wrote'} {path}")
    lines = enable_lines(name)
    if os.environ.get("STEPAUDIO_HOME"):   # outside systemd's search path: link it first
        lines.insert(0, f"systemctl --user link {shlex.quote(str(path))}")
    err("enable and start it with:")
    for line in lines:
        err(f"  {line}")
    from stepaudio_cli import daemon_proc

    if not http and daemon_proc.peer_check(ctx.obj.paths):
        err("note: a daemon is running now; stop it first (`stepaudio daemon stop`) or the service will "
            "find the socket taken")
