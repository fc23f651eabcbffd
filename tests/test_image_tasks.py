"""Image requests on the wire -> engine tasks: aliases resolved, size parsed once, what no
model serves refused before a job exists, and reprs that never show the prompt."""

from __future__ import annotations

from typing import Any

import pytest

from multai_core.plugin_api import ImageEditTask, ImageGenerationTask, InvalidRequest, RawImage
from multai_core.protocol.images import ImageEditRequest, ImageGenerateRequest
from multai_core.serving.image_tasks import edit_task, generation_task, parse_size

PIXELS = 1_000_000
IMAGE = RawImage(width=2, height=1, mode="RGB", pixels=b"\x01" * 6)
MASK = RawImage(width=2, height=1, mode="RGBA", pixels=b"\x00" * 8)


def test_a_generation_request_becomes_a_task() -> None:
    task = generation_task(
        ImageGenerateRequest(
            prompt="a secret mug",
            negative_prompt="blur",
            number_of_images=3,
            size="512 x 256",
            seed=7,
            number_of_steps=4,
            guidance_scale=1.5,
            response_format="url",
        ),
        max_pixels=PIXELS,
    )
    assert task == ImageGenerationTask(
        prompt="a secret mug",
        negative_prompt="blur",
        n=3,
        width=512,
        height=256,
        seed=7,
        steps=4,
        guidance_scale=1.5,
    )
    assert task.size() == (512, 256)
    assert "secret" not in repr(task)


@pytest.mark.parametrize("size", [None, "auto", " AUTO "])
def test_no_size_is_the_models_own(size: str | None) -> None:
    task = generation_task(ImageGenerateRequest(prompt="x", size=size), max_pixels=PIXELS)
    assert (task.width, task.height, task.size(), task.n, task.steps) == (None, None, None, 1, None)


def test_an_edit_request_becomes_a_task() -> None:
    request = ImageEditRequest(
        prompt="a secret hat", image=IMAGE, mask=MASK, strength=0.3, n=2, num_inference_steps=9
    )
    task = edit_task(request, max_pixels=PIXELS)
    assert isinstance(task, ImageEditTask) and not isinstance(task, ImageGenerationTask)
    assert (task.prompt, task.n, task.steps, task.size()) == ("a secret hat", 2, 9, None)
    assert (task.image, task.mask, task.strength) == (IMAGE, MASK, 0.3)
    assert "secret" not in repr(task) and "\\x01" not in repr(task)


@pytest.mark.parametrize(
    ("fields", "param", "fragment"),
    [
        ({"prompt": "  "}, "prompt", "must not be empty"),
        ({"n": 2, "number_of_images": 3}, "n", "same setting"),
        ({"number_of_steps": 2, "num_inference_steps": 3}, "num_inference_steps", "same setting"),
        ({"size": "big"}, "size", "WIDTHxHEIGHT"),
        ({"size": "0x64"}, "size", "at least 1"),
        ({"size": "1001x1000"}, "size", "limit of 1000000 pixels"),
        ({"stream": True}, "stream", "Streaming"),
        ({"background": "transparent"}, "background", "Transparent"),
    ],
)
def test_what_no_model_serves_is_refused(fields: dict[str, Any], param: str, fragment: str) -> None:
    request = ImageGenerateRequest(**{"prompt": "a mug", **fields})
    with pytest.raises(InvalidRequest) as refused:
        generation_task(request, max_pixels=PIXELS)
    assert refused.value.param == param and fragment in refused.value.message
    with pytest.raises(InvalidRequest):
        edit_task(ImageEditRequest(**{"prompt": "a mug", **fields}, image=IMAGE), max_pixels=PIXELS)


def test_size_separators() -> None:
    assert parse_size("64X32") == parse_size("64\u00d732") == parse_size(" 64x32 ") == (64, 32)
