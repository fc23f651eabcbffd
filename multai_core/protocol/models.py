from __future__ import annotations

import msgspec


class Model(msgspec.Struct, kw_only=True, tag_field="object", tag="model"):
    id: str
    created: int
    owned_by: str


class ModelList(msgspec.Struct, kw_only=True, tag_field="object", tag="list"):
    data: list[Model]
