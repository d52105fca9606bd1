"""Which release of the weights is installed (docs/engine/upstream-2026.md#telling-the-releases-apart):
`models list`, `models verify` and `doctor` say it; the CLI's reading equals the engine's."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from stepaudio_cli import model_files


@pytest.fixture(scope="module")
def both(tiny_models, tmp_path_factory) -> tuple[Path, Path]:
    from stepaudio_engine.tiny import tiny_as_2026

    return tiny_models, tiny_as_2026(tiny_models, tmp_path_factory.mktemp("r2026") / "models")


def test_cli_and_engine_read_the_release_alike(tmp_path):
    from stepaudio_engine.release import detect_release

    cases = [None, {}, {"chat_template": ""}, {"chat_template": "{{ messages }}"},
             {"chat_template": [{"name": "default", "template": "x"}]}, {"chat_template": [{"name": "tool_use"}]}]
    for i, config in enumerate(cases):
        folder = tmp_path / str(i)
        folder.mkdir()
        if config is not None:
            (folder / "tokenizer_config.json").write_text(json.dumps(config))
        assert model_files.model_release(folder) == detect_release(folder), config
    (folder / "chat_template.jinja").write_text("{{ messages }}")
    assert model_files.model_release(folder) == detect_release(folder) == "2026-01"


def test_models_list_verify_and_doctor_name_the_release(sa, both):
    old, new = both
    for root, release in ((old, "2025-11"), (new, "2026-01")):
        listed = json.loads(sa.run("models", "--json", "--models-dir", str(root)).stdout)
        parts = {p["name"]: p for p in listed["parts"]}
        assert parts["base"]["release"] == release and parts["tokenizer"]["release"] is None
        text = sa.run("models", "list", "--models-dir", str(root)).stdout
        assert f"complete, {release} release" in text
        doctor = json.loads(sa.run("--models-dir", str(root), "doctor", "--json", "--no-torch", timeout=60).stdout)
        base = next(c for c in doctor["checks"] if c["name"] == "model base")
        assert f"{release} release" in base["detail"]
    result = sa.run("models", "verify", "base", "--json", "--models-dir", str(new), timeout=120)
    checks = json.loads(result.stdout)["checks"]
    config = next(c for c in checks if c["file"].endswith("tokenizer_config.json"))
    assert config["ok"] and "release 2026-01 (has a chat template" in config["message"]
