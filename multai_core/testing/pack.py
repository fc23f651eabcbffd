"""The contract test kit a pack author runs in their own test suite.

Subclass :class:`PackContract` in a test module; pytest collects its tests for your pack::

    from multai_core.testing.pack import PackContract

    class TestContract(PackContract):
        entry_point = "mypack"          # the name in [project.entry-points.multai]
        backend = "mypack"

A pack with no default model (or tests that want a small one) overrides the ``pack_model``
fixture in the class or a conftest; a pack whose transcription needs real speech overrides
``sample_audio`` (a WAV file; the cancel test repeats it, so a few seconds of speech do). The
tests: the entry point registers the backend with its required hooks; the estimate imports none
of ``heavy_modules``; a load / infer / unload round trip on engine tasks of every task kind the
backend declares gives the result types of that kind; every task kind honours its cancel event;
and every task kind answers through the official ``openai`` SDK against a real server, its JSON
checked against OpenAI's published spec (``MULTAI_OPENAI_SPEC`` or
``shared/openai-openapi/openapi.yaml`` beside the repository).
"""

from __future__ import annotations

import base64
import io
import itertools
import math
import struct
import subprocess
import sys
import threading
import wave
from collections.abc import Iterator
from importlib.metadata import entry_points
from typing import Any, cast, get_args

import pluggy
import pytest
from openai import OpenAI

from multai_core.config import Config
from multai_core.engine.packs import PackHooks, Packs
from multai_core.plugin_api import (
    ChatTask,
    CompletionTask,
    DeviceSnapshot,
    EmbeddingResult,
    EmbeddingTask,
    ImageGenerationTask,
    ImagePart,
    ImageResult,
    MemoryEstimate,
    Message,
    ModelSpec,
    Placement,
    RawImage,
    SamplingParams,
    SpeechAudio,
    SpeechDone,
    SpeechStart,
    SpeechTask,
    Task,
    TaskKind,
    TaskPayload,
    TextDelta,
    TextPart,
    TranscribedSegment,
    TranscriptionInfo,
    TranscriptionTask,
    Usage,
)
from multai_core.plugins import ENTRY_POINT_GROUP, make_plugin_manager
from multai_core.server.app import create_app
from multai_core.testing import openai_spec
from multai_core.testing.server import threaded_server

HEAVY_MODULES = ("torch", "llama_cpp", "ctranslate2", "onnxruntime", "diffusers", "transformers")
# two: a third copy of the same words looks like a decoding loop to Whisper, which then
# retries every window at higher temperatures (slow, and no longer deterministic)
LONG_AUDIO_COPIES = 2
LONG_TEXT = " ".join(f"Sentence number {i} is here." for i in range(1, 9))


