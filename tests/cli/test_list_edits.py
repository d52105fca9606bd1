"""`stepaudio list-edits`: the CLI's edit data equals the engine's, and the command prints all of it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from stepaudio_protos import edits


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stepaudio_cli.entry", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "COLUMNS": "100"})


def test_edit_lists_equal_the_engines_own():
    from stepaudio_engine.llm import prompts

    assert edits.EDIT_TYPES == prompts.EDIT_TYPES
    assert edits.PARALINGUISTIC_TAGS == prompts.PARALINGUISTIC_TAGS
    assert list(edits.DESCRIPTIONS) == list(edits.EDIT_TYPES)


def test_every_option_and_tag_has_a_description():
    for edit_type, options in edits.EDIT_TYPES.items():
        described = edits.OPTION_DESCRIPTIONS.get(edit_type, {})
        assert list(described) == options, edit_type  # same names, same order, nothing extra
        assert all(text.strip() for text in described.values()), edit_type
    assert list(edits.TAG_DESCRIPTIONS) == edits.PARALINGUISTIC_TAGS


def test_list_edits_prints_every_option_one_per_line():
    result = _run("list-edits")
    assert result.returncode == 0, result.stderr
    sections = result.stdout.split("\n\n")  # one block per edit type
    assert len(sections) == len(edits.EDIT_TYPES) + 1  # + the closing example
    for (edit_type, options), block in zip(edits.EDIT_TYPES.items(), sections):
        heading, *rows = block.splitlines()
        assert heading == f"--{edit_type}: {edits.DESCRIPTIONS[edit_type]}"
        for option in options:
            match = [row for row in rows if row.strip().startswith(option + "  ")]
            assert len(match) == 1 and match[0].endswith(edits.OPTION_DESCRIPTIONS[edit_type][option]), option
    for tag in edits.PARALINGUISTIC_TAGS:
        assert f"    {tag}  " in result.stdout, tag
    assert result.stderr == ""


def test_list_edits_json_is_the_catalog_and_needs_no_daemon():
    result = _run("list-edits", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data == json.loads(json.dumps(edits.catalog()))
    speed = next(t for t in data["edit_types"] if t["type"] == "speed")
    assert [o["name"] for o in speed["options"]] == ["faster", "slower", "more faster", "more slower"]
    assert [t["tag"] for t in data["paralinguistic_tags"]] == edits.PARALINGUISTIC_TAGS
    assert not (Path(os.environ["STEPAUDIO_HOME"]) / "run").exists()  # no daemon was started
