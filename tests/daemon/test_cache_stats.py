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
    stats.record(hits=0, misses=1)                # a job finished: recount
    assert stats.remembered_usage() is None and stats.misses == 1
    stats.remember(stats.disk_usage(), stats.generation())
    assert stats.remembered_usage() == (2, 15)
    monkeypatch.setattr(cache_stats, "USAGE_TTL_S", -1.0)
    assert stats.remembered_usage() is None


def test_a_count_overtaken_by_a_job_is_not_kept(tmp_path):
    stats = CacheStats(tmp_path, 1 << 20)
    generation = stats.generation()
    usage = stats.disk_usage()                    # counting on a thread …
    stats.record(hits=1, misses=0)                # … while a job finishes
    stats.remember(usage, generation)
    assert stats.remembered_usage() is None


def test_counts_are_kept_per_shard_and_survive_a_new_daemon(tmp_path, monkeypatch):
    import os

    for name in ("aa01", "aa02", "bb01"):
        _entry(tmp_path, name, 10)
    old = 1_000_000_000_000_000_000
    for shard in ("aa", "bb"):
        os.utime(tmp_path / shard, ns=(old, old))  # settled long ago
    assert CacheStats(tmp_path, 1 << 20).disk_usage() == (3, 30)
    assert (tmp_path / cache_stats.COUNTS_FILE).is_file()

    # a new daemon trusts the saved count of an unchanged shard: prove it by hiding a file behind the
    # shard's back (same mtime), which only a full listing would see
    (tmp_path / "aa" / "aa01.npz").rename(tmp_path / "aa01.npz.moved")
    os.utime(tmp_path / "aa", ns=(old, old))
    assert CacheStats(tmp_path, 1 << 20).disk_usage() == (3, 30)
    # a shard whose folder changed is listed again
    _entry(tmp_path, "bb02", 5)
    assert CacheStats(tmp_path, 1 << 20).disk_usage() == (4, 35)
    # a damaged counts file means one full count
    (tmp_path / cache_stats.COUNTS_FILE).write_text("{not json")
    assert CacheStats(tmp_path, 1 << 20).disk_usage() == (3, 25)


def test_a_shard_changed_just_now_is_recounted_next_time(tmp_path):
    _entry(tmp_path, "cc01", 4)
    stats = CacheStats(tmp_path, 1 << 20)
    assert stats.disk_usage() == (1, 4)
    _entry(tmp_path, "cc02", 4)  # may land within the same file-time tick as the first entry
    assert stats.disk_usage() == (2, 8)