def tone_wav(seconds: float = 1.0, rate: int = 16_000) -> bytes:
    """A 440 Hz tone as a 16-bit mono WAV file (a default upload for transcription)."""
    samples = (
        int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return out.getvalue()


def repeat_wav(audio: bytes, times: int) -> bytes:
    """The WAV file ``audio`` played ``times`` times in a row."""
    with wave.open(io.BytesIO(audio), "rb") as wav:
        params = wav.getparams()
        frames = wav.readframes(wav.getnframes())
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setparams(params)
        wav.writeframes(frames * times)
    return out.getvalue()


def sample_image(size: int = 32) -> RawImage:
    pixels = bytes(v for i in range(size * size) for v in (i % 256, 64, 192))
    return RawImage(width=size, height=size, mode="RGB", pixels=pixels)


def png_data_url(image: RawImage) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.frombytes(image.mode, (image.width, image.height), image.pixels).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def engine_task(kind: TaskKind, audio: bytes, *, long: bool = False) -> TaskPayload:
    """A small engine task of each kind (``long``: one that generates for a while)."""
    text = LONG_TEXT if long else "Say hello."
    tokens = 64 if long else 8
    greedy = SamplingParams(temperature=0.0, seed=1)
    if kind == "chat":
        user = Message(role="user", content=[TextPart(text=text)])
        return ChatTask(messages=[user], max_tokens=tokens, sampling=greedy)
    if kind == "vision":
        parts: list[TextPart | ImagePart] = [
            TextPart(text="What is in this image?"),
            ImagePart(image=sample_image()),
        ]
        return ChatTask(messages=[Message(role="user", content=parts)], max_tokens=tokens)
    if kind == "completion":
        return CompletionTask(prompts=[text], max_tokens=tokens, sampling=greedy)
    if kind == "embedding":
        return EmbeddingTask(inputs=["hello world", "good night"])
    if kind in ("transcription", "translation"):
        return TranscriptionTask(
            audio=repeat_wav(audio, LONG_AUDIO_COPIES) if long else audio,
            filename="sample.wav",
            task="translate" if kind == "translation" else "transcribe",
        )
    if kind == "speech":
        return SpeechTask(text=text, response_format="wav")
    if kind == "image":
        return ImageGenerationTask(prompt="a red square", n=1, steps=1, seed=1)
    raise AssertionError(f"no sample task for kind {kind!r}")


EXPECTED: dict[str, tuple[type, ...]] = {
    "chat": (TextDelta, Usage),
    "vision": (TextDelta, Usage),
    "completion": (TextDelta, Usage),
    "transcription": (TranscriptionInfo, TranscribedSegment),
    "translation": (TranscriptionInfo, TranscribedSegment),
    "speech": (SpeechStart, SpeechAudio, SpeechDone),
}


def consume(kind: str, result: object) -> list[object]:
    """The items of a result, checked against what the task kind returns."""
    if kind == "embedding":
        assert isinstance(result, EmbeddingResult) and len(result.vectors) == 2, result
        return [result]
    if kind == "image":
        assert isinstance(result, ImageResult) and len(result.images) == 1, result
        return [result]
    assert isinstance(result, Iterator), f"a {kind} task returns an iterator, not {result!r}"
    items = list(result)
    wrong = [type(i).__name__ for i in items if not isinstance(i, EXPECTED[kind])]
    assert not wrong, f"a {kind} task yielded {wrong}; it yields {EXPECTED[kind]}"
    return items


class PackContract:
    """The contract of one pack. Set ``entry_point`` and ``backend``; override fixtures as
    the module docstring says."""

    entry_point: str
    backend: str
    heavy_modules: tuple[str, ...] = HEAVY_MODULES
    image_size: str | None = None
    """For image packs: the ``size`` the conformance request asks for (None: the model's)."""

    # -- fixtures a pack may override --------------------------------------------------------

    @pytest.fixture
    def pack_plugins(self) -> pluggy.PluginManager:
        """A plugin manager with this pack only, loaded from its entry point."""
        pm = make_plugin_manager(load_entry_points=False)
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=self.entry_point)
        return pm

    @pytest.fixture
    def pack_model(self, pack_plugins: pluggy.PluginManager) -> ModelSpec:
        """The model the tests run: the backend's first default model."""
        backend = Packs(pack_plugins).hooks[self.backend].backend
        assert backend.default_models, (
            f"backend {self.backend!r} has no default model: override the pack_model fixture"
        )
        return backend.default_models[0]

    @pytest.fixture
    def sample_audio(self) -> bytes:
        return tone_wav()

    @pytest.fixture
    def hooks(self, pack_plugins: pluggy.PluginManager) -> PackHooks:
        packs = Packs(pack_plugins)
        assert self.backend in packs.hooks, (
            f"entry point {self.entry_point!r} registers no complete backend {self.backend!r}"
            " (the server log says which hook is missing)"
        )
        return packs.hooks[self.backend]

    # -- the contract ------------------------------------------------------------------------

    def test_the_entry_point_registers_the_backend(self, hooks: PackHooks) -> None:
        names = [ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)]
        assert self.entry_point in names, f"no entry point {self.entry_point!r} in group multai"
        assert hooks.backend.name == self.backend and hooks.backend.tasks

    def test_the_estimate_imports_no_runtime(self, hooks: PackHooks, pack_model: ModelSpec) -> None:
        estimate = hooks.estimate(pack_model, DeviceSnapshot())
        assert isinstance(estimate, MemoryEstimate) and estimate.cpu_bytes > 0
        code = (
            "import sys, msgspec\n"
            "from multai_core.engine.packs import Packs\n"
            "from multai_core.plugin_api import DeviceSnapshot, ModelSpec\n"
            "from multai_core.plugins import ENTRY_POINT_GROUP, make_plugin_manager\n"
            "pm = make_plugin_manager(load_entry_points=False)\n"
            f"pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name={self.entry_point!r})\n"
            f"spec = msgspec.json.decode({msgspec_json(pack_model)!r}, type=ModelSpec)\n"
            f"Packs(pm).hooks[{self.backend!r}].estimate(spec, DeviceSnapshot())\n"
            f"print(sorted(m for m in {self.heavy_modules!r} if m in sys.modules))\n"
        )
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr[-2000:]
        assert run.stdout.strip() == "[]", f"the estimate imported {run.stdout.strip()}"

    def test_load_infer_unload(
        self, hooks: PackHooks, pack_model: ModelSpec, sample_audio: bytes
    ) -> None:
        handle = hooks.load(pack_model, Placement(kind="cpu"))
        try:
            for kind in kinds_of(hooks):
                task = Task(
                    id=f"contract-{kind}",
                    kind=kind,
                    model=pack_model.name,
                    payload=engine_task(kind, sample_audio),
                )
                items = consume(kind, hooks.infer(handle, task, threading.Event()))
                assert items, f"a {kind} task gave nothing"
        finally:
            hooks.unload(handle)

    def test_cancel_stops_every_kind(
        self, hooks: PackHooks, pack_model: ModelSpec, sample_audio: bytes
    ) -> None:
        """A task that yields step by step (its infer returns an iterator) stops within two
        more items once cancel is set. A task with one result, whose cancel is set before
        infer, still returns a result of its kind; one that can take long (image) must then
        skip its work and return no images."""
        handle = hooks.load(pack_model, Placement(kind="cpu"))
        try:
            for kind in kinds_of(hooks):
                task = Task(
                    id=f"cancel-{kind}",
                    kind=kind,
                    model=pack_model.name,
                    payload=engine_task(kind, sample_audio, long=True),
                )
                result = hooks.infer(handle, task, threading.Event())
                full = consume(kind, result)
                if isinstance(result, Iterator):
                    stops_early(hooks, handle, task, len(full))
                else:
                    returns_when_cancelled(hooks, handle, task, type(result))
        finally:
            hooks.unload(handle)

    def test_openai_conformance(
        self, hooks: PackHooks, pack_plugins: pluggy.PluginManager, pack_model: ModelSpec,
        sample_audio: bytes,
    ) -> None:  # fmt: skip
        app = create_app(Config(models=[pack_model]), pack_plugins)
        with threaded_server(app) as base_url:
            client = OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)
            for kind in sorted(hooks.backend.tasks):
                self._conforms(client, kind, pack_model.name, sample_audio)

    def _conforms(self, client: OpenAI, kind: str, model: str, audio: bytes) -> None:
        raw: Any
        if kind in ("chat", "vision"):
            content: Any = "Say hello."
            if kind == "vision":
                content = [
                    {"type": "text", "text": "What is in this image?"},
                    {"type": "image_url", "image_url": {"url": png_data_url(sample_image())}},
                ]
            raw = client.chat.completions.with_raw_response.create(
                model=model, messages=[{"role": "user", "content": content}], max_tokens=8
            )
            openai_spec.validate("CreateChatCompletionResponse", raw.http_response.json())
        elif kind == "completion":
            raw = client.completions.with_raw_response.create(
                model=model, prompt="Hello", max_tokens=8
            )
            openai_spec.validate("CreateCompletionResponse", raw.http_response.json())
        elif kind == "embedding":
            raw = client.embeddings.with_raw_response.create(
                model=model, input=["hello world"], encoding_format="float"
            )
            openai_spec.validate("CreateEmbeddingResponse", raw.http_response.json())
        elif kind in ("transcription", "translation"):
            api = (
                client.audio.transcriptions
                if kind == "transcription"
                else client.audio.translations
            )
            raw = api.with_raw_response.create(model=model, file=("sample.wav", audio))
            name = (
                "CreateTranscriptionResponseJson"
                if kind == "transcription"
                else "CreateTranslationResponseJson"
            )
            openai_spec.validate(name, raw.http_response.json())
        elif kind == "speech":
            raw = client.audio.speech.with_raw_response.create(
                model=model, voice="alloy", input="Hello.", response_format="wav"
            )
            assert raw.http_response.headers["content-type"].startswith("audio/")
            assert raw.http_response.content[:4] == b"RIFF"
        elif kind == "image":
            size: Any = self.image_size
            raw = client.images.with_raw_response.generate(
                model=model, prompt="a red square", n=1, response_format="b64_json",
                **({"size": size} if size else {}),
            )  # fmt: skip
            openai_spec.validate("ImagesResponse", raw.http_response.json())
        else:
            raise AssertionError(f"no conformance request for task kind {kind!r}")


