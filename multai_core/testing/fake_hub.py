"""A Hugging Face hub on loopback for tests: repositories built in the test session, served well
enough for huggingface_hub pointed at it with HF_ENDPOINT (model info with LFS sizes and
sha256, resolve with HEAD, ETag, X-Repo-Commit, Content-Length and Range; the hub's error codes).

Faults for tests: ``corrupt`` serves other bytes than the recorded sha256; ``cut_after`` ends the
first download (not a closed range) of a file after that many bytes and answers 503 until
``heal`` is called."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    import pytest

LFS_SUFFIXES = (".gguf", ".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".onnx", ".npz", ".h5")
_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")
_INFO = re.compile(r"^/api/models/([^/]+/[^/]+?)(?:/revision/([^/]+))?/?$")
_RESOLVE = re.compile(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")
# huggingface_hub reads either as "offline"; a server made earlier in a test process sets both
OFFLINE_SWITCHES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def folder_files(folder: Path) -> dict[str, bytes]:
    """A local folder's files by their path inside it: what ``add_commit`` takes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@dataclass
class HubFile:
    content: bytes
    lfs: bool
    served: bytes | None = None  # what a download sends instead (a corrupt file)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def git_sha(self) -> str:
        header = f"blob {len(self.content)}\0".encode()
        return hashlib.sha1(header + self.content, usedforsecurity=False).hexdigest()


@dataclass
class HubRepo:
    commits: dict[str, dict[str, HubFile]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)


@dataclass
class _Fault:
    after: int
    tripped: bool = False


