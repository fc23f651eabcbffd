"""The Hugging Face hub through huggingface_hub (imported here only: `multai serve` never
loads it): a repository's files at a revision, byte ranges, and resumable downloads. Hub
failures become PullRefused with what to do."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from multai_core.store.catalog import PullRefused
from multai_core.store.progress import Progress

INCOMPLETE = ".incomplete"  # the folder, inside the model's, that holds partial downloads


@dataclass(frozen=True)
class HubFile:
    path: str
    size: int
    sha256: str | None  # LFS files only; small git files have none


@dataclass(frozen=True)
class Snapshot:
    repo: str
    revision: str  # the commit sha
    files: dict[str, HubFile]


def endpoint() -> str:
    """HF_ENDPOINT as it is now (huggingface_hub reads it once, at import)."""
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or str(constants.ENDPOINT)).rstrip("/")


@contextmanager
def hub_errors(repo: str, revision: str | None) -> Iterator[None]:
    """Translate huggingface_hub's and httpx's errors into PullRefused."""
    import httpx2  # huggingface_hub's own HTTP client
    from huggingface_hub import errors

    try:
        yield
    except errors.RevisionNotFoundError as exc:
        raise PullRefused(f"{repo} has no revision {revision!r} (a branch, tag or commit)") from exc
    except errors.RepositoryNotFoundError as exc:
        raise PullRefused(
            f"repository {repo} not found at {endpoint()} (check the name; a private or gated "
            "repository needs HF_TOKEN)"
        ) from exc
    except errors.OfflineModeIsEnabled as exc:
        raise PullRefused(
            "HF_HUB_OFFLINE is set, so nothing can be downloaded: unset it to pull"
        ) from exc
    except errors.HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise PullRefused(
            f"the hub at {endpoint()} answered {status} for {repo}; run the pull again "
            "(a download resumes where it stopped)"
        ) from exc
    except httpx2.ConnectError as exc:
        raise PullRefused(
            f"cannot reach the hub at {endpoint()} ({type(exc).__name__}). Check the network or "
            "HF_ENDPOINT (a mirror); to use only models already pulled, set HF_HUB_OFFLINE=1"
        ) from exc
    except httpx2.TransportError as exc:
        raise PullRefused(
            f"the connection to {endpoint()} broke ({type(exc).__name__}); run the pull again "
            "(a download resumes where it stopped)"
        ) from exc


def _offline_check() -> None:
    from huggingface_hub import constants

    # huggingface_hub takes either switch for "offline"; name the one the operator must unset
    on = [
        name
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
        if os.environ.get(name, "").upper() in ("1", "ON", "YES", "TRUE")
    ]
    if on or constants.is_offline_mode():
        names = " and ".join(on or ["HF_HUB_OFFLINE"])
        raise PullRefused(
            f"{names} {'are' if len(on) > 1 else 'is'} set, so nothing can be fetched from "
            f"{endpoint()}: unset {'them' if len(on) > 1 else 'it'} to pull"
        )


def snapshot(repo: str, revision: str | None) -> Snapshot:
    """The repository's files, sizes and sha256 at ``revision`` (None: the newest)."""
    from huggingface_hub import HfApi

    _offline_check()
    with hub_errors(repo, revision):
        info = HfApi(endpoint=endpoint()).model_info(
            repo, revision=revision, files_metadata=True, timeout=30
        )
    files = {
        s.rfilename: HubFile(
            s.rfilename,
            int(s.lfs.size if s.lfs is not None else s.size or 0),
            s.lfs.sha256 if s.lfs is not None else None,
        )
        for s in info.siblings or []
    }
    if not info.sha:
        raise PullRefused(f"the hub at {endpoint()} gave no commit for {repo}")
    return Snapshot(repo, info.sha, files)


def _url(snap: Snapshot, path: str) -> str:
    from huggingface_hub import hf_hub_url

    return str(hf_hub_url(snap.repo, path, revision=snap.revision, endpoint=endpoint()))


def _headers() -> dict[str, str]:
    from huggingface_hub.utils._headers import build_hf_headers

    return dict(build_hf_headers(library_name="multai"))


def read_range(snap: Snapshot, path: str, start: int, end: int) -> bytes:
    """Bytes ``start`` to ``end`` (exclusive) of one file, by an HTTP Range request."""
    from huggingface_hub import get_session, hf_raise_for_status

    headers = _headers() | {"Range": f"bytes={start}-{end - 1}"}
    with hub_errors(snap.repo, snap.revision):
        response = get_session().get(
            _url(snap, path), headers=headers, follow_redirects=True, timeout=30
        )
        hf_raise_for_status(response)
    data: bytes = response.content
    # a server that ignores Range sends the whole file: keep what was asked for
    return data[: end - start] if response.status_code == 200 and start == 0 else data


class _Counting:
    """The partial file, counting what huggingface_hub writes into it for the progress."""

    def __init__(self, file: BinaryIO, on_bytes: Callable[[int], None]) -> None:
        self._file = file
        self._on_bytes = on_bytes

    def write(self, data: bytes) -> int:
        written = self._file.write(data)
        self._on_bytes(len(data))
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


def download(snap: Snapshot, path: str, folder: Path, progress: Progress) -> Path:
    """Fetch one file into ``folder``, resuming a partial one left by an interrupted pull, and
    check its sha256 against the hub's."""
    from huggingface_hub.file_download import http_get

    file = snap.files[path]
    target = folder / path
    partial = folder / INCOMPLETE / f"{snap.revision}" / path
    partial.parent.mkdir(parents=True, exist_ok=True)
    if partial.exists() and partial.stat().st_size > file.size:
        partial.unlink()
    resume = partial.stat().st_size if partial.exists() else 0
    progress.start_file(path, file.size)
    if resume:
        progress.resumed(resume)
    try:
        with partial.open("ab") as out, hub_errors(snap.repo, snap.revision):
            http_get(
                _url(snap, path),
                _Counting(out, progress.advance),  # type: ignore[arg-type]
                resume_size=resume,
                headers=_headers(),
                expected_size=file.size,
            )
    except OSError as exc:
        if _disk_full(exc):
            partial.unlink(missing_ok=True)
            raise PullRefused(
                f"the disk under {folder} is full: {path} was removed, nothing was recorded"
            ) from exc
        raise
    if file.sha256 is not None and (got := _sha256(partial)) != file.sha256:
        partial.unlink()
        raise PullRefused(
            f"{path} of {snap.repo} does not match the hub's checksum (sha256 {got[:12]}... "
            f"instead of {file.sha256[:12]}...): the file was removed; pull again"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(partial, target)
    progress.end_file()
    return target


def _disk_full(exc: OSError) -> bool:
    import errno

    return exc.errno in (errno.ENOSPC, errno.EDQUOT) or "not enough free disk" in str(exc).lower()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(4 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
