"""POST /v1/embeddings: request -> job -> EmbeddingList (float arrays or base64 float32)."""

from __future__ import annotations

import base64
import struct

from multai_core.engine.scheduler import Job
from multai_core.plugin_api.errors import InferenceFailed
from multai_core.plugin_api.results import EmbeddingResult
from multai_core.plugin_api.task_text import EmbeddingTask
from multai_core.protocol.embeddings import (
    Embedding,
    EmbeddingList,
    EmbeddingRequest,
    EmbeddingUsage,
)
from multai_core.serving.jobs import collect, submit
from multai_core.serving.services import Services


def embedding_task(req: EmbeddingRequest) -> EmbeddingTask:
    return EmbeddingTask(inputs=req.inputs(), dimensions=req.dimensions)


def start(services: Services, req: EmbeddingRequest, request_id: str) -> Job:
    return submit(
        services,
        request_id=request_id,
        kind="embedding",
        payload=embedding_task(req),
        model=req.model,
        priority=req.priority,
    )


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        # OpenAI's base64 is the little-endian float32 array; the SDK decodes it that way.
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return vector


async def complete(job: Job, req: EmbeddingRequest) -> EmbeddingList:
    results = [r for r in await collect(job) if isinstance(r, EmbeddingResult)]
    if len(results) != 1:
        raise InferenceFailed(f"Model '{req.model}' returned no embeddings.")
    result = results[0]
    return EmbeddingList(
        data=[
            Embedding(index=i, embedding=_encode(v, req.encoding_format))
            for i, v in enumerate(result.vectors)
        ],
        model=req.model,
        usage=EmbeddingUsage(prompt_tokens=result.prompt_tokens, total_tokens=result.prompt_tokens),
    )
