"""Fixtures for the web UI: its actions in-process against a real daemon, and `stepaudio serve` with the UI."""
from __future__ import annotations

import pytest

pytest.importorskip("gradio", reason="the web extra is not installed (pip install 'stepaudio[web]')")
