"""transformers' generate() in a helper thread, its tokens handed over one by one.

generate() blocks until it is done; streaming needs its tokens while it runs. It runs in a
thread that pushes each new token id into a queue, and a stopping criterion ends it at the
next token once the request is cancelled or the consumer has stopped listening (stop
sequence, client gone)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator
from typing import Any

_END = object()


class _TokenQueue:
    """A transformers streamer (put/end): the first put() is the prompt, skipped."""

    def __init__(self) -> None:
        self.items: queue.Queue[Any] = queue.Queue()
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        for token in value.reshape(-1).tolist():
            self.items.put(int(token))

    def end(self) -> None:
        """generate() calls this; the thread's own sentinel marks the end instead, so an
        exception inside generate() still ends the consumer's wait."""


class _StopWhenSet:
    def __init__(self, *events: threading.Event) -> None:
        self._events = events

    def __call__(self, input_ids: Any, *_: Any, **__: Any) -> Any:
        import torch

        stop = any(e.is_set() for e in self._events)
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)


def generate_tokens(
    model: Any,
    inputs: dict[str, Any],
    generation_config: Any,
    logits_processors: list[Any],
    cancel: threading.Event,
) -> Generator[int, None, None]:
    """New token ids as generate() makes them (eos included when it ends on one)."""
    from transformers import LogitsProcessorList, StoppingCriteriaList

    done = threading.Event()
    streamer = _TokenQueue()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            model.generate(
                **inputs,
                generation_config=generation_config,
                logits_processor=LogitsProcessorList(logits_processors),
                stopping_criteria=StoppingCriteriaList([_StopWhenSet(cancel, done)]),
                streamer=streamer,
            )
        except BaseException as exc:
            failure.append(exc)
        finally:
            streamer.items.put(_END)

    thread = threading.Thread(target=run, name="multai-llava-generate", daemon=True)
    thread.start()
    try:
        while True:
            item = streamer.items.get()
            if item is _END:
                break
            yield item
        if failure:
            raise failure[0]
    finally:
        done.set()
        thread.join()
