"""POST /v1/images/generations and /v1/images/edits: request -> job -> ImagesResponse.

Plugins return raw pixels (:class:`multai_core.plugin_api.results.ImageResult`); this module encodes
them (png, jpeg or webp, off the event loop) and answers with base64 or with signed URLs served
from the in-memory image store.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import re
import threading
import time

import msgspec

from multai_core.engine.scheduler import Job
from multai_core.media.decoded import DecodedImage, decoded
from multai_core.media.image_codec import CONTENT_TYPES, decode_image, encode_raw, probe_image
from multai_core.media.multipart import MultipartForm, UploadedFile
from multai_core.plugin_api.errors import InferenceFailed, InvalidRequest
from multai_core.plugin_api.images import from_pil
from multai_core.plugin_api.results import ImageResult, RawImage
from multai_core.plugin_api.task_image import ImageEditTask, ImageGenerationTask
from multai_core.protocol.images import (
    RESPONSE_SIZES,
    ImageData,
    ImageEditRequest,
    ImageGenerateRequest,
    ImageParams,
    ImagesResponse,
)
from multai_core.serving.image_store import ImageStore, link_base
from multai_core.serving.image_tasks import edit_task, generation_task
from multai_core.serving.jobs import collect, submit
from multai_core.serving.services import Services

_STORE_LOCK = threading.Lock()
_PATH = re.compile(r"at `\$\.([A-Za-z0-9_]+)|missing required field `([A-Za-z0-9_]+)`")
FILE_FIELDS = ("image", "image[]", "mask")


def image_store_of(services: Services) -> ImageStore:
    """The app's image store (made by the app factory; made here for hand-built services)."""
    if services.image_store is None:
        with _STORE_LOCK:
            if services.image_store is None:
                server = services.config.server
                services.image_store = ImageStore(
                    max_bytes=server.image_store_bytes, ttl_s=server.image_url_ttl_s
                )
    return services.image_store


def _model_name(services: Services, requested: str | None) -> str:
    """The asked model, or the only image model there is when none was asked for."""
    if requested:
        return requested
    image_models = [
        spec.name
        for spec in services.registry.models.values()
        if "image" in services.registry.tasks_of(spec)
    ]
    if len(image_models) == 1:
        return image_models[0]
    listed = ", ".join(sorted(image_models)) or "none configured"
    raise InvalidRequest(
        f"Name the image model to use in `model` (this server has: {listed}).", param="model"
    )


def _submit(
    services: Services, req: ImageParams, task: ImageGenerationTask | ImageEditTask, request_id: str
) -> Job:
    if req.response_format == "url":
        link_base(services.config.server)  # refuses before any model time is spent
    return submit(
        services,
        request_id=request_id,
        kind="image",
        payload=task,
        model=_model_name(services, req.model),
        priority=req.priority,
        service_tier=req.service_tier,
    )


def start_generate(services: Services, req: ImageGenerateRequest, request_id: str) -> Job:
    task = generation_task(req, max_pixels=services.config.server.max_image_pixels)
    return _submit(services, req, task, request_id)


def start_edit(services: Services, req: ImageEditRequest, request_id: str) -> Job:
    task = edit_task(req, max_pixels=services.config.server.max_image_pixels)
    return _submit(services, req, task, request_id)


async def complete(services: Services, job: Job, req: ImageParams) -> ImagesResponse:
    results = [r for r in await collect(job) if isinstance(r, ImageResult)]
    if len(results) != 1 or not results[0].images:
        raise InferenceFailed("The image model returned no images.")
    images = results[0].images
    output_format = req.output_format or "png"
    quality = 100 if req.output_compression is None else req.output_compression
    encoded = await asyncio.to_thread(
        lambda: [encode_raw(image, output_format, quality=quality) for image in images]
    )
    if req.response_format == "url":
        store = image_store_of(services)
        store.check_room(sum(len(e) for e in encoded))
        base = link_base(services.config.server)
        data = []
        for blob in encoded:
            name, expires_at = store.put(blob, CONTENT_TYPES[output_format], output_format)
            data.append(ImageData(url=base + store.signed_path(name, expires_at)))
    else:
        data = [ImageData(b64_json=base64.b64encode(blob).decode("ascii")) for blob in encoded]
    return ImagesResponse(
        created=int(time.time()),
        data=data,
        output_format=output_format,
        size=_response_size(images),  # type: ignore[arg-type]
    )


