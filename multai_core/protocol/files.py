"""/v1/files: OpenAI's file object, the list of them and the answer to a delete."""

from __future__ import annotations

from typing import Literal

import msgspec

UploadPurpose = Literal["batch", "user_data"]
"""The purposes a client may upload with here (batch_output files are the batches' own)."""
UPLOAD_PURPOSES: tuple[str, ...] = ("batch", "user_data")
ListOrder = Literal["asc", "desc"]
MAX_LIST_LIMIT = 10_000


class File(msgspec.Struct, kw_only=True, omit_defaults=True, tag="file", tag_field="object"):
    """OpenAI's file object; expires_at and status_details are left out when they have no
    value, as OpenAI's published schema wants them absent rather than null."""

    id: str
    bytes: int
    created_at: int
    filename: str
    purpose: str
    status: str  # "uploaded", "processed" or "error"; always "processed" here
    expires_at: int | None = None
    status_details: str | None = None


class FileList(msgspec.Struct, kw_only=True, tag="list", tag_field="object"):
    data: list[File]
    first_id: str | None
    last_id: str | None
    has_more: bool


class FileDeleted(msgspec.Struct, kw_only=True, tag="file", tag_field="object"):
    id: str
    deleted: bool = True
