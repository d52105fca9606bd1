"""Prompt cache figures for `status`: hits and misses as reported by finished jobs, entries and bytes
read from the cache folder (the workers own the files; the daemon only looks).

Counting the folder costs ~3 ms per 1 000 entries (a full 1 GiB cache holds several thousand), so the
figures are remembered: recounted when a job has finished since, or after USAGE_TTL_S, and the server
recounts on a thread so a big cache never stalls the daemon's event loop.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional

USAGE_TTL_S = 5.0


class CacheStats:
    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._usage: Optional[tuple[int, int]] = None
        self._usage_at = 0.0
        self._jobs_seen = 0  # bumped by record(): a count taken before the bump is stale

    def record(self, options: dict) -> None:
        """Count the prompt-cache outcome a job reports ("hit", "miss", "hit,miss" for edit passes)."""
        for outcome in str(options.get("prompt_cache", "")).split(","):
            if outcome == "hit":
                self.hits += 1
            elif outcome == "miss":
                self.misses += 1
        self._usage = None  # a job may have added or evicted entries
        self._jobs_seen += 1

    def remembered_usage(self) -> Optional[tuple[int, int]]:
        """(entries, bytes) if counted recently and no job finished since; else None."""
        if self._usage is not None and time.monotonic() - self._usage_at <= USAGE_TTL_S:
            return self._usage
        return None

    def generation(self) -> int:
        return self._jobs_seen

    def remember(self, usage: tuple[int, int], generation: int) -> None:
        """Keep a count taken when generation() was `generation`, unless a job finished meanwhile."""
        if generation == self._jobs_seen:
            self._usage, self._usage_at = usage, time.monotonic()

    def disk_usage(self) -> tuple[int, int]:
        """Count the folder now (pure: safe on a worker thread)."""
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
