"""Bad uploads get the right status and OpenAI's error shape, and the server keeps serving."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI
from speech_fixtures import fixture_path, spoken_text
from transcoding import encode, joined, samples
from whisper_server import Server, server_env

from multai_core.testing.openai_spec import validate
from multai_core.testing.server import multai_process

MODEL = "whisper-1"
MiB = 1024 * 1024


def post(
    server: Server, files: dict[str, Any] | None, data: dict[str, Any], path: str = "transcriptions"
) -> httpx.Response:
    return httpx.post(f"{server.base_url}/v1/audio/{path}", files=files, data=data, timeout=120)


def assert_error(response: httpx.Response, status: int, param: str | None, *fragments: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    validate("ErrorResponse", body)
    error = body["error"]
    assert error["param"] == param
    for fragment in fragments:
        assert fragment.lower() in error["message"].lower(), error["message"]


@pytest.fixture(autouse=True)
def still_serving(server: Server) -> Iterator[None]:
    yield
    assert httpx.get(f"{server.base_url}/health", timeout=10).status_code == 200


def test_not_audio_is_a_400_that_says_so(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.transcriptions.create(
            model=MODEL, file=("notes.txt", b"Minutes of the meeting: nothing to report.\n" * 50)
        )
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["param"] == "file" and body["type"] == "invalid_request_error"
    assert "not audio" in body["message"]


def test_image_without_audio_track_is_a_400(server: Server) -> None:
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
    )
    response = post(server, {"file": ("photo.png", png, "image/png")}, {"model": MODEL})
    assert_error(response, 400, "file", "audio")


def test_empty_file_is_a_400(server: Server) -> None:
    response = post(server, {"file": ("empty.wav", b"", "audio/wav")}, {"model": MODEL})
    assert_error(response, 400, "file", "empty")


def test_missing_file_is_a_400(server: Server) -> None:
    response = post(server, {"model": (None, MODEL)}, {})
    assert_error(response, 400, "file", "file")


def test_missing_model_is_a_400(server: Server) -> None:
    with fixture_path("en_invoice.wav").open("rb") as audio:
        response = post(server, {"file": ("a.wav", audio)}, {})
    assert_error(response, 400, "model", "model")


def test_unknown_model_is_a_404(client: OpenAI) -> None:
    with (
        pytest.raises(openai.NotFoundError) as caught,
        fixture_path("en_invoice.wav").open("rb") as f,
    ):
        client.audio.transcriptions.create(model="whisper-large-v9", file=f)
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["code"] == "model_not_found" and body["param"] == "model"


def test_json_body_is_a_400_asking_for_multipart(server: Server) -> None:
    response = httpx.post(
        f"{server.base_url}/v1/audio/transcriptions", json={"model": MODEL}, timeout=30
    )
    assert_error(response, 400, None, "multipart/form-data")


def test_malformed_multipart_is_a_400(server: Server) -> None:
    response = httpx.post(
        f"{server.base_url}/v1/audio/transcriptions",
        content=b'--xyz\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1',
        headers={"content-type": "multipart/form-data; boundary=xyz"},
        timeout=30,
    )
    assert_error(response, 400, None, "malformed")


@pytest.mark.parametrize(
    ("data", "param", "fragment"),
    [
        ({"response_format": "diarized_json"}, "response_format", "diarized_json"),
        ({"temperature": "hot"}, "temperature", "float"),
        ({"temperature": "1.5"}, "temperature", "<= 1.0"),
        ({"language": "not a language"}, "language", "language"),
        ({"language": "xx"}, "language", "'xx'"),
        ({"priority": "7"}, "priority", "<= 2"),
        ({"stream": "true", "response_format": "srt"}, "stream", "json or text"),
        ({"include[]": "logprobs"}, "include", "logprobs"),
        ({"prompt": "a", "initial_prompt": "b"}, None, "not both"),
    ],
)
def test_bad_fields_are_400s(
    server: Server, data: dict[str, str], param: str | None, fragment: str
) -> None:
    with fixture_path("en_invoice.wav").open("rb") as audio:
        response = post(server, {"file": ("a.wav", audio)}, {"model": MODEL, **data})
    assert_error(response, 400, param, fragment)


@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # the SDK's, on translations
def test_translation_of_a_non_audio_file_is_a_400(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.translations.create(model=MODEL, file=("x.mp3", b"\x00\x01" * 1000))
    assert "not audio" in str(caught.value)


def test_over_the_default_limit_is_a_413_before_the_upload_is_read(client: OpenAI) -> None:
    too_big = b"\0" * (25 * MiB + 1)
    with pytest.raises(openai.APIStatusError) as caught:
        client.audio.transcriptions.create(model=MODEL, file=("big.wav", too_big))
    assert caught.value.status_code == 413
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["code"] == "request_too_large" and body["param"] == "file"


def test_over_the_limit_without_content_length_is_a_413(server: Server) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'--b\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n'
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        for _ in range(27):
            yield b"\0" * MiB
        yield b"\r\n--b--\r\n"

    response = httpx.post(
        f"{server.base_url}/v1/audio/transcriptions",
        content=chunks(),
        headers={"content-type": "multipart/form-data; boundary=b"},
        timeout=60,
    )
    assert_error(response, 413, "file", "larger")


def test_still_transcribes_after_the_errors(client: OpenAI) -> None:
    with fixture_path("en_invoice.wav").open("rb") as audio:
        result = client.audio.transcriptions.create(model=MODEL, file=audio, language="en")
    assert "invoice" in result.text.lower()


# --- limits from the config ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_limits(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("limits")
    env = server_env(
        cache_dir,
        folder,
        MULTAI_SERVER__MAX_AUDIO_BYTES="100000",
        MULTAI_SERVER__MAX_AUDIO_SECONDS="8",
    )
    with multai_process(env=env, log_path=folder / "server.log") as base_url:
        yield Server(base_url, folder / "server.log", folder)


def test_configured_byte_limit(small_limits: Server) -> None:
    with fixture_path("en_invoice.wav").open("rb") as audio:  # 174 kB
        response = post(small_limits, {"file": ("a.wav", audio)}, {"model": MODEL})
    assert_error(response, 413, "file", "100000 bytes")


def test_configured_duration_limit(small_limits: Server) -> None:
    twenty_seconds = encode(joined([fixture_path("en_invoice.wav")], seconds=20), "mp3")
    assert len(twenty_seconds) < 100_000
    response = post(small_limits, {"file": ("long.mp3", twenty_seconds)}, {"model": MODEL})
    assert_error(response, 400, "file", "longer", "8 s")
    short = encode(samples(fixture_path("en_invoice.wav")), "mp3")
    response = post(
        small_limits, {"file": ("short.mp3", short)}, {"model": MODEL, "language": "en"}
    )
    assert response.status_code == 200, response.text
    assert "invoice" in response.json()["text"].lower()
    assert spoken_text("en_invoice.wav")
