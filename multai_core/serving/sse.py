"""Server-sent events as OpenAI streams them: `data: <json>` lines, `data: [DONE]` at the end,
and on a failure after the stream started, a last `data: {"error": ...}` and no [DONE]."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import structlog

from multai_core.plugin_api.errors import InferenceFailed, MultaiError

log = structlog.get_logger(__name__)
_encoder = msgspec.json.Encoder()
DONE = b"data: [DONE]\n\n"


def event(payload: Any) -> bytes:
    return b"data: " + _encoder.encode(payload) + b"\n\n"


async def with_error_event(events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Pass events through; turn a failure into OpenAI's in-stream error event."""
    try:
        async for chunk in events:
            yield chunk
    except MultaiError as exc:
        yield event(exc.body())
        return
    except Exception as exc:
        log.error("stream_failed", error=type(exc).__name__)
        yield event(InferenceFailed("The stream failed; the server log has details.").body())
        return
    yield DONE
