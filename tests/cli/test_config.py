"""`stepaudio config show|set|unset|path`: values with their sources, validated atomic writes to config.toml."""
from __future__ import annotations

import json
import tomllib

import pytest

from stepaudio_cli.config_cmd import render_config, toml_string


def _show(sa) -> dict:
    result = sa.run("config", "show", "--json")
    assert result.returncode == 0, result.stderr
    return {s["name"]: s for s in json.loads(result.stdout)["settings"]}


def test_path_is_under_the_config_dir(sa):
    result = sa.run("config", "path")
    assert result.returncode == 0
    assert result.stdout.strip() == str(sa.home / "config" / "config.toml")


def test_show_lists_every_visible_setting_with_its_source(sa):
    from stepaudio_protos.settings import setting_fields

    sa.set(threads=3)
    shown = _show(sa)
    assert set(shown) == {f.name for f in setting_fields() if not f.metadata["hidden"]}
    assert "engine" not in shown                       # hidden: for tests only
    assert shown["threads"]["value"] == 3 and shown["threads"]["source"] == "env"
    assert shown["queue_size"]["value"] == 16 and shown["queue_size"]["source"] == "default"
    text = sa.run("config", "show").stdout
    assert "STEPAUDIO_THREADS" in text and "(default)" in text


def test_set_validates_writes_keeps_other_keys_and_unset_removes(sa):
    config = sa.home / "config" / "config.toml"
    assert sa.run("config", "set", "queue-size", "4").returncode == 0
    assert sa.run("config", "set", "log_level", "debug").returncode == 0
    assert sa.run("config", "set", "keep_alive", "-1").returncode == 0
    data = tomllib.loads(config.read_text())
    assert data == {"queue_size": 4, "log_level": "debug", "keep_alive": -1.0}
    shown = _show(sa)
    assert shown["queue_size"]["value"] == 4 and shown["queue_size"]["source"] == "config"
    assert shown["keep_alive"]["value"] == -1.0

    bad = sa.run("config", "set", "device", "gpu")
    assert bad.returncode == 2 and "must be one of auto, cuda, cpu" in bad.stderr
    bad = sa.run("config", "set", "queue_size", "0")
    assert bad.returncode == 2 and "at least 1" in bad.stderr
    bad = sa.run("config", "set", "queue_sise", "3")
    assert bad.returncode == 2 and "did you mean 'queue_size'" in bad.stderr
    bad = sa.run("config", "set", "engine", "x:Y")
    assert bad.returncode == 2 and "unknown setting" in bad.stderr
    assert tomllib.loads(config.read_text()) == data      # failed sets change nothing

    result = sa.run("config", "unset", "log_level")
    assert result.returncode == 0 and "removed" in result.stderr
    assert tomllib.loads(config.read_text()) == {"queue_size": 4, "keep_alive": -1.0}
    assert "nothing to do" in sa.run("config", "unset", "log_level").stderr
    assert not [p for p in config.parent.iterdir() if p.name != "config.toml"]   # no temp files left


def test_env_override_is_pointed_out(sa):
    sa.set(queue_size=9)
    result = sa.run("config", "set", "queue_size", "4")
    assert result.returncode == 0 and "STEPAUDIO_QUEUE_SIZE is set" in result.stderr


def test_a_broken_config_file_is_reported_not_overwritten(sa):
    config = sa.home / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("bogus = 1\n")
    for args in (("config", "show"), ("config", "set", "threads", "2")):
        result = sa.run(*args)
        assert result.returncode == 1 and "unknown setting(s) bogus" in result.stderr
    assert config.read_text() == "bogus = 1\n"


@pytest.mark.parametrize("text", ["plain", 'quo"te', "back\\slash", "tab\there", "new\nline", "bell\x07", "ünï"])
def test_strings_round_trip_through_tomllib(text):
    assert tomllib.loads(f"k = {toml_string(text)}") == {"k": text}


def test_render_round_trips_numbers():
    values = {"a": 1, "b": -2.5, "c": 1e-9, "d": float("inf"), "e": "x"}
    assert tomllib.loads(render_config(values)) == values
