"""The stored side of the Responses API: continuing from previous_response_id, keeping a
finished response, and GET / DELETE / input_items on a stored one. Every lookup is the
caller's own (Principal.id); another key's response is a 404 like an unknown one."""

from __future__ import annotations

import asyncio
from typing import Literal

from multai_core.plugin_api import principal
from multai_core.protocol import responses as api
from multai_core.serving.response_store import ResponseNotFound, Stored
from multai_core.serving.responses import Finished, Prepared
from multai_core.serving.responses_input import item_dicts, parse_items
from multai_core.serving.services import Services


async def _stored(services: Services, response_id: str, param: str | None = None) -> Stored:
    found = await asyncio.to_thread(
        services.response_store.get, principal.current().id, response_id
    )
    if found is None:
        raise ResponseNotFound.named(response_id, param)
    return found


async def history(services: Services, previous_response_id: str | None) -> list[api.InputItem]:
    """The conversation a response continuing ``previous_response_id`` sees first."""
    if previous_response_id is None:
        return []
    stored = await _stored(services, previous_response_id, "previous_response_id")
    return parse_items(stored.conversation(), "previous_response_id")


def keeper(services: Services, prepared: Prepared) -> Finished | None:
    """What stores the finished response (None when the request said store=false). The
    caller is read now, while the request's context holds it."""
    if not prepared.response.store:
        return None
    owner = principal.current().id
    store = services.response_store

    async def keep(response: api.Response) -> None:
        await asyncio.to_thread(
            store.put, owner, response, item_dicts(prepared.items), item_dicts(prepared.history)
        )

    return keep


async def retrieve(services: Services, response_id: str) -> api.Response:
    return (await _stored(services, response_id)).response


async def input_items(
    services: Services,
    response_id: str,
    *,
    limit: int,
    order: Literal["asc", "desc"],
    after: str | None,
) -> api.ItemList:
    items = (await _stored(services, response_id)).input_items
    if order == "desc":
        items = items[::-1]
    if after is not None:
        ids = [item.get("id") for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    page = items[:limit]
    return api.ItemList(
        data=page,
        first_id=page[0].get("id") if page else None,
        last_id=page[-1].get("id") if page else None,
        has_more=len(items) > limit,
    )


async def delete(services: Services, response_id: str) -> api.Deleted:
    deleted = await asyncio.to_thread(
        services.response_store.delete, principal.current().id, response_id
    )
    if not deleted:
        raise ResponseNotFound.named(response_id)
    return api.Deleted(id=response_id)
