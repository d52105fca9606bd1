"""Which release of the Step-Audio-EditX weights a folder holds (docs/engine/upstream-2026.md "Telling the
releases apart"). Torch-free: `models verify` and `doctor` call it too.

The only signal in the files: upstream's code since UP@9642328 (2026-01-22) builds prompts with
`apply_chat_template`, which fails without a chat template, so a 2026-01 folder carries one
(`chat_template` in tokenizer_config.json or a `chat_template.jinja` file); the 2025 copies have none.
The 2025-11-12/19/28 weights cannot be told apart from one another: all are "2025-11".
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from stepaudio_engine.api import EngineError, Reason

RELEASE_2025 = "2025-11"
RELEASE_2026 = "2026-01"
TEMPLATE_FILE = "chat_template.jinja"
CONFIG_FILE = "tokenizer_config.json"


def chat_template(llm_folder: Path) -> Optional[str]:
    """The folder's chat template text, or None when it has none."""
    folder = Path(llm_folder)
    jinja = folder / TEMPLATE_FILE
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    data = read_config(folder)
    if data is None:
        return None
    template = data.get("chat_template")
    if isinstance(template, list):  # transformers also allows [{"name": "default", "template": ...}, ...]
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default")
    return template if isinstance(template, str) and template.strip() else None


def detect_release(llm_folder: Path) -> str:
    """RELEASE_2026 when the folder has a chat template, else RELEASE_2025."""
    return RELEASE_2026 if chat_template(llm_folder) is not None else RELEASE_2025


def read_config(folder: Path) -> Optional[dict]:
    """The folder's tokenizer_config.json, None when it has none; unreadable JSON is MODEL_CORRUPT.
    (The text tokenizer reads add_bos_token through this too.)"""
    path = folder / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EngineError(Reason.MODEL_CORRUPT, f"{path} is not readable JSON: {exc}",
                          "download the model folder again") from exc
