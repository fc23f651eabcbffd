"""OpenAI's Batch API wire types: POST /v1/batches, the batch object and its list."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

BatchStatus = Literal[
    "validating",
    "failed",
    "in_progress",
    "finalizing",
    "completed",
    "expired",
    "cancelling",
    "cancelled",
]
ENDED: frozenset[str] = frozenset({"failed", "completed", "expired", "cancelled"})
"""A batch in one of these states runs nothing more."""

MetadataKey = Annotated[str, msgspec.Meta(max_length=64)]
MetadataValue = Annotated[str, msgspec.Meta(max_length=512)]


# plain strings, checked by serving, so that a wrong value gets a message listing the right ones
BatchEndpoint = Annotated[
    str,
    msgspec.Meta(
        description="/v1/chat/completions, /v1/completions, /v1/embeddings or /v1/responses"
    ),
]
CompletionWindow = Annotated[str, msgspec.Meta(description="24h, the only window OpenAI accepts")]


class BatchCreateRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    input_file_id: str
    endpoint: BatchEndpoint
    completion_window: CompletionWindow
    metadata: Annotated[dict[MetadataKey, MetadataValue], msgspec.Meta(max_length=16)] | None = None
    output_expires_after: dict[str, object] | None = None


class BatchError(msgspec.Struct, kw_only=True):
    code: str | None
    message: str
    param: str | None = None
    line: int | None = None


class BatchErrors(msgspec.Struct, kw_only=True):
    object: str = "list"
    data: list[BatchError]


class RequestCounts(msgspec.Struct, kw_only=True):
    total: int = 0
    completed: int = 0
    failed: int = 0


class Batch(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A field that is not set yet is left out, as OpenAI's schema has it (not null)."""

    id: str
    object: Literal["batch"]
    endpoint: str
    errors: BatchErrors | None = None
    input_file_id: str
    completion_window: str
    status: BatchStatus
    output_file_id: str | None = None
    error_file_id: str | None = None
    created_at: int
    in_progress_at: int | None = None
    expires_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None
    request_counts: RequestCounts
    metadata: dict[str, str] | None = None


class BatchList(msgspec.Struct, kw_only=True):
    object: str = "list"
    data: list[Batch]
    first_id: str | None
    last_id: str | None
    has_more: bool
