"""Legacy text completions: string, strings, token array(s); echo; suffix (fill-in-the-middle
where the vocabulary has FIM tokens); logprobs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

from multai_core.plugin_api import InvalidRequest, ServiceUnavailable, TextDelta, Usage
from multai_core.protocol.common import effective_priority
from multai_core.protocol.completions import CompletionRequest
from multai_llamacpp.chat import sampling_from
from multai_llamacpp.handle import LlamaHandle
from multai_llamacpp.outputs import PlainOutput
from multai_llamacpp.runner import ChoiceRequest, Counter, Plan, run_choices, token_budget

DEFAULT_MAX_TOKENS = 16  # OpenAI's default for /v1/completions


def check_token_ids(tokens: list[int], n_vocab: int, param: str) -> None:
    for token in tokens:
        if not 0 <= token < n_vocab:
            raise InvalidRequest(
                f"token id {token} is outside this model's vocabulary (0..{n_vocab - 1})",
                param=param,
            )


def _prompts(req: CompletionRequest) -> list[str | list[int]]:
    prompt = req.prompt
    if isinstance(prompt, str):
        return [prompt]
    if not prompt:
        raise InvalidRequest("prompt must not be empty", param="prompt")
    if all(isinstance(t, int) for t in prompt):
        return [[int(t) for t in prompt if isinstance(t, int)]]
    out: list[str | list[int]] = []
    for item in prompt:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, list):
            out.append([int(t) for t in item])
    return out


def _tokenize(handle: LlamaHandle, text: str, *, add_bos: bool) -> list[int]:
    return [int(t) for t in handle.llama.tokenize(text.encode("utf-8"), add_bos, True)]


def _fim_tokens(handle: LlamaHandle) -> tuple[int, int, int] | None:
    import llama_cpp as lib

    vocab = lib.llama_model_get_vocab(handle.llama.model)
    pre, suf, mid = (
        int(lib.llama_vocab_fim_pre(vocab)),
        int(lib.llama_vocab_fim_suf(vocab)),
        int(lib.llama_vocab_fim_mid(vocab)),
    )
    if min(pre, suf, mid) < 0:
        return None
    return pre, suf, mid


def _prompt_tokens(
    handle: LlamaHandle, req: CompletionRequest, prompt: str | list[int]
) -> list[int]:
    import llama_cpp as lib

    vocab = lib.llama_model_get_vocab(handle.llama.model)
    add_bos = bool(lib.llama_vocab_get_add_bos(vocab))
    if isinstance(prompt, list):
        check_token_ids(prompt, handle.n_vocab, "prompt")
        tokens = list(prompt)
    else:
        tokens = _tokenize(handle, prompt, add_bos=add_bos and req.suffix is None)
    if req.suffix is not None:
        fim = _fim_tokens(handle)
        if fim is None:
            raise InvalidRequest(
                "suffix needs a model with fill-in-the-middle tokens; this one has none",
                param="suffix",
            )
        pre, suf, mid = fim
        suffix_tokens = _tokenize(handle, req.suffix, add_bos=False)
        tokens = [pre, *tokens, suf, *suffix_tokens, mid]
    if not tokens:
        bos = int(lib.llama_vocab_bos(vocab))
        if bos < 0:
            raise InvalidRequest("prompt must not be empty", param="prompt")
        tokens = [bos]
    return tokens


def _echo_text(handle: LlamaHandle, prompt: str | list[int]) -> str:
    if isinstance(prompt, str):
        return prompt
    return bytes(handle.llama.detokenize(prompt)).decode("utf-8", errors="replace")


def run_completion(
    handle: LlamaHandle, req: CompletionRequest, cancel: threading.Event
) -> Iterator[TextDelta | Usage]:
    if handle.closed:
        raise ServiceUnavailable("the model was unloaded")
    n = req.n or 1
    if req.best_of is not None and req.best_of not in (0, 1, n):
        raise InvalidRequest(
            "best_of other than n is not supported by this backend", param="best_of"
        )
    if req.echo and req.logprobs is not None:
        raise InvalidRequest(
            "echo together with logprobs (prompt-token logprobs) is not supported yet",
            param="echo",
        )
    max_tokens = DEFAULT_MAX_TOKENS if req.max_tokens is None else req.max_tokens
    sampling = sampling_from(
        handle,
        temperature=req.temperature,
        top_p=req.top_p,
        top_k=req.top_k,
        min_p=req.min_p,
        presence_penalty=req.presence_penalty,
        frequency_penalty=req.frequency_penalty,
        repeat_penalty=req.repeat_penalty,
        seed=req.seed,
        logit_bias=req.logit_bias,
        grammar=None,
    )
    prompts = _prompts(req)
    plans: list[tuple[Plan, str]] = []
    for prompt in prompts:
        tokens = _prompt_tokens(handle, req, prompt)
        budget = token_budget(handle, len(tokens), max_tokens, "prompt")
        plan = Plan(
            prompt=tokens,
            stops=req.stop_list(),
            max_new_tokens=budget,
            sampling=replace(sampling),
            top_logprobs=req.logprobs,
            n_threads=req.n_threads,
            n=n,
            seeded=req.seed is not None,
            priority=effective_priority(req.priority, req.service_tier),
        )
        plans.append((plan, _echo_text(handle, prompt) if req.echo else ""))

    counter = Counter()
    requests: list[ChoiceRequest] = []
    for p_index, (plan, echo) in enumerate(plans):
        for j in range(n):
            index = p_index * n + j
            if echo:
                yield TextDelta(index=index, text=echo)
            if plan.max_new_tokens == 0:
                yield TextDelta(index=index, finish_reason="length")
            else:
                requests.append(ChoiceRequest(index, plan, PlainOutput(index)))
    if requests:
        yield from run_choices(handle, requests, cancel=cancel, counter=counter)
    yield Usage(
        prompt_tokens=sum(len(plan.prompt) for plan, _ in plans),
        completion_tokens=counter.completion_tokens,
        cached_tokens=counter.cached_tokens,
    )
