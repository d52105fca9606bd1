"""`stepaudio daemon install-service`: the unit's content, where it is written, and that systemd accepts it."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stepaudio_cli.service import unit_path


def _unit(sa, *args: str) -> str:
    result = sa.run(*args, "daemon", "install-service", "--print")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_print_shows_the_unit_without_writing_it(sa):
    text = _unit(sa, "--models-dir", str(sa.root / "my models"))
    assert f"ExecStart={sys.executable} -m stepaudiod.main --log-stderr" in text
    assert "Restart=on-failure" in text and "WantedBy=default.target" in text
    assert f'Environment="STEPAUDIO_HOME={sa.home}"' in text
    assert f'Environment="STEPAUDIO_MODELS_DIR={sa.root / "my models"}"' in text
    assert 'Environment="STEPAUDIO_IDLE_SHUTDOWN=0"' in text
    assert not (sa.home / "systemd").exists()


def test_install_writes_under_stepaudio_home_and_prints_the_enable_lines(sa):
    result = sa.run("daemon", "install-service")
    assert result.returncode == 0, result.stderr
    path = sa.home / "systemd" / "user" / "stepaudiod.service"
    assert result.stdout.strip() == str(path)
    assert path.read_text() == _unit(sa)
    assert "systemctl --user daemon-reload" in result.stderr
    assert "systemctl --user enable --now stepaudiod" in result.stderr
    assert f"systemctl --user link {path}" in result.stderr
    again = sa.run("daemon", "install-service")
    assert again.returncode == 0 and "updated" in again.stderr


def test_unit_path_follows_xdg_config_home(tmp_path):
    assert unit_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "systemd" / "user" / "stepaudiod.service"
    assert unit_path({}) == Path.home() / ".config" / "systemd" / "user" / "stepaudiod.service"
    assert unit_path({"XDG_CONFIG_HOME": "relative"}) == Path.home() / ".config/systemd/user/stepaudiod.service"


def test_percent_and_quotes_are_escaped(sa):
    text = _unit(sa, "--models-dir", '/tmp/100% "real"')
    assert 'Environment="STEPAUDIO_MODELS_DIR=/tmp/100%% \\"real\\""' in text


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_unit(sa, tmp_path):
    unit = tmp_path / "stepaudiod.service"
    unit.write_text(_unit(sa, "--models-dir", "/tmp/100% models"))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "stepaudiod.service" not in result.stderr, result.stderr   # no warnings about our unit
