"""Settings precedence (flag > env > config.toml > default) and STEPAUDIO_HOME re-rooting."""
from __future__ import annotations

from pathlib import Path

import pytest

from stepaudio_protos.paths import resolve_paths
from stepaudio_protos.settings import SettingsError, load_settings


def test_precedence_flag_env_config_default(tmp_path):
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text('keep_alive = 10\nqueue_size = 3\ndevice = "cpu"\n')
    env = {"STEPAUDIO_HOME": str(home), "STEPAUDIO_QUEUE_SIZE": "5", "STEPAUDIO_DEVICE": "cuda"}
    loaded = load_settings(flags={"device": "auto"}, env=env)
    s, src = loaded.settings, loaded.sources
    assert (s.device, src["device"]) == ("auto", "flag")
    assert (s.queue_size, src["queue_size"]) == (5, "env")
    assert (s.keep_alive, src["keep_alive"]) == (10.0, "config")
    assert (s.max_loaded, src["max_loaded"]) == (1, "default")


def test_home_reroots_every_path(tmp_path):
    paths = resolve_paths({"STEPAUDIO_HOME": str(tmp_path)})
    for p in (paths.config_dir, paths.cache_dir, paths.state_dir, paths.runtime_dir, paths.models_dir,
              paths.socket, paths.log_file, paths.prompt_cache_dir):
        assert Path(p).is_relative_to(tmp_path)


@pytest.mark.parametrize("content, message", [
    ("nonsense = 1\n", "unknown setting"),
    ("queue_size = 'lots'\n", "queue_size"),
    ("device = 'tpu'\n", "must be one of"),
    ("keep_alive = \n", "cannot read"),
])
def test_bad_config_names_the_problem(tmp_path, content, message):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.toml").write_text(content)
    with pytest.raises(SettingsError, match=message):
        load_settings(env={"STEPAUDIO_HOME": str(tmp_path)})
