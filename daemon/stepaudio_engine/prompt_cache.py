"""Prompt cache: reference/input audio → (vq02, vq06, prompt mel, speaker embedding) on disk.

Key: SHA-256 of the decoded, mono, peak-capped float32 samples and their rate, plus CACHE_VERSION
(bump it when any stage that feeds the cache changes its numbers). One .npz per entry under
<cache_dir>/<key[:2]>/. Safe with several workers and daemons: entries are written to a unique temp
name and renamed into place (readers see whole files or none; two writers of one key write the same
bytes); eviction tolerates files that vanish under it. Bounded: least recently used entries (file
mtime, refreshed on every hit) are removed once the folder exceeds max_bytes.
"""
from __future__ import annotations

import hashlib
import logging
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from stepaudio_engine.tokenizer import AudioTokens
from stepaudio_engine.vocoder import PromptFeatures

log = logging.getLogger(__name__)

CACHE_VERSION = "2"  # 2: the vocoder prompt resamples with the float32-built kernel
STALE_TEMP_S = 3600.0  # temp files older than this belong to a dead writer


@dataclass
class PromptEntry:
    tokens: AudioTokens
    features: PromptFeatures


def audio_key(wav: np.ndarray, sr: int) -> str:
    h = hashlib.sha256(f"stepaudio-prompt-v{CACHE_VERSION}:{sr}:".encode())
    h.update(np.ascontiguousarray(wav, dtype="<f4").tobytes())
    return h.hexdigest()


class PromptCache:
    def __init__(self, folder: Optional[Path], max_bytes: int = 1 << 30) -> None:
        self.folder = Path(folder) if folder else None
        self.max_bytes = max_bytes

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.npz"

    def get(self, key: str) -> Optional[PromptEntry]:
        if self.folder is None:
            return None
        path = self._path(key)
        try:
            with np.load(path, allow_pickle=False) as data:
                entry = PromptEntry(
                    tokens=AudioTokens.from_codes(data["vq02"], data["vq06"]),
                    features=PromptFeatures.from_dict({"speech_feat": data["speech_feat"],
                                                       "embedding": data["embedding"]}))
            os.utime(path)  # LRU: a hit makes it recent
            return entry
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            log.warning("dropping unreadable cache entry %s: %s", path, exc)
            _unlink(path)
            return None

    def put(self, key: str, entry: PromptEntry) -> None:
        if self.folder is None:
            return
        path = self._path(key)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{id(entry):x}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                np.savez(fh, vq02=entry.tokens.vq02, vq06=entry.tokens.vq06,
                         speech_feat=entry.features.speech_feat, embedding=entry.features.embedding)
            os.replace(tmp, path)
        except OSError as exc:  # a full disk must not fail the job: the cache is an optimisation
            log.warning("could not write cache entry %s: %s", path, exc)
            _unlink(tmp)
            return
        self.evict()

    def get_text(self, key: str) -> Optional[str]:
        """A cached transcript of the input with this key (written by put_text)."""
        if self.folder is None:
            return None
        try:
            return self._path(key).with_suffix(".txt").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def put_text(self, key: str, text: str) -> None:
        if self.folder is None:
            return
        path = self._path(key).with_suffix(".txt")
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("could not write cached transcript %s: %s", path, exc)
            _unlink(tmp)  # a full disk leaves a partial temp file

    def stats(self) -> tuple[int, int]:
        """(entries, bytes) currently on disk."""
        files = self._files()
        return len(files), sum(size for _, size, _ in files)

    def evict(self) -> None:
        self._sweep_stale_temps()
        files = self._files()
        total = sum(size for _, size, _ in files)
        for path, size, _ in sorted(files, key=lambda f: f[2]):
            if total <= self.max_bytes:
                break
            _unlink(path)
            total -= size

    def _sweep_stale_temps(self) -> None:
        """Remove temp files of writers that died (a SIGKILLed worker never renames or deletes its temp
        file; eviction only counts *.npz, so they would pile up). A live write takes seconds, not an hour."""
        if self.folder is None or not self.folder.exists():
            return
        cutoff = time.time() - STALE_TEMP_S
        for tmp in self.folder.glob("*/.*.tmp"):
            try:
                if tmp.stat().st_mtime < cutoff:
                    _unlink(tmp)
            except OSError:
                continue

    def _files(self) -> list[tuple[Path, int, float]]:
        if self.folder is None or not self.folder.exists():
            return []
        out = []
        for path in self.folder.glob("*/*.npz"):
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            out.append((path, st.st_size, st.st_mtime))
        return out


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except (FileNotFoundError, UnboundLocalError, OSError):
        pass
