"""POST /v1/embeddings."""

from __future__ import annotations

from typing import Annotated, Literal, cast

import msgspec

from multai_core.protocol.common import Priority
from multai_core.protocol.completions import check_input_list

# msgspec allows one array type per union: the list's shape is checked in __post_init__.
EmbeddingInput = (
    Annotated[str, msgspec.Meta(min_length=1)]
    | Annotated[list[str | int | list[int]], msgspec.Meta(min_length=1, max_length=2048)]
)


class EmbeddingRequest(msgspec.Struct, kw_only=True):
    model: Annotated[str, msgspec.Meta(min_length=1)]
    input: EmbeddingInput
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[int, msgspec.Meta(ge=1)] | None = None
    user: str | None = None
    priority: Priority | None = None

    def __post_init__(self) -> None:
        if isinstance(self.input, list):
            check_input_list(self.input, "input")
            if any(item == "" for item in self.input):
                raise ValueError("`input` must not contain empty strings")

    def inputs(self) -> list[str] | list[list[int]]:
        """Every input as a list: strings, or token arrays."""
        if isinstance(self.input, str):
            return [self.input]
        if self.input and isinstance(self.input[0], int):
            return [cast(list[int], list(self.input))]
        return cast(list[str] | list[list[int]], list(self.input))


class Embedding(msgspec.Struct, kw_only=True, tag_field="object", tag="embedding"):
    index: int
    embedding: list[float] | str


class EmbeddingUsage(msgspec.Struct, kw_only=True):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(msgspec.Struct, kw_only=True, tag_field="object", tag="list"):
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage
