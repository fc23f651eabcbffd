"""POST /v1/images/generations through the official SDK against a real server."""

from __future__ import annotations

from typing import Literal

import pytest
from openai import OpenAI
from sdxl_testing import Server, decode_b64, mean_difference, raw_post

from multai_core.testing.openai_spec import validate


@pytest.mark.parametrize(
    ("output_format", "pil_format"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")]
)
def test_n_images_of_the_asked_size_and_format(
    client: OpenAI, output_format: Literal["png", "jpeg", "webp"], pil_format: str
) -> None:
    response = client.images.generate(
        model="tiny-sdxl",
        prompt="a product photo of a red mug",
        n=2,
        size="96x64",
        response_format="b64_json",
        output_format=output_format,
    )
    validate("ImagesResponse", response.model_dump(exclude_none=True))
    assert response.output_format == output_format
    assert len(response.data or []) == 2
    for item in response.data or []:
        image = decode_b64(item.b64_json)
        assert image.format == pil_format
        assert image.size == (96, 64)
        assert item.url is None


def test_defaults_are_b64_png_at_the_native_size(server: Server) -> None:
    reply = raw_post(
        server, "/v1/images/generations", json={"model": "tiny-sdxl", "prompt": "a lamp"}
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    validate("ImagesResponse", body)
    # 64x64 is not in OpenAI's size enum, so the response leaves `size` (and `quality`) out
    assert set(body) == {"created", "data", "output_format"}
    assert body["output_format"] == "png"
    assert len(body["data"]) == 1 and set(body["data"][0]) == {"b64_json"}
    image = decode_b64(body["data"][0]["b64_json"])
    assert (image.format, image.size) == ("PNG", (64, 64))  # the UNet's native size


def test_size_auto_is_the_default_size(client: OpenAI) -> None:
    response = client.images.generate(model="tiny-sdxl", prompt="a lamp", size="auto")
    assert decode_b64(response.data[0].b64_json).size == (64, 64)  # type: ignore[index]


def _one(client: OpenAI, seed: int, **extra: object) -> object:
    response = client.images.generate(
        model="tiny-sdxl", prompt="a red mug", size="64x64", extra_body={"seed": seed, **extra}
    )
    return decode_b64(response.data[0].b64_json)  # type: ignore[index]


def test_the_same_seed_gives_the_same_image_and_other_seeds_differ(client: OpenAI) -> None:
    first = _one(client, 1234)
    again = _one(client, 1234)
    other = _one(client, 1235)
    assert mean_difference(first, again) == 0  # type: ignore[arg-type]
    assert mean_difference(first, other) > 5  # type: ignore[arg-type]


def test_images_of_a_batch_follow_their_own_seeds(client: OpenAI) -> None:
    """n=2 with seed s gives the images of seeds s and s+1, each one as if made alone."""
    batch = client.images.generate(
        model="tiny-sdxl", prompt="a red mug", size="64x64", n=2, extra_body={"seed": 1234}
    )
    images = [decode_b64(item.b64_json) for item in batch.data or []]
    assert mean_difference(images[0], _one(client, 1234)) < 0.5  # type: ignore[arg-type]
    assert mean_difference(images[1], _one(client, 1235)) < 0.5  # type: ignore[arg-type]
    assert mean_difference(images[0], images[1]) > 5


def test_thesis_extensions(client: OpenAI) -> None:
    many = client.images.generate(
        model="tiny-sdxl", prompt="a mug", size="64x64", extra_body={"number_of_images": 3}
    )
    assert len(many.data or []) == 3

    base = _one(client, 9, number_of_steps=3)
    assert mean_difference(base, _one(client, 9, num_inference_steps=3)) == 0  # type: ignore[arg-type]
    assert mean_difference(base, _one(client, 9, number_of_steps=1)) > 0.5  # type: ignore[arg-type]
    guided = _one(client, 9, number_of_steps=3, guidance_scale=6.0, negative_prompt="blurry")
    assert mean_difference(base, guided) > 0.5  # type: ignore[arg-type]
    assert mean_difference(guided, _one(client, 9, number_of_steps=3, guidance_scale=6.0)) > 0.05  # type: ignore[arg-type]


def test_any_text_to_image_pipeline_folder(client: OpenAI) -> None:
    """A Latent Consistency Model pipeline (an SD 1.5 layout) loads through the same backend."""
    response = client.images.generate(model="tiny-lcm", prompt="a mug", n=2, size="64x64")
    assert [decode_b64(d.b64_json).size for d in response.data or []] == [(64, 64), (64, 64)]


def test_an_option_the_pipeline_lacks_is_a_400(server: Server) -> None:
    reply = raw_post(
        server,
        "/v1/images/generations",
        json={"model": "tiny-lcm", "prompt": "a mug", "negative_prompt": "blurry"},
    )
    assert reply.status_code == 400
    assert reply.json()["error"]["param"] == "negative_prompt"


def test_model_is_needed_when_several_image_models_exist(server: Server) -> None:
    reply = raw_post(server, "/v1/images/generations", json={"prompt": "a mug"})
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["param"] == "model"
    assert "tiny-lcm" in error["message"] and "tiny-sdxl" in error["message"]


def test_prompts_never_reach_the_log(server: Server, client: OpenAI) -> None:
    secret = "zebra-umbrella-4471"
    # a prompt over CLIP's 77 tokens makes diffusers warn with the truncated text: not here
    client.images.generate(
        model="tiny-sdxl",
        prompt="a mug " * 60 + secret,
        extra_body={"negative_prompt": secret},
    )
    assert secret not in server.log_path.read_text(encoding="utf-8", errors="replace")
    assert any(line.get("event") == "inference_finished" for line in server.log_lines())
