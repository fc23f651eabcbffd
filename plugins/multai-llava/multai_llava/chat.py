"""Chat completions with images: messages and their decoded images -> processor inputs -> n choices
of streamed text. Everything that can be refused is checked before the first delta."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from multai_core.plugin_api import (
    ChatTask,
    InvalidRequest,
    RawImage,
    Sampling,
    ServiceUnavailable,
    TextDelta,
    Usage,
    to_pil,
)
from multai_llava.detokenize import IncrementalDetokenizer
from multai_llava.generation import generate_tokens
from multai_llava.handle import LlavaHandle
from multai_llava.messages import conversation
from multai_llava.sampling import processors, sampling_for
from multai_llava.stops import StopScanner

_seed_lock = threading.Lock()


@dataclass
class Plan:
    inputs: dict[str, Any]
    prompt_ids: list[int]
    max_new_tokens: int
    sampling: Sampling
    stops: list[str]
    n: int


def _refuse_unsupported(req: ChatTask) -> None:
    if req.tools:
        raise InvalidRequest("This model does not support tools.", param="tools")
    if req.response_format.type != "text":
        raise InvalidRequest(
            "This model does not support response_format json_object or json_schema; "
            "ask for JSON in the prompt instead.",
            param="response_format",
        )
    if req.logprobs:
        raise InvalidRequest("This model does not return logprobs.", param="logprobs")


def _render(handle: LlavaHandle, req: ChatTask) -> str:
    from jinja2 import TemplateError

    try:
        return str(
            handle.processor.apply_chat_template(
                conversation(req.messages),
                chat_template=handle.chat_template,
                add_generation_prompt=True,
                tokenize=False,
            )
        )
    except TemplateError as exc:
        raise InvalidRequest(
            f"The model's chat template does not accept these messages: {exc.message}",
            param="messages",
        ) from exc


def _inputs(handle: LlavaHandle, prompt: str, images: list[RawImage]) -> dict[str, Any]:
    # serving sends RGB (transparency composited on white); convert() covers a pack's own tasks
    rgb = [to_pil(image).convert("RGB") for image in images]
    batch = handle.processor(images=rgb or None, text=prompt, return_tensors="pt")
    inputs: dict[str, Any] = {}
    for key, value in batch.items():
        if key == "pixel_values":
            value = value.to(handle.device, dtype=handle.dtype)
        elif hasattr(value, "to"):
            value = value.to(handle.device)
        inputs[key] = value
    return inputs


def plan_chat(handle: LlavaHandle, req: ChatTask) -> Plan:
    _refuse_unsupported(req)
    inputs = _inputs(handle, _render(handle, req), req.images())
    prompt_ids = [int(t) for t in inputs["input_ids"][0].tolist()]
    room = handle.context - len(prompt_ids)
    if room <= 0:
        raise InvalidRequest(
            f"This model's maximum context length is {handle.context} tokens. However, your "
            f"messages resulted in {len(prompt_ids)} tokens (images included), which leaves no "
            "room for an answer.",
            param="messages",
            code="context_length_exceeded",
        )
    wanted = req.max_tokens or handle.options.max_new_tokens or room
    return Plan(
        inputs=inputs,
        prompt_ids=prompt_ids,
        max_new_tokens=min(wanted, room),
        sampling=sampling_for(req.sampling, handle.options, len(handle.tokenizer)),
        stops=list(req.stop),
        n=req.n,
    )


def _generation_config(handle: LlavaHandle, plan: Plan) -> Any:
    config = copy.deepcopy(handle.model.generation_config)
    # Sampling is entirely ours (sampling.processors); nothing from the model's defaults.
    config.update(
        do_sample=not plan.sampling.greedy,
        max_new_tokens=plan.max_new_tokens,
        max_length=None,
        min_new_tokens=None,
        temperature=None,
        top_k=None,
        top_p=None,
        min_p=None,
        typical_p=None,
        repetition_penalty=None,
        num_beams=1,
        num_return_sequences=1,
    )
    if config.pad_token_id is None:
        config.pad_token_id = handle.tokenizer.pad_token_id or handle.tokenizer.eos_token_id
    return config


def _eos_ids(config: Any) -> set[int]:
    eos = config.eos_token_id
    if eos is None:
        return set()
    return {int(e) for e in (eos if isinstance(eos, list) else [eos])}


def _choice(
    handle: LlavaHandle, plan: Plan, index: int, cancel: threading.Event, counter: list[int]
) -> Iterator[TextDelta]:
    config = _generation_config(handle, plan)
    eos = _eos_ids(config)
    detokenizer = IncrementalDetokenizer(handle.tokenizer, plan.prompt_ids)
    scanner = StopScanner(plan.stops)
    chain = processors(plan.sampling, len(plan.prompt_ids))
    finish = "length"
    if plan.sampling.seed is not None:
        import torch

        with _seed_lock:
            torch.manual_seed((plan.sampling.seed + index) & 0xFFFF_FFFF_FFFF)
    tokens = generate_tokens(handle.model, plan.inputs, config, chain, cancel)
    try:
        for token in tokens:
            if cancel.is_set():
                break
            if token in eos:
                finish = "stop"
                break
            counter[0] += 1
            text = scanner.push(detokenizer.push(token))
            if text:
                yield TextDelta(index=index, text=text)
            if scanner.stopped:
                finish = "stop"
                break
    finally:
        tokens.close()
    if cancel.is_set():
        return
    tail = scanner.push(detokenizer.flush()) + scanner.finish()
    if tail:
        yield TextDelta(index=index, text=tail)
    yield TextDelta(index=index, finish_reason=finish)


def run_chat(
    handle: LlavaHandle, req: ChatTask, cancel: threading.Event
) -> Iterator[TextDelta | Usage]:
    """Checks the request, then returns the generator (so refusals are raised here)."""
    if handle.closed:
        raise ServiceUnavailable("The model was unloaded; retry.", retry_after=1)
    plan = plan_chat(handle, req)
    return _generate(handle, plan, cancel)


def _generate(
    handle: LlavaHandle, plan: Plan, cancel: threading.Event
) -> Iterator[TextDelta | Usage]:
    counter = [0]
    with handle.lock:
        for index in range(plan.n):
            yield from _choice(handle, plan, index, cancel, counter)
            if cancel.is_set():
                return
    yield Usage(prompt_tokens=len(plan.prompt_ids), completion_tokens=counter[0])
