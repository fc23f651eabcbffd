"""`multai pull` against a fake hub on loopback: what is fetched, checked, refused and recorded."""

from __future__ import annotations

import argparse
import hashlib
import io
import struct
from collections.abc import Collection, Iterator
from pathlib import Path

import pytest

from multai_core.cli import pull as pull_cli
from multai_core.config import Config, MemoryConfig, ServerConfig
from multai_core.engine.memory import MemoryManager
from multai_core.engine.packs import Packs
from multai_core.plugins import make_plugin_manager
from multai_core.store.catalog import PullRefused
from multai_core.store.manifest import ModelStore, PulledModel
from multai_core.store.preflight import assessor
from multai_core.store.pull import PullOptions, pull
from multai_core.testing.fake_hub import FakeHub
from tests.conftest import CPU_ONLY, make_server
from tests.echo_plugin import EchoPlugin

MiB = 2**20


def tiny_gguf(size: int, tag: bytes = b"llama") -> bytes:
    """A GGUF file: a real header (one key, no tensors), then filler up to ``size``."""
    key = b"general.architecture"
    header = b"GGUF" + struct.pack("<IQQ", 3, 0, 1)
    header += struct.pack("<Q", len(key)) + key + struct.pack("<IQ", 8, len(tag)) + tag
    filler = bytes(range(256)) * ((size - len(header)) // 256 + 1)
    return header + filler[: size - len(header)]


def safetensors_file(size: int) -> bytes:
    header = b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'
    body = struct.pack("<Q", len(header)) + header + bytes(16)
    return body + b"\0" * max(0, size - len(body))


@pytest.fixture
def store(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "models")


def echo_packs(ram_budget: int | None = None) -> tuple[Collection[str], MemoryManager]:
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(EchoPlugin(), name="echo")
    packs = Packs(pm)
    return packs.hooks.keys(), MemoryManager(
        packs, MemoryConfig(ram_budget_bytes=ram_budget), probe=lambda: CPU_ONLY
    )


def run_pull(
    reference: str,
    store: ModelStore,
    options: PullOptions | None = None,
    ram_budget: int | None = None,
) -> tuple[PulledModel, str]:
    out = io.StringIO()
    model = pull(
        reference,
        store,
        options or PullOptions(),
        assess=assessor(*echo_packs(ram_budget)),
        confirm=None,
        out=out,
    )
    return model, out.getvalue()


def cli(argv: list[str], config: Config, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    pull_cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    code = int(args.handler(args, config))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_gguf_pull_fetches_one_quantization_checks_it_and_records_it(
    hub: FakeHub, store: ModelStore
) -> None:
    q4, q8 = tiny_gguf(300_000), tiny_gguf(400_000, b"other")
    sha = hub.add_commit(
        "acme/Tiny-GGUF",
        {"tiny-Q4_K_M.gguf": q4, "tiny-Q8_0.gguf": q8, "README.md": b"# tiny", "x.bin": b"p"},
    )
    model, out = run_pull("acme/Tiny-GGUF", store)

    assert (model.name, model.backend, model.source, model.revision) == (
        "tiny",
        "llamacpp",
        "acme/Tiny-GGUF",
        sha,
    )
    assert model.files == ("tiny-Q4_K_M.gguf",) and model.size_bytes == len(q4)
    assert Path(model.path).read_bytes() == q4
    assert store.get("tiny") == model
    assert not (store.folder_for("tiny") / ".incomplete").exists()
    # the header alone came first, by a range request, then the whole file
    assert hub.ranges("tiny-Q4_K_M.gguf")[0] == "bytes=0-262143"
    assert hub.ranges("tiny-Q4_K_M.gguf")[-1] is None
    assert hub.ranges("tiny-Q8_0.gguf") == []
    assert "backend llamacpp is not installed here" in out  # the core session has no llama.cpp
    # a non-terminal gets plain lines, no carriage returns or escape codes
    assert "\r" not in out and "\x1b" not in out
    assert "tiny-Q4_K_M.gguf: done, 0.3 MiB; total 0.3 MiB/0.3 MiB" in out


def test_a_quantization_is_picked_by_name_and_a_missing_one_lists_the_others(
    hub: FakeHub, store: ModelStore
) -> None:
    hub.add_commit(
        "acme/Tiny-GGUF", {"tiny-Q4_K_M.gguf": tiny_gguf(1000), "tiny-Q8_0.gguf": tiny_gguf(2000)}
    )
    model, _ = run_pull("acme/Tiny-GGUF:q8_0", store)
    assert model.name == "tiny:q8_0" and model.files == ("tiny-Q8_0.gguf",)
    assert model.file == "q8_0"  # what --update asks for again
    with pytest.raises(PullRefused, match=r"no GGUF file for 'Q2_K'.*Q4_K_M, Q8_0"):
        run_pull("acme/Tiny-GGUF:Q2_K", store)


def test_a_split_gguf_is_pulled_whole_and_loads_from_its_first_part(
    hub: FakeHub, store: ModelStore
) -> None:
    parts = {f"Q4_K_M/big-Q4_K_M-{i:05d}-of-00003.gguf": tiny_gguf(1000 * i) for i in (1, 2, 3)}
    hub.add_commit("acme/Big-GGUF", {**parts, "big-Q8_0.gguf": tiny_gguf(500)})
    model, _ = run_pull("acme/Big-GGUF", store)  # the default quantization is the split one
    assert model.files == tuple(parts) and model.size_bytes == 6000
    assert model.path.endswith("big-Q4_K_M-00001-of-00003.gguf")
    for path, data in parts.items():  # each part's header read for the estimate, then all of it
        assert (store.folder_for(model.name) / path).read_bytes() == data
        assert hub.ranges(path)[0] == f"bytes=0-{len(data) - 1}"
    with pytest.raises(PullRefused, match=r"no GGUF file for 'Q2_K'; it has: Q4_K_M, Q8_0\."):
        run_pull("acme/Big-GGUF:Q2_K", store)
    del parts["Q4_K_M/big-Q4_K_M-00002-of-00003.gguf"]
    hub.add_commit("acme/Gappy-GGUF", parts)
    with pytest.raises(PullRefused, match="split in 3 parts but 1 are missing"):
        run_pull("acme/Gappy-GGUF", store)


def test_a_pulled_model_is_served(hub: FakeHub, tmp_path: Path) -> None:
    hub.add_commit(
        "acme/echo-weights", {"model.safetensors": safetensors_file(5000), "config.json": b"{}"}
    )
    store = ModelStore(tmp_path / "models")
    model, _ = run_pull(
        "acme/echo-weights:*.safetensors", store, PullOptions(name="pulled-echo", backend="echo")
    )
    assert model.path.endswith("model.safetensors") and model.files == ("model.safetensors",)
    config = Config(server=ServerConfig(models_dir=str(tmp_path / "models")))
    from openai import OpenAI

    with make_server(EchoPlugin(), config) as base_url:
        client = OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)
        assert "pulled-echo" in [m.id for m in client.models.list()]
        reply = client.chat.completions.create(
            model="pulled-echo", messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )
        assert reply.model == "pulled-echo"


def test_an_unknown_catalog_name_suggests_the_closest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = Config(server=ServerConfig(models_dir=str(tmp_path / "models")))
    code, text = cli(["pull", "smollm2-360m-instruc"], config, capsys)
    assert code == 1
    assert "Did you mean smollm2-360m-instruct" in text
    assert not (tmp_path / "models").exists()


def test_unknown_repository_and_revision_are_refused_by_name(
    hub: FakeHub, store: ModelStore
) -> None:
    hub.add_commit("acme/Tiny-GGUF", {"tiny-Q4_K_M.gguf": tiny_gguf(1000)})
    with pytest.raises(PullRefused, match=rf"repository acme/nothing not found at {hub.url}"):
        run_pull("acme/nothing", store)
    with pytest.raises(PullRefused, match=r"acme/Tiny-GGUF has no revision 'v9'"):
        run_pull("acme/Tiny-GGUF@v9", store)
    assert store.entries() == []


def test_a_repository_with_only_pickles_is_refused_with_why(
    hub: FakeHub, store: ModelStore
) -> None:
    hub.add_commit(
        "acme/old-model",
        {
            "pytorch_model.bin": b"\x80\x04pickle" * 100,
            "config.json": b'{"architectures": ["BarkModel"]}',
        },
    )
    with pytest.raises(PullRefused, match=r"only pickled weights \(pytorch_model.bin\).*run any"):
        run_pull("acme/old-model", store)
    assert hub.ranges("pytorch_model.bin") == []


def test_a_folder_model_fetches_safetensors_not_pickles_and_asks_for_a_backend(
    hub: FakeHub, store: ModelStore
) -> None:
    files = {
        "model.safetensors": safetensors_file(4000),
        "pytorch_model.bin": b"\x80\x04" * 1000,
        "config.json": b'{"architectures": ["BarkModel"]}',
        "tokenizer.json": b"{}",
    }
    hub.add_commit("acme/bark-like", files)
    model, _ = run_pull("acme/bark-like", store)
    assert model.backend == "bark"  # from config.json's architectures
    assert model.files == ("config.json", "model.safetensors", "tokenizer.json")
    assert model.path == str(store.folder_for("bark-like"))
    hub.add_commit("acme/unknown", {**files, "config.json": b"{}"})
    with pytest.raises(PullRefused, match="name one with --backend"):
        run_pull("acme/unknown", store)


def test_a_corrupt_download_is_removed_and_refused(hub: FakeHub, store: ModelStore) -> None:
    hub.add_commit("acme/Tiny-GGUF", {"tiny-Q4_K_M.gguf": tiny_gguf(50_000)})
    hub.corrupt("acme/Tiny-GGUF", "tiny-Q4_K_M.gguf")
    with pytest.raises(PullRefused, match=r"does not match the hub's checksum.*removed"):
        run_pull("acme/Tiny-GGUF", store)
    assert store.entries() == []
    left = [p for p in store.root.rglob("*") if p.is_file()]
    assert left == []


def test_an_interrupted_pull_resumes_where_it_stopped(
    hub: FakeHub, store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    # huggingface_hub writes whole chunks (10 MB): smaller ones keep a cut-short tiny file's part
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 64 * 1024)
    data = tiny_gguf(600_000)
    hub.add_commit("acme/Tiny-GGUF", {"tiny-Q4_K_M.gguf": data})
    hub.cut_after("acme/Tiny-GGUF", "tiny-Q4_K_M.gguf", 200_000)
    with pytest.raises(PullRefused, match="run the pull again"):
        run_pull("acme/Tiny-GGUF", store)
    assert store.entries() == []  # nothing recorded, the partial file kept
    partial = [p for p in store.root.rglob("*.gguf") if ".incomplete" in p.parts]
    kept = 3 * 64 * 1024  # the whole chunks of the 200 000 bytes sent
    assert [p.stat().st_size for p in partial] == [kept]

    hub.heal()
    model, out = run_pull("acme/Tiny-GGUF", store)
    assert hub.ranges("tiny-Q4_K_M.gguf")[-1] == f"bytes={kept}-"
    assert "tiny-Q4_K_M.gguf: resuming at 0.2 MiB" in out
    assert hashlib.sha256(Path(model.path).read_bytes()).digest() == hashlib.sha256(data).digest()


def test_a_model_larger_than_the_free_disk_is_refused_before_any_download(
    hub: FakeHub, store: ModelStore
) -> None:
    hub.add_commit("acme/Tiny-GGUF", {"tiny-Q4_K_M.gguf": tiny_gguf(100_000)})
    with pytest.raises(PullRefused, match=r"needs 0.1 MiB but the disk under .* has 0.0 MiB free"):
        run_pull("acme/Tiny-GGUF", store, PullOptions(free_disk=50_000))
    assert [p for _, p, _ in hub.requests if "/resolve/" in p] == []


def test_a_model_that_would_not_fit_needs_yes_off_a_terminal(
    hub: FakeHub, store: ModelStore
) -> None:
    hub.add_commit("acme/echo-weights", {"model.safetensors": safetensors_file(5000)})
    options = PullOptions(name="big", backend="echo")
    with pytest.raises(PullRefused, match=r"would not fit .* pass --yes"):
        run_pull("acme/echo-weights:*.safetensors", store, options, ram_budget=MiB)
    assert store.entries() == []
    options.yes = True
    model, out = run_pull("acme/echo-weights:*.safetensors", store, options, ram_budget=MiB)
    assert "does not fit in the memory free now" in out and store.get("big") == model


def test_update_fetches_the_newest_revision_and_drops_old_files(
    hub: FakeHub, store: ModelStore
) -> None:
    hub.add_commit("acme/Tiny-GGUF", {"tiny-Q4_K_M.gguf": tiny_gguf(1000)})
    first, _ = run_pull("acme/Tiny-GGUF", store)
    _, out = run_pull("tiny", store, PullOptions(update=True))
    assert "up to date" in out
    new = hub.add_commit("acme/Tiny-GGUF", {"tiny-v2-Q4_K_M.gguf": tiny_gguf(2000)})
    second, _ = run_pull("tiny", store, PullOptions(update=True))
    assert second.revision == new and second.files == ("tiny-v2-Q4_K_M.gguf",)
    assert not Path(first.path).exists() and Path(second.path).exists()
    with pytest.raises(PullRefused, match="already pulled"):
        run_pull("acme/Tiny-GGUF", store)


def test_update_keeps_the_quantization_that_was_pulled(hub: FakeHub, store: ModelStore) -> None:
    files = {"tiny-Q4_K_M.gguf": tiny_gguf(1000), "tiny-Q8_0.gguf": tiny_gguf(2000)}
    hub.add_commit("acme/Tiny-GGUF", files)
    run_pull("acme/Tiny-GGUF:Q8_0", store)
    hub.add_commit("acme/Tiny-GGUF", {**files, "tiny-Q8_0.gguf": tiny_gguf(3000, b"new")})
    updated, _ = run_pull("tiny:q8_0", store, PullOptions(update=True))
    assert updated.files == ("tiny-Q8_0.gguf",) and updated.size_bytes == 3000


def test_offline_and_unreachable_hubs_say_what_to_do(
    hub: FakeHub, store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PullRefused, match="HF_HUB_OFFLINE is set"):
        run_pull("acme/Tiny-GGUF", store)
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")  # huggingface_hub honours it too
    with pytest.raises(PullRefused, match=r"^TRANSFORMERS_OFFLINE is set.*unset it to pull"):
        run_pull("acme/Tiny-GGUF", store)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(
        PullRefused,
        match=r"cannot reach the hub at http://127.0.0.1:9.*HF_ENDPOINT.*HF_HUB_OFFLINE",
    ):
        run_pull("acme/Tiny-GGUF", store)


def test_the_server_and_the_cli_do_not_import_huggingface_hub() -> None:
    import subprocess
    import sys

    code = (
        "import argparse, sys, multai_core.server.app, multai_core.cli.pull as p\n"
        "p.register(argparse.ArgumentParser().add_subparsers())\n"
        "print(sorted(m for m in ('huggingface_hub', 'httpx2') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_progress_on_a_terminal_redraws_one_line_with_rate_and_eta() -> None:
    from multai_core.store.progress import Progress

    out = io.StringIO()
    progress = Progress(out, 4 * MiB, terminal=True)
    progress.start_file("a.gguf", 4 * MiB)
    progress.advance(MiB)
    progress.end_file()
    text = out.getvalue()
    assert text.startswith("\r\x1b[Ka.gguf 25% 1.0 MiB/4.0 MiB; total 1.0 MiB/4.0 MiB, ")
    assert "MiB/s, ETA 0:00:" in text
    assert text.count("\n") == 1 and "\r\x1b[Ka.gguf: done, 4.0 MiB; total 1.0 MiB/4.0 MiB" in text


def _pull_events(base_url: str, body: dict[str, object], key: str = "unused") -> list[object]:
    import json

    import httpx

    events: list[object] = []
    with httpx.stream(
        "POST",
        f"{base_url}/v1/models/pull",
        json=body,
        headers={"authorization": f"Bearer {key}"},
        timeout=60,
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                data = line[len("data: ") :]
                events.append(data if data == "[DONE]" else json.loads(data))
    return events


def test_the_pull_endpoint_streams_progress_then_serves_and_deletes_the_model(
    hub: FakeHub, tmp_path: Path
) -> None:
    import httpx
    import openai
    from openai import OpenAI

    hub.add_commit("acme/echo-weights", {"model.safetensors": safetensors_file(300_000)})
    config = Config(server=ServerConfig(models_dir=str(tmp_path / "models")))
    with make_server(EchoPlugin(), config) as base_url:
        client = OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)
        body = {"model": "acme/echo-weights:*.safetensors", "name": "api-echo", "backend": "echo"}
        events = _pull_events(base_url, body)
        assert events[-1] == "[DONE]"
        done = events[-2]
        assert isinstance(done, dict) and done["status"] == "done", events
        assert done["model"]["id"] == "api-echo" and done["model"]["served"] is True
        lines = [e["message"] for e in events[:-2] if isinstance(e, dict)]
        assert any("model.safetensors: done" in line for line in lines), lines
        # served at once, no restart
        assert "api-echo" in [m.id for m in client.models.list()]
        reply = client.chat.completions.create(
            model="api-echo", messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )
        assert reply.model == "api-echo"

        deleted = client.models.delete("api-echo")
        assert (deleted.id, deleted.deleted) == ("api-echo", True)
        assert "api-echo" not in [m.id for m in client.models.list()]
        assert ModelStore(tmp_path / "models").entries() == []
        with pytest.raises(openai.NotFoundError):
            client.models.delete("api-echo")
        with pytest.raises(openai.ConflictError, match="only pulled models can be deleted"):
            client.models.delete("echo")  # the plugin's own model
        allowed = httpx.options(f"{base_url}/v1/models/echo").headers["allow"]
        assert allowed == "DELETE, GET, OPTIONS"
        assert httpx.options(f"{base_url}/v1/models/pull").headers["allow"] == "OPTIONS, POST"


def test_the_pull_endpoint_refuses_bad_names_and_reports_hub_errors_in_the_stream(
    hub: FakeHub, tmp_path: Path
) -> None:
    import httpx

    config = Config(server=ServerConfig(models_dir=str(tmp_path / "models")))
    with make_server(EchoPlugin(), config) as base_url:
        response = httpx.post(f"{base_url}/v1/models/pull", json={"model": "sdxl-turb"})
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["param"] == "model" and "Did you mean sdxl-turbo" in error["message"]
        response = httpx.post(f"{base_url}/v1/models/pull", json={"model": "", "update": True})
        assert response.status_code == 404
        error = response.json()["error"]
        assert error["code"] == "model_not_found" and "is not a pulled model" in error["message"]
        events = _pull_events(base_url, {"model": "acme/missing"})
        assert events[-1] == "[DONE]"
        assert events[-2] == {
            "object": "model.pull",
            "status": "error",
            "error": {
                "message": f"repository acme/missing not found at {hub.url} (check the "
                "name; a private or gated repository needs HF_TOKEN)"
            },
        }


def test_pulling_and_deleting_need_an_admin_key(hub: FakeHub, tmp_path: Path) -> None:
    import httpx
    import openai
    from openai import OpenAI

    from multai_core.config import ApiKeyEntry

    server = ServerConfig(
        models_dir=str(tmp_path / "models"),
        api_keys=[ApiKeyEntry(key="user-key"), ApiKeyEntry(key="admin-key", admin=True)],
    )
    with make_server(EchoPlugin(), Config(server=server)) as base_url:
        response = httpx.post(
            f"{base_url}/v1/models/pull",
            json={"model": "whisper-tiny"},
            headers={"authorization": "Bearer user-key"},
        )
        assert response.status_code == 403
        assert "admin API key" in response.json()["error"]["message"]
        user = OpenAI(base_url=f"{base_url}/v1", api_key="user-key", max_retries=0)
        with pytest.raises(openai.PermissionDeniedError):
            user.models.delete("echo")
        admin = OpenAI(base_url=f"{base_url}/v1", api_key="admin-key", max_retries=0)
        with pytest.raises(openai.ConflictError):
            admin.models.delete("echo")


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 512 KiB tmpfs (needs root or a user namespace that may mount; skipped otherwise)."""
    import subprocess

    mount = tmp_path / "small-disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()[:100]}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_disk_that_fills_during_the_download_leaves_no_file_and_no_model(
    hub: FakeHub, small_tmpfs: Path
) -> None:
    hub.add_commit("acme/Tiny-GGUF", {"tiny-Q4_K_M.gguf": tiny_gguf(2 * MiB)})
    store = ModelStore(small_tmpfs / "models")
    # the free space looked large enough when the pull was planned (another writer took it)
    with pytest.raises(PullRefused, match=r"the disk under .* is full: .* nothing was recorded"):
        run_pull("acme/Tiny-GGUF", store, PullOptions(free_disk=10 * MiB))
    assert store.entries() == []
    assert [p for p in small_tmpfs.rglob("*") if p.is_file()] == []
