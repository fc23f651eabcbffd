"""GET /ready counts what GET /v1/models lists: the models, and their ids (names and aliases)."""

from __future__ import annotations

import httpx
from openai import OpenAI


def test_ready_names_both_counts(server: str, client: OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    ready = httpx.get(f"{server}/ready", timeout=10)
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "models": 2, "model_ids": len(ids)}
    assert len(ids) == 3  # echo, its alias echo-alias, slow
