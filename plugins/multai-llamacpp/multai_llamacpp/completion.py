"""Legacy text completions: string, strings, token array(s); echo; suffix (fill-in-the-middle
where the vocabulary has FIM tokens); logprobs."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from multai_core.plugin_api import (
    CompletionTask,
    InvalidRequest,
    ServiceUnavailable,
    TextDelta,
    Usage,
)
from multai_llamacpp.chat import sampling_from
from multai_llamacpp.handle import LlamaHandle
from multai_llamacpp.outputs import PlainOutput
from multai_llamacpp.runner import ChoiceRequest, Counter, Plan, run_choices, token_budget


def check_token_ids(tokens: list[int], n_vocab: int, param: str) -> None:
    for token in tokens:
        if not 0 <= token < n_vocab:
            raise InvalidRequest(
                f"token id {token} is outside this model's vocabulary (0..{n_vocab - 1})",
                param=param,
            )


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


def _prompt_tokens(handle: LlamaHandle, req: CompletionTask, prompt: str | list[int]) -> list[int]:
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
    handle: LlamaHandle, req: CompletionTask, cancel: threading.Event, *, priority: int = 1
) -> Iterator[TextDelta | Usage]:
    if handle.closed:
        raise ServiceUnavailable("the model was unloaded")
    n = req.n
    if req.best_of is not None and req.best_of not in (0, 1, n):
        raise InvalidRequest(
            "best_of other than n is not supported by this backend", param="best_of"
        )
    if req.echo and req.logprobs is not None:
        raise InvalidRequest(
            "echo together with logprobs (prompt-token logprobs) is not supported yet",
            param="echo",
        )
    sampling = sampling_from(handle, req.sampling, grammar=None)
    plans: list[tuple[Plan, str]] = []
    for prompt in req.prompts:
        tokens = _prompt_tokens(handle, req, prompt)
        budget = token_budget(handle, len(tokens), req.max_tokens, "prompt")
        plan = Plan(
            prompt=tokens,
            stops=list(req.stop),
            max_new_tokens=budget,
            sampling=sampling,
            top_logprobs=req.logprobs,
            n_threads=req.n_threads,
            n=n,
            priority=priority,
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
