"""docs/cli.md is the `--help` of every command, as the CLI prints it now."""
from __future__ import annotations

import re

import pytest

from stepaudio_cli import gen_docs
from stepaudio_cli.gen_completions import cli_spec


@pytest.fixture(scope="module")
def helps() -> dict[str, str]:
    return gen_docs.render_help_texts()


def test_cli_reference_is_fresh(helps):
    assert gen_docs.TARGET.read_text() == gen_docs.markdown(helps), \
        "docs/cli.md is stale: run `python -m stepaudio_cli.gen_docs`"


def test_every_command_has_its_own_help_section(helps):
    paths = [" ".join(c.path) for c in cli_spec().walk()]
    assert list(helps) == paths and "list-edits" in paths and "daemon logs" in paths
    doc = gen_docs.TARGET.read_text()
    for path in paths:
        title = f"stepaudio {path}".strip()
        assert f"\n## {title}\n" in doc
        assert re.search(rf"^ Usage: {re.escape(title)} ", helps[path], re.M), path  # the help of that command
        assert f"(#{gen_docs._anchor(title)})" in doc


def test_reference_is_plain_text_at_100_columns(helps):
    doc = gen_docs.TARGET.read_text()
    assert "\x1b[" not in doc  # NO_COLOR/TERM=dumb: no ANSI escapes in the committed file
    for text in helps.values():
        assert max(len(line.rstrip()) for line in text.splitlines()) <= 100


def test_readme_settings_table_is_fresh():
    """The README's settings table is generated from stepaudio_protos/settings.py, like docs/cli.md from --help."""
    text = gen_docs.README.read_text()
    assert gen_docs.readme_with_table(text) == text, "README.md's settings table is stale: run `make generated`"
    table = gen_docs.settings_table()
    from stepaudio_protos.settings import Settings, setting_fields

    for f in setting_fields():
        assert (f"`{Settings.env_name(f.name)}`" in table) != f.metadata["hidden"], f.name
