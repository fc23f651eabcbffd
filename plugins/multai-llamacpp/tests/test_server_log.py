"""The server's log with llama.cpp loaded: nothing of llama.cpp's own (C-level) log reaches
stderr raw, every line is JSON, and the startup line names the model, its alias and the URL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from multai_llamacpp.default_model import default_models
from openai import OpenAI

from multai_core.testing.server import multai_process


@pytest.mark.parametrize("level", ["info", "debug"])
def test_llama_cpp_log_stays_out_of_stderr(tmp_path: Path, level: str) -> None:
    model = default_models()[0]
    config = tmp_path / "multai.toml"
    config.write_text(
        f"""
default_models = false
[[models]]
name = "smollm2"
backend = "llamacpp"
path = "{model.path}"
aliases = ["gpt-4o-mini"]
options = {{ n_ctx = 512, n_threads = 1 }}
"""
    )
    log = tmp_path / "server.log"
    with multai_process(
        config=config,
        log_path=log,
        env={"MULTAI_LOAD_PLUGINS": "llamacpp", "MULTAI_SERVER__LOG_LEVEL": level},
    ) as base_url:
        client = OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0, timeout=120)
        client.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": "Hi"}], max_tokens=2
        )
        # the embedding context is made on the first embedding request; llama.cpp warns then
        client.embeddings.create(model="smollm2", input="hello")
    lines = log.read_text(encoding="utf-8").splitlines()
    raw = [line for line in lines if not line.startswith("{")]
    assert not raw, raw
    events = [json.loads(line) for line in lines]
    serving = [e for e in events if e["event"] == "serving"]
    assert len(serving) == 1
    assert serving[0]["url"] == base_url
    assert serving[0]["models"] == [
        {"id": "smollm2", "aliases": ["gpt-4o-mini"], "backend": "llamacpp"}
    ]
    assert any(e["event"] == "model_loaded" for e in events)
    llama = [str(e["line"]) for e in events if e["event"] == "llama_cpp_log"]
    if level == "info":
        assert not llama
    else:  # routed into the log at debug level, line by line
        assert any("pooling_type" in line for line in llama), llama
