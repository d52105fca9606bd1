"""--text-file and a batch file that cannot be read: the message says which problem it is."""
from __future__ import annotations

import pytest

from stepaudio_cli.audio_io import read_text_file
from stepaudio_cli.batch import _lines
from stepaudio_cli.errors import CliError


def _problem(tmp_path, name: str) -> tuple[str, str, int]:
    with pytest.raises(CliError) as caught:
        read_text_file(str(tmp_path / name), "text to speak")
    return caught.value.message, caught.value.hint, caught.value.code


def test_missing_folder_and_non_utf8_text_files(tmp_path):
    message, hint, code = _problem(tmp_path, "nope.txt")
    assert "nope.txt does not exist" in message and hint == "check the path" and code == 1
    assert "Errno" not in message and "UTF-8" not in hint        # not an encoding problem
    (tmp_path / "dir").mkdir()
    message, _, _ = _problem(tmp_path, "dir")
    assert message.endswith("is a folder")
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9")
    message, hint, code = _problem(tmp_path, "latin1.txt")
    assert "is not UTF-8 (it has the byte 0xe9)" in message and "iconv" in hint and code == 1


def test_a_missing_batch_file(tmp_path):
    with pytest.raises(CliError) as caught:
        list(_lines(str(tmp_path / "jobs.jsonl")))
    assert "jobs.jsonl does not exist" in caught.value.message and caught.value.hint == "check the path"
