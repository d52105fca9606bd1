"""Downloading one model repository from the Hugging Face Hub, resumable across runs.

huggingface_hub's snapshot_download (2.x) resumes a dropped connection within one run but deletes the
partial file when the run fails or is interrupted (file_download._download_to_tmp_and_move), so a Ctrl-C
6 GB into a weight shard starts that shard again. We use huggingface_hub for the listing, the URLs, the
auth headers and its HTTP session (proxies, HF_ENDPOINT, HF_TOKEN), and move the bytes ourselves:

* the revision is resolved to one commit first, so a push during the download cannot mix two commits;
* a file already in place with the listed size is kept;
* other files go to `<folder>/.stepaudio-partial/<path>.part` with `Range: bytes=<have>-`: a 206 appends,
  a 200 starts over; a dropped connection or a 5xx is retried from where it stopped (MAX_ATTEMPTS);
* before a file is moved into place its size is checked, and its SHA-256 for LFS files (the weights);
  a mismatch deletes the part and fails.
A run that fails or is interrupted keeps its `.part` files: the next run continues them.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

PARTIAL_DIR = ".stepaudio-partial"
CHUNK = 1 << 20
MAX_ATTEMPTS = 5
RETRY_DELAYS_S = (0.25, 0.5, 1.0, 2.0)
TIMEOUT_S = 60.0


@dataclass
class RemoteFile:
    path: str                      # relative to the repository root, "/"-separated
    size: int
    sha256: Optional[str] = None   # LFS files only (the hub lists it; plain git files have a SHA-1 blob id)


@dataclass
class Plan:
    repo: str
    commit: str
    files: list[RemoteFile]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


class DownloadError(Exception):
    """A file could not be fetched or did not check out; the message names it."""


class TransientError(DownloadError):
    """Worth retrying: a dropped connection, a timeout, a 5xx."""


# progress(file, bytes_done_in_file, file_size): called as bytes arrive (and once with 0 per file)
Progress = Callable[[RemoteFile, int, int], None]


def plan(repo: str, revision: str) -> Plan:
    """The repository's files at the commit `revision` names (raises huggingface_hub errors)."""
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

    api = HfApi()
    commit = api.repo_info(repo, revision=revision).sha or revision
    files = [RemoteFile(entry.path, int(entry.size or 0), entry.lfs.sha256 if entry.lfs else None)
             for entry in api.list_repo_tree(repo, revision=commit, recursive=True)
             if isinstance(entry, RepoFile)]
    return Plan(repo, commit, sorted(files, key=lambda f: f.path))


def missing(plan_: Plan, folder: Path) -> list[RemoteFile]:
    """Files not yet in place with their listed size."""
    out = []
    for f in plan_.files:
        target = folder / f.path
        if not (target.is_file() and target.stat().st_size == f.size):
            out.append(f)
    return out


def download(plan_: Plan, folder: Path, progress: Progress) -> list[RemoteFile]:
    """Fetch every missing file of the plan into folder; returns those fetched."""
    todo = missing(plan_, folder)
    for f in todo:
        _fetch_with_retries(plan_, f, folder, progress)
    partial = folder / PARTIAL_DIR
    if partial.is_dir() and not any(p.is_file() for p in partial.rglob("*")):
        _remove_empty_tree(partial)
    return todo


def _fetch_with_retries(plan_: Plan, f: RemoteFile, folder: Path, progress: Progress) -> None:
    part = folder / PARTIAL_DIR / (f.path + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(MAX_ATTEMPTS):
        try:
            _fetch(plan_, f, part, progress)
            break
        except TransientError:
            if attempt == MAX_ATTEMPTS - 1:
                raise
            time.sleep(RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S) - 1)])
    _check_and_place(f, part, folder / f.path)


def _fetch(plan_: Plan, f: RemoteFile, part: Path, progress: Progress) -> None:
    """Bring `part` to the file's full size, continuing from what it already holds."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers, get_session

    have = part.stat().st_size if part.exists() else 0
    if have > f.size:  # not a prefix of this file (e.g. the repository changed): start over
        part.unlink()
        have = 0
    progress(f, have, f.size)
    if have == f.size:
        return
    headers = build_hf_headers()
    if have:
        headers["Range"] = f"bytes={have}-"
    url = hf_hub_url(plan_.repo, f.path, revision=plan_.commit)
    try:
        with get_session().stream("GET", url, headers=headers, follow_redirects=True, timeout=TIMEOUT_S) as reply:
            _raise_for_status(reply, f)
            mode = "ab" if have and reply.status_code == 206 else "wb"  # a 200 ignores the range: the whole file
            done = have if mode == "ab" else 0
            with open(part, mode) as out:
                for chunk in reply.iter_bytes():  # as received: a drop loses nothing already read
                    out.write(chunk)
                    done += len(chunk)
                    progress(f, done, f.size)
    except DownloadError:
        raise
    except Exception as exc:  # the session's transport errors (httpx / httpx2 / httpcore)
        if type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "h11"):
            raise TransientError(f"{f.path}: {type(exc).__name__}: {exc}") from None
        raise
    if part.stat().st_size < f.size:
        raise TransientError(f"{f.path}: the connection closed at {part.stat().st_size} of {f.size} bytes")


def _raise_for_status(reply, f: RemoteFile) -> None:
    if reply.status_code < 400:
        return
    reply.read()
    if reply.status_code >= 500 or reply.status_code == 429:
        raise TransientError(f"{f.path}: the hub answered HTTP {reply.status_code}")
    from huggingface_hub.utils import hf_raise_for_status

    hf_raise_for_status(reply)  # 401/403/404 … as huggingface_hub's own errors
    raise DownloadError(f"{f.path}: the hub answered HTTP {reply.status_code}")


def _check_and_place(f: RemoteFile, part: Path, target: Path) -> None:
    size = part.stat().st_size
    if size != f.size:
        part.unlink()
        raise DownloadError(f"{f.path}: got {size} bytes, the hub lists {f.size}; the partial file was deleted")
    if f.sha256 is not None:
        digest = _sha256(part)
        if digest != f.sha256:
            part.unlink()
            raise DownloadError(f"{f.path}: SHA-256 {digest[:12]}… differs from the hub's {f.sha256[:12]}…; "
                                "the partial file was deleted")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, target)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK * 8), b""):
            h.update(block)
    return h.hexdigest()


def _remove_empty_tree(root: Path) -> None:
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        folder.rmdir()
    root.rmdir()
