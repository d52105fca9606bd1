"""`stepaudio serve` refuses unsafe or broken settings before it listens; `install-service --http`."""
from __future__ import annotations

import os
import sys

import pytest


def test_non_loopback_without_a_key_refuses_to_start(sa):
    result = sa.run("serve", "--host", "0.0.0.0", timeout=60)
    assert result.returncode == 2 and "without an API key" in result.stderr
    assert "STEPAUDIO_API_KEY" in result.stderr


def test_key_file_readable_by_others_is_refused(sa):
    key = sa.root / "key"
    key.write_text("secret\n")
    os.chmod(key, 0o644)
    sa.set(http_api_key_file=key)
    result = sa.run("serve", "--host", "0.0.0.0", timeout=60)
    assert result.returncode == 2 and "chmod 600" in result.stderr


def test_http_settings_show_in_config_show_and_are_checked(sa):
    shown = sa.run("config", "show").stdout
    for name in ("http_host", "http_port", "http_max_body_mb", "http_max_input_chars", "http_max_audio_s",
                 "http_max_uploads", "http_cors_origins", "http_api_key_file"):
        assert name in shown
    sa.set(http_max_uploads=0)
    result = sa.run("serve", timeout=60)
    assert result.returncode == 2 and "http_max_uploads" in result.stderr


def test_install_service_http_unit(sa):
    result = sa.run("daemon", "install-service", "--http", "--print")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert f"ExecStart={sys.executable} -m stepaudio_cli.entry serve" in text
    assert "Wants=stepaudiod.service" in text and "API_KEY" not in text
    written = sa.run("daemon", "install-service", "--http")
    assert written.returncode == 0 and written.stdout.strip().endswith("stepaudio-http.service")
    assert "systemctl --user enable --now stepaudio-http" in written.stderr


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                            ("0.0.0.0", False), ("192.168.1.5", False), ("::", False)])
def test_loopback_detection(host, loopback):
    from stepaudio_serve.config import is_loopback

    assert is_loopback(host) is loopback


def test_the_startup_line_says_why_the_ui_is_off(capsys, monkeypatch):
    import importlib.util

    from stepaudio_serve.config import ServeConfig
    from stepaudio_serve.server import _say_where

    real_find_spec = importlib.util.find_spec
    for installed, why in ((True, "web UI off (--no-ui)"), (False, "web UI off (pip install 'stepaudio[web]')")):
        monkeypatch.setattr(importlib.util, "find_spec",
                            lambda name, *a: (real_find_spec("os") if installed else None) if name == "gradio"
                            else real_find_spec(name, *a))
        _say_where(ServeConfig(port=7861, web_ui=False))
        assert why in capsys.readouterr().err
