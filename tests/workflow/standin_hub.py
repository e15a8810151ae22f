"""A stand-in for the Hugging Face Hub on 127.0.0.1, for tests of the download rules.

It answers the HTTP endpoints the real `huggingface_hub` and `datasets` clients call when
`HF_ENDPOINT` points at it, from repositories held in memory:

    GET  /api/{models|datasets}/{owner}/{name}[/revision/{rev}]     repository info (siblings, sha)
    GET  /api/{models|datasets}/{owner}/{name}/tree/{rev}[/{path}]  folder listing (recursive=...)
    POST /api/{models|datasets}/{owner}/{name}/paths-info/{rev}     info about given paths
    HEAD/GET /{owner}/{name}/resolve/{rev}/{file}                   a model file (Range supported)
    HEAD/GET /datasets/{owner}/{name}/resolve/{rev}/{file}          a dataset file

Anything else is answered 404 and recorded in `unknown`, so a test sees when a client starts calling
something new. Every request is recorded in `requests`.

The builders below lay repositories out as the Hub does: a dataset is one parquet file per config
and split (`sst2/train-00000-of-00001.parquet`) and a README whose YAML header lists the configs;
a model is config, tokenizer files and `model.safetensors`.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import threading
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

SHA = "0123456789abcdef0123456789abcdef01234567"  # the one commit every repository is at


class Repo:
    def __init__(self, kind: str, repo_id: str, files: Mapping[str, bytes], card: dict | None = None):
        assert kind in ("model", "dataset") and repo_id.count("/") == 1, (kind, repo_id)
        self.kind, self.id, self.files, self.card = kind, repo_id, dict(files), card or {}

    def info(self) -> dict[str, Any]:
        siblings = [{"rfilename": p, "size": len(b), "blobId": _git_oid(b)} for p, b in sorted(self.files.items())]
        return {
            "_id": hashlib.sha1(self.id.encode()).hexdigest()[:24], "id": self.id, "sha": SHA,
            "author": self.id.split("/")[0], "private": False, "disabled": False, "gated": False,
            "downloads": 0, "likes": 0, "tags": [], "lastModified": "2024-01-01T00:00:00.000Z",
            "createdAt": "2024-01-01T00:00:00.000Z", "siblings": siblings, "cardData": self.card,
            "usedStorage": sum(len(b) for b in self.files.values()),
        }

    def entries(self, folder: str, recursive: bool) -> list[dict[str, Any]]:
        """Tree entries under `folder` ("" for the root): files and sub-folders, as the Hub lists them."""
        prefix = f"{folder.strip('/')}/" if folder.strip("/") else ""
        out, dirs = [], set()
        for path in sorted(self.files):
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix):]
            parts = rest.split("/")
            for depth in range(1, len(parts)):
                if depth > 1 and not recursive:
                    break
                dirs.add(prefix + "/".join(parts[:depth]))
            if recursive or len(parts) == 1:
                out.append(self.entry(path))
        out += [{"type": "directory", "oid": _git_oid(d.encode()), "size": 0, "path": d} for d in sorted(dirs)]
        return sorted(out, key=lambda e: e["path"])

    def entry(self, path: str) -> dict[str, Any]:
        if path in self.files:
            data = self.files[path]
            e = {"type": "file", "oid": _git_oid(data), "size": len(data), "path": path}
            if path.endswith((".parquet", ".safetensors")):
                e["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            return e
        if any(p.startswith(path.rstrip("/") + "/") for p in self.files):
            return {"type": "directory", "oid": _git_oid(path.encode()), "size": 0, "path": path.rstrip("/")}
        return {}


def _git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class StandInHub:
    """`with StandInHub([repos...]) as hub:` serves the repositories at `hub.url` until the block ends."""

    def __init__(self, repos: Sequence[Repo]):
        self.repos = {(r.kind, r.id): r for r in repos}
        self.requests: list[str] = []
        self.unknown: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> StandInHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet; requests are recorded instead
                pass

            def do_GET(self):
                hub._handle(self, "GET")

            def do_HEAD(self):
                hub._handle(self, "HEAD")

            def do_POST(self):
                hub._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # --- routing ------------------------------------------------------------------------------

    _API = re.compile(r"/api/(models|datasets)/([^/]+/[^/]+?)(?:/(revision|tree|paths-info)/([^/]+)(/.*)?)?")
    _RESOLVE = re.compile(r"/(datasets/)?([^/]+/[^/]+)/resolve/([^/]+)/(.+)")

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(h.path)
        path, query = unquote(url.path), parse_qs(url.query)
        body = b""
        if method == "POST":
            body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        self.requests.append(f"{method} {h.path}")
        m = self._API.fullmatch(path)
        if m:
            kind = "model" if m.group(1) == "models" else "dataset"
            repo = self.repos.get((kind, m.group(2)))
            if repo is None:
                return self._send(h, method, 404, _json({"error": "Repository not found"}),
                                  {"X-Error-Code": "RepoNotFound"})
            if m.group(4) and m.group(4) not in ("main", SHA):
                return self._send(h, method, 404, _json({"error": "Invalid rev id"}),
                                  {"X-Error-Code": "RevisionNotFound"})
            what = m.group(3)
            if what in (None, "revision"):
                return self._send(h, method, 200, _json(repo.info()))
            if what == "tree":
                recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
                folder = (m.group(5) or "").strip("/")
                if folder and folder not in {e["path"] for e in repo.entries("", True) if e["type"] == "directory"}:
                    return self._send(h, method, 404, _json({"error": "Entry not found"}),
                                      {"X-Error-Code": "EntryNotFound"})
                return self._send(h, method, 200, _json(repo.entries(folder, recursive)))
            if what == "paths-info":
                paths = _posted_paths(body, h.headers.get("Content-Type", ""))
                found = [e for e in (repo.entry(p) for p in paths) if e]
                return self._send(h, method, 200, _json(found))
        m = self._RESOLVE.fullmatch(path)
        if m and method in ("GET", "HEAD"):
            kind = "dataset" if m.group(1) else "model"
            repo = self.repos.get((kind, m.group(2)))
            if repo is None:
                return self._send(h, method, 404, b"Repository not found", {"X-Error-Code": "RepoNotFound"})
            if m.group(3) not in ("main", SHA):
                return self._send(h, method, 404, b"Invalid rev id", {"X-Error-Code": "RevisionNotFound"})
            data = repo.files.get(m.group(4))
            if data is None:
                return self._send(h, method, 404, b"Entry not found", {"X-Error-Code": "EntryNotFound"})
            return self._send_file(h, method, data)
        self.unknown.append(f"{method} {h.path}")
        return self._send(h, method, 404, _json({"error": "not served by the stand-in Hub"}))

    def _send_file(self, h: BaseHTTPRequestHandler, method: str, data: bytes) -> None:
        etag = hashlib.sha256(data).hexdigest()
        headers = {"ETag": f'"{etag}"', "X-Repo-Commit": SHA, "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream"}
        rng = h.headers.get("Range")
        if rng:
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
            if m:
                start = int(m.group(1)) if m.group(1) else max(0, len(data) - int(m.group(2)))
                end = int(m.group(2)) if m.group(1) and m.group(2) else len(data) - 1
                end = min(end, len(data) - 1)
                if start >= len(data):
                    return self._send(h, method, 416, b"", {"Content-Range": f"bytes */{len(data)}"})
                headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
                return self._send(h, method, 206, data[start:end + 1], headers)
        return self._send(h, method, 200, data, headers)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, method: str, status: int, body: bytes,
              headers: Mapping[str, str] | None = None) -> None:
        h.send_response(status)
        headers = dict(headers or {})
        headers.setdefault("Content-Type", "application/json")
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if method != "HEAD":
            h.wfile.write(body)


def _json(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def _posted_paths(body: bytes, content_type: str) -> list[str]:
    text = body.decode()
    if "json" in content_type:
        paths = json.loads(text or "{}").get("paths", [])
    else:
        paths = parse_qs(text).get("paths", [])
    return [paths] if isinstance(paths, str) else list(paths)


# --- repositories laid out as the Hub lays them out ------------------------------------------------

def dataset_repo(repo_id: str, splits: Mapping[str, Mapping[str, Any]]) -> Repo:
    """A parquet dataset: `splits` maps config -> split -> `datasets.Dataset` (features included).

    Files are `<config>/<split>-00000-of-00001.parquet` and the README's YAML header lists each config's
    data files, as on the Hub (e.g. nyu-mll/glue, rajpurkar/squad: config `plain_text`)."""
    files: dict[str, bytes] = {}
    configs = []
    for config, by_split in splits.items():
        data_files = []
        for split, ds in by_split.items():
            buf = io.BytesIO()
            ds.to_parquet(buf)
            files[f"{config}/{split}-00000-of-00001.parquet"] = buf.getvalue()
            data_files.append({"split": split, "path": f"{config}/{split}-*"})
        configs.append({"config_name": config, "data_files": data_files})
    card = {"configs": configs}
    files["README.md"] = ("---\n" + yaml.safe_dump(card, sort_keys=False) + "---\n\n# " + repo_id + "\n").encode()
    files[".gitattributes"] = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"
    return Repo("dataset", repo_id, files, card)


def model_repo(repo_id: str, folder) -> Repo:
    """A model repository with every file of a saved model folder (config, tokenizer, safetensors)."""
    from pathlib import Path

    folder = Path(folder)
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    files[".gitattributes"] = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
    files["README.md"] = f"# {repo_id}\n".encode()
    return Repo("model", repo_id, files)
