"""The prompt cache under faults, in-process and fast: a folder that cannot be written never fails the
job, and temp files left by a killed worker are swept instead of piling up."""
from __future__ import annotations

import os
import time

import numpy as np

from stepaudio_engine.prompt_cache import STALE_TEMP_S, PromptCache, PromptEntry
from stepaudio_engine.tokenizer import AudioTokens
from stepaudio_engine.vocoder import PromptFeatures


def _entry() -> PromptEntry:
    tokens = AudioTokens.from_codes(np.arange(4), np.arange(8))
    features = PromptFeatures.from_dict({"speech_feat": np.zeros((4, 80)), "embedding": np.zeros(192)})
    return PromptEntry(tokens, features)


def test_a_cache_folder_that_cannot_be_created_is_only_a_warning(tmp_path, caplog):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")  # every mkdir under it fails
    cache = PromptCache(blocker / "prompts")
    cache.put("ab" + "0" * 62, _entry())  # used to raise UnboundLocalError (an INTERNAL job failure)
    cache.put_text("ab" + "0" * 62, "a transcript")
    assert cache.get("ab" + "0" * 62) is None
    assert "could not write cache entry" in caplog.text


def test_temp_files_of_dead_writers_are_swept_and_live_ones_kept(tmp_path):
    cache = PromptCache(tmp_path, max_bytes=1 << 30)
    key = "cd" + "1" * 62
    cache.put(key, _entry())
    stale = tmp_path / "cd" / f".{key}.npz.4242.7f00.tmp"
    live = tmp_path / "cd" / f".{key}.npz.4243.7f01.tmp"
    for tmp in (stale, live):
        tmp.write_bytes(b"half an entry")
    old = time.time() - STALE_TEMP_S - 60
    os.utime(stale, (old, old))
    cache.evict()
    assert not stale.exists() and live.exists()
    assert cache.get(key) is not None and cache.stats()[0] == 1
