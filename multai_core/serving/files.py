"""/v1/files: an upload (a batch input file checked line by line first), its object, its
bytes, the caller's list and delete. Every lookup is the caller's own (Principal.id)."""

from __future__ import annotations

from dataclasses import dataclass

from anyio import to_thread

from multai_core.media.multipart import UploadedFile
from multai_core.plugin_api import principal
from multai_core.plugin_api.errors import InvalidRequest
from multai_core.protocol.files import UPLOAD_PURPOSES, File, FileDeleted, FileList, ListOrder
from multai_core.serving.batch_input import iter_batch_input
from multai_core.serving.file_store import FileObject
from multai_core.serving.services import Services


@dataclass(frozen=True)
class FileContent:
    data: bytes
    filename: str


def wire(file: FileObject) -> File:
    return File(
        id=file.id,
        bytes=file.bytes,
        created_at=file.created_at,
        filename=file.filename,
        purpose=file.purpose,
        status=file.status,
        expires_at=file.expires_at,
        status_details=file.status_details,
    )


def _purpose(value: str | None) -> str:
    accepted = " or ".join(f"'{p}'" for p in UPLOAD_PURPOSES)
    if value is None:
        raise InvalidRequest(
            f"The form field 'purpose' is missing; send {accepted}.", param="purpose"
        )
    if value not in UPLOAD_PURPOSES:
        raise InvalidRequest(
            f"purpose {value[:40]!r} is not served here; send {accepted}.", param="purpose"
        )
    return value


def _check_batch(content: bytes, max_lines: int) -> None:
    """Every line checked, none kept: a large file's requests as Python objects would take
    several times its size."""
    for _ in iter_batch_input(content, max_lines=max_lines):
        pass


async def upload(services: Services, purpose_field: str | None, file: UploadedFile | None) -> File:
    purpose = _purpose(purpose_field)
    if file is None:
        raise InvalidRequest(
            "The form has no file: send it in the field 'file' (curl -F file=@requests.jsonl).",
            param="file",
        )
    if purpose == "batch":
        max_lines = services.config.server.max_batch_lines
        await to_thread.run_sync(_check_batch, file.data, max_lines)
    owner = principal.current().id
    stored = await to_thread.run_sync(
        lambda: services.file_store.create(
            owner, filename=file.filename or "file", purpose=purpose, content=file.data
        )
    )
    return wire(stored)


async def retrieve(services: Services, file_id: str) -> File:
    owner = principal.current().id
    return wire(await to_thread.run_sync(services.file_store.get, owner, file_id))


async def content(services: Services, file_id: str) -> FileContent:
    owner = principal.current().id
    store = services.file_store

    def read() -> FileContent:
        file = store.get(owner, file_id)
        return FileContent(data=store.content(owner, file_id), filename=file.filename)

    return await to_thread.run_sync(read)


async def listing(
    services: Services, *, purpose: str | None, limit: int, after: str | None, order: ListOrder
) -> FileList:
    owner = principal.current().id
    page, has_more = await to_thread.run_sync(
        lambda: services.file_store.list(
            owner, purpose=purpose, limit=limit, after=after, order=order
        )
    )
    return FileList(
        data=[wire(file) for file in page],
        first_id=page[0].id if page else None,
        last_id=page[-1].id if page else None,
        has_more=has_more,
    )


async def delete(services: Services, file_id: str) -> FileDeleted:
    owner = principal.current().id
    deleted = await to_thread.run_sync(services.file_store.delete, owner, file_id)
    return FileDeleted(id=deleted.id)
