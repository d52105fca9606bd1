"""A fake Hugging Face Hub on 127.0.0.1 for `stepaudio models pull` tests (point HF_ENDPOINT at .url).

It serves local folders as model repositories with the endpoints huggingface_hub's snapshot_download uses
(read from huggingface_hub 2.4 hf_api.py / file_download.py):

    GET  /api/models/{repo}/revision/{rev}          repo info: id, sha (the commit), siblings
    GET  /api/models/{repo}/tree/{rev}[/{path}]     file listing: type, path, size, oid (+ lfs for weights)
    HEAD /{repo}/resolve/{rev}/{file}               metadata: ETag, X-Repo-Commit, Content-Length
    GET  /{repo}/resolve/{rev}/{file}               the bytes; honours `Range: bytes=N-` with 206

`faults[file] = [...]` scripts the next GETs of that file, one item each: an int n sends the full
Content-Length but only n bytes, then closes the connection (a dropped download); 500 answers an internal
server error. Used to test resuming. Every request is recorded in .requests.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"
LFS_SUFFIXES = (".safetensors", ".pt", ".onnx", ".npy")   # stored in LFS on the real hub


@dataclass
class Request:
    method: str
    path: str
    range: str | None


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class FakeHub:
    def __init__(self, repos: dict[str, Path]) -> None:
        self.repos = {name: Path(folder) for name, folder in repos.items()}
        self.faults: dict[str, list[int]] = {}
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_HEAD(self) -> None:
                hub.handle(self, head=True)

            def do_GET(self) -> None:
                hub.handle(self, head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FakeHub":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---- routing ---------------------------------------------------------------------------------------
    def files(self, repo: str) -> dict[str, Path]:
        root = self.repos[repo]
        return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file()}

    def handle(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        path = unquote(urlparse(h.path).path)
        with self.lock:
            self.requests.append(Request(h.command, path, h.headers.get("Range")))
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/revision/([^/]+)", path)
        if m:
            return self.repo_info(h, m.group(1))
        m = re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)(/.*)?", path)
        if m:
            return self.tree(h, m.group(1), (m.group(3) or "").strip("/"))
        m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if m:
            return self.resolve(h, m.group(1), m.group(3), head)
        self.error(h, 404, "EntryNotFound", f"no route for {path}")

    def error(self, h: BaseHTTPRequestHandler, status: int, code: str, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("X-Error-Code", code)
        h.send_header("X-Error-Message", message)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def json(self, h: BaseHTTPRequestHandler, data: object) -> None:
        body = json.dumps(data).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    # ---- endpoints -------------------------------------------------------------------------------------
    def repo_info(self, h: BaseHTTPRequestHandler, repo: str) -> None:
        if repo not in self.repos:
            return self.error(h, 404, "RepoNotFound", f"Repository Not Found for url: {h.path}")
        self.json(h, {"id": repo, "modelId": repo, "sha": COMMIT, "private": False,
                      "siblings": [{"rfilename": name} for name in self.files(repo)]})

    def entry(self, name: str, path: Path) -> dict:
        data = path.read_bytes()
        item = {"type": "file", "path": name, "size": len(data), "oid": _git_blob_sha1(data)}
        if name.endswith(LFS_SUFFIXES):
            item["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
        return item

    def tree(self, h: BaseHTTPRequestHandler, repo: str, sub: str) -> None:
        if repo not in self.repos:
            return self.error(h, 404, "RepoNotFound", "Repository Not Found")
        items = [self.entry(name, p) for name, p in self.files(repo).items()
                 if not sub or name.startswith(sub + "/")]
        self.json(h, items)

    def resolve(self, h: BaseHTTPRequestHandler, repo: str, name: str, head: bool) -> None:
        if repo not in self.repos:
            return self.error(h, 404, "RepoNotFound", "Repository Not Found")
        path = self.files(repo).get(name)
        if path is None:
            return self.error(h, 404, "EntryNotFound", f"{name} does not exist")
        data = path.read_bytes()
        entry = self.entry(name, path)
        etag = entry["lfs"]["oid"] if "lfs" in entry else entry["oid"]
        start = 0
        rng = h.headers.get("Range")
        if rng and not head:
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
            if m:
                start = int(m.group(1))
        with self.lock:
            queue = self.faults.get(name) or []
            fault = queue.pop(0) if queue and not head else None
        if fault == 500:
            return self.error(h, 500, "InternalError", "scripted failure")
        body = data[start:]
        h.send_response(206 if start else 200)
        h.send_header("ETag", f'"{etag}"')
        h.send_header("X-Repo-Commit", COMMIT)
        h.send_header("Accept-Ranges", "bytes")
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(len(body)))
        if start:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        if head:
            h.end_headers()
            return
        if fault is not None:
            h.send_header("Connection", "close")
            h.end_headers()
            h.wfile.write(body[:fault])
            h.wfile.flush()
            h.close_connection = True
            return
        h.end_headers()
        h.wfile.write(body)
