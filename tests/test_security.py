"""Safe defaults, pluggable authentication, TLS, CORS, and keys kept out of logs and errors."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import openai
import pytest
import trustme
from cryptography.hazmat.primitives.asymmetric import rsa
from openai import OpenAI

from multai_core.config import Config, ServerConfig
from multai_core.plugins import make_plugin_manager
from multai_core.server.app import create_app
from multai_core.testing.openai_spec import validate
from multai_core.testing.server import multai_process, threaded_server
from tests.conftest import CPU_ONLY, make_server
from tests.echo_plugin import EchoPlugin
from tests.jwt_plugin import JwtAuth

USER = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _token(key: rsa.RSAPrivateKey, **claims: object) -> str:
    body = {"sub": "alice", "aud": "multai", "exp": int(time.time()) + 300, **claims}
    return jwt.encode(body, key, algorithm="RS256")


@pytest.fixture(scope="module")
def jwt_server(rsa_key: rsa.RSAPrivateKey) -> Iterator[str]:
    pm = make_plugin_manager(load_entry_points=False)
    pm.register(EchoPlugin(), name="echo")
    pm.register(JwtAuth(rsa_key.public_key()), name="jwt")
    app = create_app(Config(), pm, probe=lambda: CPU_ONLY)
    with threaded_server(app) as base:
        yield base


def _client(base: str, key: str) -> OpenAI:
    return OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)


def test_jwt_plugin_sets_priority_and_models(jwt_server: str, rsa_key: rsa.RSAPrivateKey) -> None:
    token = _token(rsa_key, max_priority=1, models=["echo"])
    client = _client(jwt_server, token)
    assert (
        client.chat.completions.create(model="echo", messages=USER).choices[0].message.content
        == "hi"
    )  # type: ignore[arg-type]
    with pytest.raises(openai.PermissionDeniedError):
        client.chat.completions.create(model="echo", messages=USER, extra_body={"priority": 0})  # type: ignore[arg-type]
    urgent = _client(jwt_server, _token(rsa_key, max_priority=0))
    assert urgent.chat.completions.create(
        model="echo", messages=USER, extra_body={"priority": 0}
    ).choices  # type: ignore[arg-type]


def test_jwt_rejects_bad_tokens_and_anonymous(jwt_server: str, rsa_key: rsa.RSAPrivateKey) -> None:
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for bad in (
        _token(other_key),  # wrong signature
        _token(rsa_key, exp=int(time.time()) - 10),  # expired
        _token(rsa_key, aud="someone-else"),
        "not-a-jwt",  # no API keys configured, and an auth plugin is installed: no anonymous
    ):
        with pytest.raises(openai.AuthenticationError):
            _client(jwt_server, bad).chat.completions.create(model="echo", messages=USER)  # type: ignore[arg-type]
    assert httpx.get(f"{jwt_server}/v1/models").status_code == 401


OPENAPI_PATHS = ("/openapi", "/openapi/openapi.json", "/openapi/openapi.yaml")


def test_openapi_needs_a_key_unless_configured_public(
    jwt_server: str, rsa_key: rsa.RSAPrivateKey
) -> None:
    keyed = Config(server=ServerConfig(api_keys=["sk-docs"]))
    with make_server(EchoPlugin(), keyed) as base:
        for path in OPENAPI_PATHS:
            refused = httpx.get(f"{base}{path}")
            assert refused.status_code == 401, path
            validate("ErrorResponse", refused.json())
            wrong = httpx.get(f"{base}{path}", headers={"authorization": "Bearer sk-wrong"})
            assert wrong.status_code == 401, path
            allowed = httpx.get(f"{base}{path}", headers={"authorization": "Bearer sk-docs"})
            assert allowed.status_code == 200, path
            assert "/v1/chat/completions" in allowed.text
    public = Config(server=ServerConfig(api_keys=["sk-docs"], openapi_public=True))
    with make_server(EchoPlugin(), public) as base:
        assert all(httpx.get(f"{base}{path}").status_code == 200 for path in OPENAPI_PATHS)
        assert httpx.get(f"{base}/v1/models").status_code == 401  # only the document is public
    # an authentication plugin guards it as it guards the API
    assert httpx.get(f"{jwt_server}/openapi").status_code == 401
    token = {"authorization": f"Bearer {_token(rsa_key)}"}
    assert httpx.get(f"{jwt_server}/openapi", headers=token).status_code == 200


def test_api_keys_are_not_logged_or_echoed(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    secret, wrong = "sk-right-canary-5150", "sk-wrong-canary-8086"
    with multai_process(
        env={"MULTAI_API_KEYS": secret, "MULTAI_LOAD_PLUGINS": ""}, log_path=log
    ) as base:
        refused = httpx.get(f"{base}/v1/models", headers={"authorization": f"Bearer {wrong}"})
        assert refused.status_code == 401
        assert wrong not in refused.text and secret not in refused.text
        assert (
            httpx.get(
                f"{base}/v1/models", headers={"authorization": f"Bearer {secret}"}
            ).status_code
            == 200
        )
        metrics = httpx.get(f"{base}/metrics", headers={"authorization": f"Bearer {secret}"}).text
        assert secret not in metrics
    text = log.read_text()
    assert "status=401" in text or '"status": 401' in text
    assert secret not in text and wrong not in text


def test_refuses_public_bind_without_keys() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "multai_core.cli", "serve", "--host", "0.0.0.0", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "MULTAI_LOAD_PLUGINS": ""},
    )
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0 without API keys" in result.stderr


def test_tls_with_a_self_signed_certificate(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path, ca_path = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    ca.cert_pem.write_to_path(str(ca_path))
    config = tmp_path / "multai.toml"
    config.write_text(f'[server]\ntls_certfile = "{cert_path}"\ntls_keyfile = "{key_path}"\n')
    env = {"MULTAI_LOAD_PLUGINS": ""}
    with (
        _tls_process(config, env) as base,
        httpx.Client(verify=ssl.create_default_context(cafile=str(ca_path))) as verified,
    ):
        assert verified.get(f"{base}/health").json() == {"status": "ok"}
        client = OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0, http_client=verified)
        assert list(client.models.list()) == []
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base}/health")  # an unknown CA is refused by a default client
        with pytest.raises(httpx.HTTPError):
            httpx.get(base.replace("https://", "http://") + "/health")  # no plain http


def _tls_process(config: Path, env: dict[str, str]):  # type: ignore[no-untyped-def]
    """multai_process speaks http for its health check; for TLS poll with the CA ourselves."""
    import contextlib
    import os

    from multai_core.testing.server import free_port

    @contextlib.contextmanager
    def run() -> Iterator[str]:
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "multai_core.cli",
            "--config",
            str(config),
            "serve",
            "--port",
            str(port),
        ]
        process = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        base = f"https://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError, ssl.SSLError):
                    httpx.get(f"{base}/health", verify=False, timeout=1)
                    break
                time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    return run()


def test_cors_is_off_unless_configured() -> None:
    preflight = {
        "origin": "https://app.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
    }
    with make_server(EchoPlugin()) as base:
        response = httpx.options(f"{base}/v1/chat/completions", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
    config = Config(server=ServerConfig(cors_allow_origins=["https://app.example"]))
    with make_server(EchoPlugin(), config) as base:
        response = httpx.options(f"{base}/v1/chat/completions", headers=preflight)
        assert response.headers.get("access-control-allow-origin") == "https://app.example"


def test_offline_environment_is_enforced() -> None:
    code = (
        "import os; from multai_core.server.app import create_app; create_app();"
        "print(os.environ['HF_HUB_OFFLINE'], os.environ['TRANSFORMERS_OFFLINE'], os.environ['HF_HUB_DISABLE_TELEMETRY'])"
    )
    env = {"PATH": "/usr/bin:/bin", "MULTAI_LOAD_PLUGINS": ""}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.split() == ["1", "1", "1"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            '{"model":"echo","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":'
            + '{"a":' * 20000
            + "1"
            + "}" * 20000
            + "}}]}",
            "nested too deeply",
        ),
        (
            '{"model":"echo","messages":[{"role":"user","content":"x"}],"unknown":'
            + "[" * 100000
            + "]" * 100000
            + "}",
            "nested too deeply",
        ),
        (
            '{"model":"echo","messages":[{"role":"user","content":"x"}],"max_tokens":1000000000000000000000}',
            "max_tokens",
        ),
        (
            '{"model":"echo","messages":['
            + ",".join(['{"role":"user","content":"x"}'] * 1001)
            + "]}",
            "length <= 1000",
        ),
        ('{"model":"echo","messages":[{"role":"user","content":"x"}],"n":1000}', "<= 128"),
        (
            '{"model":"../../etc/passwd","messages":[{"role":"user","content":"x"}]}',
            "does not exist",
        ),
        (
            '{"model":"/root/model.gguf","messages":[{"role":"user","content":"x"}]}',
            "does not exist",
        ),
    ],
)
def test_hostile_json(server: str, body: str, fragment: str) -> None:
    response = httpx.post(
        f"{server}/v1/chat/completions", content=body, headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500
    assert fragment in response.json()["error"]["message"]
    assert httpx.get(f"{server}/health").status_code == 200


def test_invalid_utf8_body(server: str) -> None:
    response = httpx.post(
        f"{server}/v1/chat/completions",
        content=b'{"model":"echo","messages":[{"role":"user","content":"\xff\xfe"}]}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert "UTF-8" in response.json()["error"]["message"]
