"""Prompt cache figures for `status`: hits and misses as reported by finished jobs, entries and bytes
read from the cache folder (the workers own the files; the daemon only looks)."""
from __future__ import annotations

import os
from pathlib import Path


class CacheStats:
    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0

    def record(self, options: dict) -> None:
        """Count the prompt-cache outcome a job reports ("hit", "miss", "hit,miss" for edit passes)."""
        for outcome in str(options.get("prompt_cache", "")).split(","):
            if outcome == "hit":
                self.hits += 1
            elif outcome == "miss":
                self.misses += 1

    def disk_usage(self) -> tuple[int, int]:
        entries = size = 0
        try:
            shards = list(os.scandir(self.folder))
        except OSError:
            return 0, 0
        for shard in shards:
            if not shard.is_dir():
                continue
            try:
                for entry in os.scandir(shard.path):
                    if entry.name.endswith(".npz"):
                        entries += 1
                        size += entry.stat().st_size
            except OSError:
                continue
        return entries, size