def _response_size(images: list[RawImage]) -> str | None:
    """The images' size if OpenAI's response enum has it; otherwise left out."""
    sizes = {f"{image.width}x{image.height}" for image in images}
    size = sizes.pop() if len(sizes) == 1 else None
    return size if size in RESPONSE_SIZES else None


# --- edits: the multipart form to a request -----------------------------------------------------


def _one_image(form: MultipartForm) -> UploadedFile:
    uploads = [*form.files.get("image", []), *form.files.get("image[]", [])]
    if not uploads:
        if form.field("image") is not None or form.field("image[]") is not None:
            raise InvalidRequest("`image` must be sent as a file part.", param="image")
        raise InvalidRequest("Missing required field `image` (the image to edit).", param="image")
    if len(uploads) > 1:
        raise InvalidRequest("This server edits one image per request; send one.", param="image")
    return uploads[0]


def _probe_edit_images(
    services: Services, image: UploadedFile, mask: UploadedFile | None
) -> tuple[int, int]:
    """The image's size from its header (and the mask's, which must match); nothing decoded."""
    server = services.config.server
    limits = {"max_pixels": server.max_image_pixels, "max_bytes": server.max_image_bytes}
    width, height = probe_image(image.data, param="image", **limits)
    if mask is not None:
        mask_width, mask_height = probe_image(mask.data, param="mask", **limits)
        if (mask_width, mask_height) != (width, height):
            raise InvalidRequest(
                f"The mask is {mask_width}x{mask_height} but the image is {width}x{height}; "
                "they must be the same size.",
                param="mask",
            )
    return width, height


def _decode_edit_image(services: Services, upload: UploadedFile, param: str) -> DecodedImage:
    server = services.config.server
    with decode_image(
        upload.data,
        param=param,
        max_pixels=server.max_image_pixels,
        max_bytes=server.max_image_bytes,
    ) as picture:
        return decoded(from_pil(picture, "RGBA" if param == "mask" else "RGB"))


async def _decode_edit_images(
    services: Services, image: UploadedFile, mask: UploadedFile | None
) -> tuple[RawImage, RawImage | None]:
    """Headers checked first, the pixels reserved from the server's budget (a 429 while it is
    taken), then each file decoded in the decode pool; each returns its pixels when dropped."""
    decoding = services.decoding
    width, height = await decoding.run(_probe_edit_images, services, image, mask)
    pixels = width * height
    uploads = [(image, "image")] + ([(mask, "mask")] if mask is not None else [])
    lease = decoding.pixels.reserve(pixels * len(uploads), param="image")
    results: list[DecodedImage] = []
    try:
        for upload, param in uploads:
            work = functools.partial(_decode_edit_image, services, upload, param)
            result = await decoding.decode(work, pixels=pixels)
            lease.attach(result, pixels)
            results.append(result)
    finally:
        lease.close()
    return results[0], results[1] if mask is not None else None


async def edit_request(services: Services, form: MultipartForm) -> ImageEditRequest:
    """Validate the form's fields first (cheap), then decode the image and mask off the loop."""
    fields: dict[str, object] = {
        name: values[-1] for name, values in form.fields.items() if name not in FILE_FIELDS
    }
    image = _one_image(form)
    masks = form.files.get("mask", [])
    if len(masks) > 1:
        raise InvalidRequest("Send at most one mask.", param="mask")
    placeholder = RawImage(width=1, height=1, mode="RGB", pixels=b"\0\0\0")
    checked = _convert_edit({**fields, "image": placeholder})
    raw_image, raw_mask = await _decode_edit_images(services, image, masks[0] if masks else None)
    # replaced, not converted: msgspec.convert takes a RawImage but not its subclass, and the
    # decoded images must stay the objects their budget lease follows
    return msgspec.structs.replace(checked, image=raw_image, mask=raw_mask)


def _convert_edit(fields: dict[str, object]) -> ImageEditRequest:
    try:
        return msgspec.convert(fields, ImageEditRequest, strict=False)
    except msgspec.ValidationError as exc:
        match = _PATH.search(str(exc))
        param = (match.group(1) or match.group(2)) if match else None
        raise InvalidRequest(f"Invalid request: {exc}", param=param) from exc