def stops_early(hooks: PackHooks, handle: object, task: Task, full: int) -> None:
    """Cancel set after the first item: at most two more, or fewer than ``full`` in all. A
    task whose whole answer is the first item and two more is over before a cancel could
    stop it: then cancel set before infer must still give well-formed items."""
    if full <= 3:
        cancel = threading.Event()
        cancel.set()
        consume(task.kind, hooks.infer(handle, task, cancel))
        return
    cancel = threading.Event()
    result = hooks.infer(handle, task, cancel)
    assert isinstance(result, Iterator)
    first = list(itertools.islice(result, 1))
    cancel.set()
    rest = list(result)
    assert len(first) + len(rest) < full or len(rest) <= 2, (
        f"a cancelled {task.kind} task went on for {len(rest)} items ({full} in all)"
    )


def returns_when_cancelled(hooks: PackHooks, handle: object, task: Task, kind_type: type) -> None:
    """Cancel set before infer: a ``kind_type`` result, for an image task one with no
    images."""
    cancel = threading.Event()
    cancel.set()
    result = hooks.infer(handle, task, cancel)
    assert isinstance(result, kind_type), f"a cancelled {task.kind} task returned {result!r}"
    if isinstance(result, ImageResult):
        assert not result.images, (
            f"the {task.kind} task, cancelled before it began, made {len(result.images)} images"
        )


def kinds_of(hooks: PackHooks) -> list[TaskKind]:
    known = set(get_args(TaskKind))
    return [cast(TaskKind, k) for k in sorted(hooks.backend.tasks) if k in known]


def msgspec_json(spec: ModelSpec) -> str:
    import msgspec

    return msgspec.json.encode(spec).decode()
