"""http(s) image URLs where the operator enabled allow_remote_images: fetched with a time limit
(for the whole fetch, not per read) and a byte cap enforced while the body streams in. The
images come from a local server on 127.0.0.1; nothing leaves the machine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from conftest import MODEL, SERVER_ENV, write_config
from openai import OpenAI

from multai_core.testing.image_host import CAP, PNG, image_host, image_part
from multai_core.testing.server import multai_process, threaded_server


@pytest.fixture(scope="module")
def host() -> Iterator[str]:
    with threaded_server(image_host) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def remote_client(tiny_llava: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAI]:
    config = write_config(
        tmp_path_factory.mktemp("remote") / "multai.toml",
        tiny_llava,
        {"allow_remote_images": True, "remote_image_timeout_s": 1.0, "max_image_bytes": CAP},
    )
    with multai_process(config=config, env=SERVER_ENV) as base_url:
        yield OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=60)


def ask(client: OpenAI, *urls: str) -> Any:
    return client.chat.completions.create(
        model=MODEL,
        messages=[
            {
                "role": "user",
                "content": [{"type": "text", "text": "Look."}, *(image_part(u) for u in urls)],
            }
        ],
        max_tokens=3,
        temperature=0,
    )


def test_fetched_image_is_the_same_as_inline(remote_client: OpenAI, host: str) -> None:
    import base64

    fetched = ask(remote_client, f"{host}/part.png", f"{host}/moved")
    inline_url = f"data:image/png;base64,{base64.b64encode(PNG).decode()}"
    inline = ask(remote_client, inline_url, inline_url)
    assert fetched.choices[0].message.content == inline.choices[0].message.content
    assert fetched.usage.prompt_tokens == inline.usage.prompt_tokens


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/missing", 400, "image_fetch_failed"),
        ("/declared-big", 413, "request_too_large"),
        ("/endless", 413, "request_too_large"),
        ("/slow", 400, "image_fetch_timeout"),
        ("/drip", 400, "image_fetch_timeout"),
    ],
)
def test_fetch_limits(remote_client: OpenAI, host: str, path: str, status: int, code: str) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        ask(remote_client, f"{host}{path}")
    assert info.value.status_code == status
    assert info.value.code == code
    assert info.value.param == "messages[0].content[1].image_url.url"
    assert ask(remote_client, f"{host}/part.png").choices[0].finish_reason in ("stop", "length")


def test_unreachable_host(remote_client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        ask(remote_client, "http://127.0.0.1:9/part.png")
    assert info.value.code == "image_fetch_failed"
