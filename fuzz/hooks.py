"""Schemathesis hooks for the fuzzing run: generated requests keep their shape, but the work
they ask for is capped so that a thousand requests fit in a few minutes on two CPU cores."""

from __future__ import annotations

import os
import zlib
from typing import Any

import schemathesis

from multai_core.protocol.chat import MAX_TOKENS

# field -> (cap, the documented maximum): a value over the maximum is left as generated, since
# capping it would turn a request the server must reject into a valid one
CAPS = {
    "max_tokens": (8, MAX_TOKENS),
    "max_completion_tokens": (8, MAX_TOKENS),
    "n": (2, 128),
    "number_of_images": (1, 10),
}


MODEL = os.environ.get("MULTAI_FUZZ_MODEL", "smollm2")


@schemathesis.hook
def map_body(_context: Any, body: Any) -> Any:
    if isinstance(body, dict):
        # most requests name the served model, so that fuzzing reaches the model's code;
        # the rest keep their generated name and exercise the unknown-model path
        model = body.get("model")
        if isinstance(model, str) and model and zlib.crc32(repr(sorted(body)).encode()) % 5:
            body["model"] = MODEL
        for key, (cap, maximum) in CAPS.items():
            value = body.get(key)
            # 59.0 is an integer to JSON Schema, and the server accepts it as one
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if cap < value <= maximum:
                body[key] = cap
        if ("messages" in body or "prompt" in body) and body.get("max_tokens") is None:
            body["max_tokens"] = 8  # absent or null would mean "until the context is full"
        if body.get("max_completion_tokens", 0) is None:
            body["max_completion_tokens"] = 8
    return body
