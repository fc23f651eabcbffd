"""Bad requests get OpenAI's error shape and the right status; the server keeps serving."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from openai import OpenAI
from sdxl_testing import Server, image_file, raw_post

from multai_core.testing.openai_spec import validate

PNG = image_file((64, 64))
TRUNCATED_PNG = PNG[: len(PNG) // 2]


def _check_error(body: dict[str, Any], param: str | None) -> None:
    validate("ErrorResponse", body)
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    if param is not None:
        assert error["param"] == param


@pytest.mark.parametrize(
    ("changes", "status", "param", "fragment"),
    [
        ({"n": 0}, 400, "n", ">= 1"),
        ({"n": 11}, 400, "n", "<= 10"),
        ({"number_of_images": 11}, 400, "number_of_images", "<= 10"),
        ({"n": 2, "number_of_images": 3}, 400, "n", "same setting"),
        ({"size": "100x100"}, 400, "size", "multiples of 8"),
        ({"size": "big"}, 400, "size", "WIDTHxHEIGHT"),
        ({"size": "0x64"}, 400, "size", "at least 1"),
        ({"size": "4096x4096"}, 400, "size", "limit"),
        ({"size": "64x3000"}, 400, "size", "between 64 and 2048"),
        ({"prompt": ""}, 400, "prompt", "empty"),
        ({"prompt": "   "}, 400, "prompt", "empty"),
        ({"model": "no-such-model"}, 404, "model", "does not exist"),
        ({"response_format": "gif"}, 400, "response_format", "Invalid enum value"),
        ({"output_format": "bmp"}, 400, "output_format", "Invalid enum value"),
        ({"num_inference_steps": 5000}, 400, "num_inference_steps", "<= 1000"),
        ({"number_of_steps": 0}, 400, "number_of_steps", ">= 1"),
        ({"guidance_scale": -1}, 400, "guidance_scale", ">= 0"),
        ({"seed": -1}, 400, "seed", ">= 0"),
        ({"stream": True}, 400, "stream", "Streaming"),
        ({"background": "transparent"}, 400, "background", "Transparent"),
    ],
)
def test_bad_generation_requests(
    server: Server, changes: dict[str, Any], status: int, param: str, fragment: str
) -> None:
    body = {"model": "tiny-sdxl", "prompt": "a mug", **changes}
    reply = raw_post(server, "/v1/images/generations", json=body)
    assert reply.status_code == status, reply.text
    _check_error(reply.json(), param)
    assert fragment in reply.json()["error"]["message"]
    if status == 404:
        assert reply.json()["error"]["code"] == "model_not_found"


def test_the_sdk_raises_the_right_errors(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as bad_n:
        client.images.generate(model="tiny-sdxl", prompt="a mug", n=0)
    assert bad_n.value.status_code == 400
    with pytest.raises(openai.BadRequestError):
        client.images.generate(model="tiny-sdxl", prompt="a mug", n=11)
    with pytest.raises(openai.BadRequestError):
        client.images.generate(model="tiny-sdxl", prompt="a mug", size="65x65")
    with pytest.raises(openai.BadRequestError):
        client.images.generate(model="tiny-sdxl", prompt="")
    with pytest.raises(openai.NotFoundError) as unknown:
        client.images.generate(model="dall-e-3", prompt="a mug")
    assert unknown.value.code == "model_not_found"
    # and the server still serves
    assert client.images.generate(model="tiny-sdxl", prompt="a mug").data


def test_a_steps_limit_from_the_model_options(server: Server) -> None:
    reply = raw_post(
        server,
        "/v1/images/generations",
        json={"model": "tiny-lcm", "prompt": "a mug", "num_inference_steps": 101},
    )
    assert reply.status_code == 400
    _check_error(reply.json(), "num_inference_steps")
    assert "limit of 100" in reply.json()["error"]["message"]


def _edit(server: Server, files: dict[str, Any], data: dict[str, Any]) -> Any:
    return raw_post(server, "/v1/images/edits", files=files, data=data)


@pytest.mark.parametrize(
    ("files", "data", "status", "param", "fragment"),
    [
        (
            {"model": (None, "tiny-sdxl"), "prompt": (None, "blue")},
            {},
            400,
            "image",
            "Missing required field `image`",
        ),
        (
            {"image": ("a.png", image_file((64, 64)), "image/png")},
            {"model": "tiny-sdxl"},
            400,
            "prompt",
            "prompt",
        ),
        (
            {"image": ("a.png", b"this is not an image", "image/png")},
            {"model": "tiny-sdxl", "prompt": "blue"},
            400,
            "image",
            "not a supported image",
        ),
        (
            {"image": ("a.png", TRUNCATED_PNG, "image/png")},
            {"model": "tiny-sdxl", "prompt": "blue"},
            400,
            "image",
            "truncated or corrupt",
        ),
        (
            {"image": ("a.bmp", image_file((64, 64), "BMP"), "image/bmp")},
            {"model": "tiny-sdxl", "prompt": "blue"},
            400,
            "image",
            "PNG, JPEG, WEBP or GIF",
        ),
        (
            {"image": ("big.png", image_file((1100, 1000)), "image/png")},
            {"model": "tiny-sdxl", "prompt": "blue"},
            400,
            "image",
            "at most 1000000 pixels",
        ),
        (
            {"image": ("a.png", image_file((64, 64)), "image/png")},
            {"model": "tiny-sdxl", "prompt": "blue", "n": "0"},
            400,
            "n",
            ">= 1",
        ),
        (
            {"image": ("a.png", image_file((64, 64)), "image/png")},
            {"model": "tiny-sdxl", "prompt": "blue", "n": "many"},
            400,
            "n",
            "Expected `int",
        ),
        (
            {"image": ("a.png", image_file((64, 64)), "image/png")},
            {"model": "tiny-sdxl", "prompt": "blue", "size": "70x70"},
            400,
            "size",
            "multiples of 8",
        ),
        (
            {
                "image": ("a.png", image_file((64, 64)), "image/png"),
                "mask": ("m.png", image_file((72, 64), mode="RGBA"), "image/png"),
            },
            {"model": "tiny-sdxl", "prompt": "blue"},
            400,
            "mask",
            "same size",
        ),
        (
            {"image": ("a.png", image_file((64, 64)), "image/png")},
            {"model": "tiny-sdxl", "prompt": "blue", "strength": "0"},
            400,
            "strength",
            "> 0.0",
        ),
        (
            {"image": ("a.png", image_file((64, 64)), "image/png")},
            {"model": "nope", "prompt": "blue"},
            404,
            "model",
            "does not exist",
        ),
    ],
)
def test_bad_edit_requests(
    server: Server,
    files: dict[str, Any],
    data: dict[str, Any],
    status: int,
    param: str,
    fragment: str,
) -> None:
    reply = _edit(server, files, data)
    assert reply.status_code == status, reply.text
    _check_error(reply.json(), param)
    assert fragment in reply.json()["error"]["message"]


def test_an_upload_over_the_byte_limit_is_a_413(server: Server) -> None:
    noise = bytes(range(256)) * 1200  # 300 kB, over this server's 200 kB max_image_bytes
    reply = _edit(
        server,
        {"image": ("a.png", noise, "image/png")},
        {"model": "tiny-sdxl", "prompt": "blue"},
    )
    assert reply.status_code == 413
    validate("ErrorResponse", reply.json())
    assert reply.json()["error"]["code"] == "request_too_large"


def test_edits_need_multipart(server: Server) -> None:
    reply = raw_post(server, "/v1/images/edits", json={"model": "tiny-sdxl", "prompt": "x"})
    assert reply.status_code == 400
    assert "multipart/form-data" in reply.json()["error"]["message"]


def test_a_pipeline_without_inpainting_refuses_a_mask(server: Server) -> None:
    reply = _edit(
        server,
        {
            "image": ("a.png", image_file((64, 64)), "image/png"),
            "mask": ("m.png", image_file((64, 64), mode="RGBA"), "image/png"),
        },
        {"model": "tiny-lcm", "prompt": "blue"},
    )
    assert reply.status_code == 400
    _check_error(reply.json(), "mask")
    assert "cannot edit images with a mask" in reply.json()["error"]["message"]
    assert reply.json()["error"]["code"] == "unsupported_operation"


def test_one_image_per_edit(server: Server) -> None:
    reply = raw_post(
        server,
        "/v1/images/edits",
        files=[
            ("image[]", ("a.png", PNG, "image/png")),
            ("image[]", ("b.png", PNG, "image/png")),
        ],
        data={"model": "tiny-sdxl", "prompt": "blue"},
    )
    assert reply.status_code == 400
    _check_error(reply.json(), "image")
    assert "one image" in reply.json()["error"]["message"]
