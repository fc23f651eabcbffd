"""POST /v1/images/edits (the SDK's images.edit): image-to-image, and inpainting with a mask."""

from __future__ import annotations

import io

from openai import OpenAI
from PIL import Image
from sdxl_testing import decode_b64, image_file, mean_difference

from multai_core.testing.openai_spec import validate


def _mask(size: tuple[int, int]) -> bytes:
    """Opaque except the left half, which is transparent: OpenAI's "repaint here"."""
    mask = Image.new("RGBA", size, (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, size[0] // 2, size[1]))
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    return buffer.getvalue()


def test_edit_gives_n_images_of_the_input_size(client: OpenAI) -> None:
    response = client.images.edit(
        model="tiny-sdxl",
        image=("photo.png", image_file((80, 72)), "image/png"),
        prompt="make it blue",
        n=2,
        response_format="b64_json",
    )
    validate("ImagesResponse", response.model_dump(exclude_none=True))
    assert [decode_b64(d.b64_json).size for d in response.data or []] == [(80, 72), (80, 72)]


def test_edit_honours_size_format_and_seed(client: OpenAI) -> None:
    def edit(seed: int, strength: float = 0.5) -> Image.Image:
        response = client.images.edit(
            model="tiny-sdxl",
            image=("photo.jpg", image_file((100, 90), "JPEG"), "image/jpeg"),
            prompt="make it blue",
            size="64x64",
            output_format="webp",
            extra_body={"seed": seed, "strength": strength, "num_inference_steps": 4},
        )
        return decode_b64(response.data[0].b64_json)  # type: ignore[index]

    first = edit(5)
    assert (first.format, first.size) == ("WEBP", (64, 64))
    assert mean_difference(first, edit(5)) == 0
    assert mean_difference(first, edit(6)) > 0.5
    assert mean_difference(first, edit(5, strength=1.0)) > 0.5


def test_the_input_image_matters(client: OpenAI) -> None:
    def edit(image: bytes) -> Image.Image:
        response = client.images.edit(
            model="tiny-sdxl",
            image=("photo.png", image, "image/png"),
            prompt="make it blue",
            extra_body={"seed": 3, "strength": 0.5},
        )
        return decode_b64(response.data[0].b64_json)  # type: ignore[index]

    plain = Image.new("RGB", (64, 64), (10, 200, 10))
    buffer = io.BytesIO()
    plain.save(buffer, format="PNG")
    # same seed and prompt: any difference comes from the input image (random weights keep it small)
    assert mean_difference(edit(image_file((64, 64))), edit(buffer.getvalue())) > 0.5


def test_inpainting_with_a_mask(client: OpenAI) -> None:
    image = ("photo.png", image_file((64, 64)), "image/png")
    masked = client.images.edit(
        model="tiny-sdxl",
        image=image,
        mask=("mask.png", _mask((64, 64)), "image/png"),
        prompt="a blue sky",
        extra_body={"seed": 11},
    )
    unmasked = client.images.edit(
        model="tiny-sdxl", image=image, prompt="a blue sky", extra_body={"seed": 11}
    )
    inpainted = decode_b64(masked.data[0].b64_json)  # type: ignore[index]
    assert inpainted.size == (64, 64)
    assert mean_difference(inpainted, decode_b64(unmasked.data[0].b64_json)) > 0.5  # type: ignore[index]


def test_a_pipeline_without_inpainting_still_edits_without_a_mask(client: OpenAI) -> None:
    response = client.images.edit(
        model="tiny-lcm",
        image=("photo.png", image_file((64, 64)), "image/png"),
        prompt="make it blue",
        n=2,
    )
    assert [decode_b64(d.b64_json).size for d in response.data or []] == [(64, 64), (64, 64)]
