"""Prompt cache figures for `status`: hits and misses as reported by finished jobs, entries and bytes
read from the cache folder (the workers own the entries; the daemon only reads them, and writes nothing
there but its own `.counts.json`).

Counting every entry costs ~3 ms per 1 000 (a full 1 GiB cache holds several thousand), so:
- the figures are remembered: recounted when a job has finished since, or after USAGE_TTL_S, on a thread
  so a big cache never stalls the daemon's event loop;
- a recount only lists the shard folders whose mtime changed (entries are created and removed by rename
  and unlink, which update their folder's mtime), using per-shard counts kept in `.counts.json` in the
  cache folder, so the next daemon starts from them too (a cold `status` stats 256 folders, not 10 000
  files).
"""
from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Optional

USAGE_TTL_S = 5.0
COUNTS_FILE = ".counts.json"  # {shard name: [mtime_ns, entries, bytes]}
SETTLED_NS = 2_000_000_000    # a shard folder unchanged this long has a trustworthy count


class CacheStats:
    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._usage: Optional[tuple[int, int]] = None
        self._usage_at = 0.0
        self._jobs_seen = 0  # bumped by record(): a count taken before the bump is stale

    def record(self, hits: int, misses: int) -> None:
        """Count the prompt-cache lookups a finished job reports (EngineResult.prompt_cache_hits/_misses)."""
        self.hits += hits
        self.misses += misses
        self._usage = None  # a job may have added or evicted entries
        self._jobs_seen += 1

    async def usage(self) -> tuple[int, int]:
        """(entries, bytes) for `status`: the remembered count, or a fresh one taken on a thread."""
        usage = self.remembered_usage()
        if usage is None:
            generation = self.generation()
            usage = await asyncio.to_thread(self.disk_usage)
            self.remember(usage, generation)
        return usage

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
        """Count the folder (safe on a worker thread): only shards changed since the last count are listed."""
        known = _read_counts(self.folder)
        counts: dict[str, list[int]] = {}
        try:
            shards = [e for e in os.scandir(self.folder) if e.is_dir()]
        except OSError:
            return 0, 0
        for shard in shards:
            try:
                mtime = shard.stat().st_mtime_ns
            except OSError:
                continue
            old = known.get(shard.name)
            if old and old[0] == mtime:
                counts[shard.name] = old
            else:
                # file times tick coarsely (a few ms): a folder changed just now may change again within the
                # same tick, so its count is not trusted on the next call (mtime 0 forces a recount)
                settled = time.time_ns() - mtime > SETTLED_NS
                counts[shard.name] = [mtime if settled else 0, *_count_shard(shard.path)]
        if counts != known:
            _write_counts(self.folder, counts)
        return sum(c[1] for c in counts.values()), sum(c[2] for c in counts.values())


def _count_shard(path: str) -> tuple[int, int]:
    entries = size = 0
    try:
        for entry in os.scandir(path):
            if entry.name.endswith(".npz"):
                entries += 1
                size += entry.stat().st_size
    except OSError:
        pass
    return entries, size


def _read_counts(folder: Path) -> dict[str, list[int]]:
    try:
        data = json.loads((folder / COUNTS_FILE).read_text())
        return {k: [int(x) for x in v] for k, v in data.items() if isinstance(v, list) and len(v) == 3}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}  # absent or damaged: count everything once


def _write_counts(folder: Path, counts: dict[str, list[int]]) -> None:
    tmp = folder / f"{COUNTS_FILE}.{os.getpid()}.tmp"
    try:
        tmp.write_text(json.dumps(counts))
        os.replace(tmp, folder / COUNTS_FILE)
    except OSError:  # a read-only or full cache folder: counting still works, only slower
        try:
            tmp.unlink()
        except OSError:
            pass