class FakeHub:
    """Start with ``with FakeHub() as hub``; ``hub.url`` is the HF_ENDPOINT."""

    def __init__(self) -> None:
        self.repos: dict[str, HubRepo] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Range header
        self._faults: dict[tuple[str, str], _Fault] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_commit(self, repo_id: str, files: Mapping[str, bytes]) -> str:
        """A new commit holding exactly ``files``; main points at it. Returns its sha."""
        sha = secrets.token_hex(20)
        repo = self.repos.setdefault(repo_id, HubRepo())
        repo.commits[sha] = {
            path: HubFile(data, lfs=path.endswith(LFS_SUFFIXES)) for path, data in files.items()
        }
        repo.refs["main"] = sha
        return sha

    def corrupt(self, repo_id: str, path: str) -> None:
        for files in self.repos[repo_id].commits.values():
            if path in files:
                good = files[path].content
                files[path].served = good[:-1] + bytes([good[-1] ^ 0xFF])  # the header stays good

    def cut_after(self, repo_id: str, path: str, after: int) -> None:
        self._faults[(repo_id, path)] = _Fault(after)

    def heal(self) -> None:
        self._faults.clear()

    def aim_this_process(self, monkeypatch: pytest.MonkeyPatch, hf_home: Path) -> None:
        """Point this process's huggingface_hub here, online, with its own HF_HOME.

        huggingface_hub read HF_ENDPOINT and the offline switches once, on import, which may
        have come before this hub existed or after a server in this process set the switches
        (create_app). The constants derived from HF_ENDPOINT are set as that import would have
        set them: huggingface_hub fetches its agent registry from ``constants.ENDPOINT``, which
        must not be the real hub."""
        from huggingface_hub import constants

        monkeypatch.setenv("HF_ENDPOINT", self.url)
        monkeypatch.setattr(constants, "ENDPOINT", self.url)
        template = self.url + "/{repo_id}/resolve/{revision}/{filename}"
        monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)
        for name in OFFLINE_SWITCHES:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setenv("HF_HOME", str(hf_home))

    def child_env(self, hf_home: Path) -> dict[str, str]:
        """The environment for a ``multai pull`` process aimed here: this one's, online,
        without a token."""
        drop = {*OFFLINE_SWITCHES, "HF_TOKEN"}
        env = {k: v for k, v in os.environ.items() if k not in drop}
        return env | {"HF_ENDPOINT": self.url, "HF_HOME": str(hf_home)}

    def downloaded(self, repo_id: str) -> set[str]:
        """The files of ``repo_id`` fetched whole: GETs without a closed range (header reads
        have one)."""
        prefix = f"/{repo_id}/resolve/"
        with self._lock:
            return {
                path.removeprefix(prefix).split("/", 1)[1]
                for method, path, range_ in self.requests
                if method == "GET"
                and path.startswith(prefix)
                and (range_ is None or range_.endswith("-"))
            }

    def ranges(self, path_suffix: str) -> list[str | None]:
        """The Range headers of the GETs whose path ends with ``path_suffix``."""
        with self._lock:
            return [r for m, p, r in self.requests if m == "GET" and p.endswith(path_suffix)]

    def _commit(self, repo_id: str, revision: str) -> tuple[str, dict[str, HubFile]] | None:
        repo = self.repos[repo_id]
        sha = repo.refs.get(revision, revision)
        return (sha, repo.commits[sha]) if sha in repo.commits else None


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._answer(head=True)

        def do_GET(self) -> None:
            self._answer(head=False)

        def _answer(self, *, head: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            with hub._lock:
                hub.requests.append((self.command, path, self.headers.get("Range")))
            if match := _INFO.match(path):
                self._info(match.group(1), match.group(2) or "main", head=head)
            elif match := _RESOLVE.match(path):
                self._resolve(match.group(1), match.group(2), match.group(3), head=head)
            else:
                self._error(404, "", "Not found")

        def _info(self, repo_id: str, revision: str, *, head: bool) -> None:
            found = self._find(repo_id, revision)
            if found is None:
                return
            sha, files = found
            siblings = [
                {
                    "rfilename": name,
                    "size": len(f.content),
                    "blobId": f.git_sha,
                    **(
                        {
                            "lfs": {
                                "sha256": f.sha256,
                                "size": len(f.content),
                                "pointerSize": 134,
                            }
                        }
                        if f.lfs
                        else {}
                    ),
                }
                for name, f in sorted(files.items())
            ]
            body = json.dumps(
                {"id": repo_id, "modelId": repo_id, "sha": sha, "siblings": siblings}
            ).encode()
            self._send(200, {"Content-Type": "application/json"}, body, head=head)

        def _resolve(self, repo_id: str, revision: str, name: str, *, head: bool) -> None:
            found = self._find(repo_id, revision)
            if found is None:
                return
            sha, files = found
            if name not in files:
                self._error(404, "EntryNotFound", "Entry not found", commit=sha)
                return
            file = files[name]
            data = file.served if file.served is not None else file.content
            headers = {
                "X-Repo-Commit": sha,
                "ETag": f'"{file.sha256 if file.lfs else file.git_sha}"',
                "Accept-Ranges": "bytes",
                "Content-Type": "application/octet-stream",
            }
            if head:
                self._send(200, headers, data, head=True)
                return
            fault = hub._faults.get((repo_id, name))
            if self.headers.get("Range", "").split("-")[-1]:
                fault = None  # a closed range reads a header: downloads are the faults' target
            if fault is not None and fault.tripped:
                self._error(503, "", "Service unavailable (a test fault)")
                return
            start = 0
            if (wanted := _RANGE.match(self.headers.get("Range", ""))) is not None:
                start = int(wanted.group(1))
                end = int(wanted.group(2)) + 1 if wanted.group(2) else len(data)
                if start >= len(data):
                    self._send(416, {"Content-Range": f"bytes */{len(data)}"}, b"", head=False)
                    return
                headers["Content-Range"] = f"bytes {start}-{min(end, len(data)) - 1}/{len(data)}"
                part = data[start:end]
            else:
                part = data
            if fault is not None:
                fault.tripped = True
                self._cut(200 if start == 0 else 206, headers, part, fault.after)
                return
            self._send(200 if start == 0 and "Content-Range" not in headers else 206, headers, part)

        def _find(self, repo_id: str, revision: str) -> tuple[str, dict[str, HubFile]] | None:
            if repo_id not in hub.repos:
                self._error(404, "RepoNotFound", "Repository not found")
                return None
            found = hub._commit(repo_id, revision)
            if found is None:
                self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return found

        def _cut(self, status: int, headers: dict[str, str], data: bytes, after: int) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:after])
            self.wfile.flush()
            self.close_connection = True

        def _error(self, status: int, code: str, message: str, commit: str | None = None) -> None:
            headers = {"Content-Type": "application/json", "X-Error-Message": message}
            if code:
                headers["X-Error-Code"] = code
            if commit:
                headers["X-Repo-Commit"] = commit
            body = json.dumps({"error": message}).encode()
            self._send(status, headers, body, head=self.command == "HEAD")

        def _send(
            self, status: int, headers: dict[str, str], body: bytes, *, head: bool = False
        ) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

    return Handler
