"""describe_torch_load_error: what is wrong with a refused or damaged weights file, in one line, and never
torch's advice to load it with weights_only=False (that would run the file's code)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from stepaudio_engine.load_errors import describe_torch_load_error


class _Payload:
    def __reduce__(self):
        return (os.system, ("true",))


def _error(path: Path) -> str:
    with pytest.raises(Exception) as info:
        torch.load(path, map_location="cpu", weights_only=True)
    return describe_torch_load_error(info.value)


def test_a_pickled_call_is_named_without_the_unsafe_advice(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"w": _Payload()}, path)
    text = _error(path)
    assert text.startswith("it holds more than plain tensors (") and "system" in text
    assert "weights_only" not in text and "\n" not in text


def test_garbage_and_truncated_files_get_one_short_line(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x80\x02garbage" * 50)
    good = tmp_path / "good.pt"
    torch.save({"w": torch.zeros(1000)}, good)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:500])
    for path in (garbage, truncated):
        text = _error(path)
        assert text and "\n" not in text and len(text) <= 230
        assert "weights_only" not in text and "internal miniz error" not in text
