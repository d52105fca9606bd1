"""CacheStats: status's cache figures are remembered between calls and recounted after a job."""
from __future__ import annotations

from pathlib import Path

from stepaudiod import cache_stats
from stepaudiod.cache_stats import CacheStats


def _entry(folder: Path, name: str, size: int) -> None:
    (folder / name[:2]).mkdir(parents=True, exist_ok=True)
    (folder / name[:2] / f"{name}.npz").write_bytes(b"x" * size)


def test_usage_is_remembered_until_a_job_finishes_or_the_ttl_passes(tmp_path, monkeypatch):
    stats = CacheStats(tmp_path, 1 << 20)
    _entry(tmp_path, "aa01", 10)
    assert stats.remembered_usage() is None
    stats.remember(stats.disk_usage(), stats.generation())
    assert stats.remembered_usage() == (1, 10)
    _entry(tmp_path, "bb02", 5)                   # a file appears without a job (another daemon's worker)
    assert stats.remembered_usage() == (1, 10)    # … seen only after the TTL
    stats.record({"prompt_cache": "miss"})        # a job finished: recount
    assert stats.remembered_usage() is None and stats.misses == 1
    stats.remember(stats.disk_usage(), stats.generation())
    assert stats.remembered_usage() == (2, 15)
    monkeypatch.setattr(cache_stats, "USAGE_TTL_S", -1.0)
    assert stats.remembered_usage() is None


def test_a_count_overtaken_by_a_job_is_not_kept(tmp_path):
    stats = CacheStats(tmp_path, 1 << 20)
    generation = stats.generation()
    usage = stats.disk_usage()                    # counting on a thread …
    stats.record({"prompt_cache": "hit"})         # … while a job finishes
    stats.remember(usage, generation)
    assert stats.remembered_usage() is None
