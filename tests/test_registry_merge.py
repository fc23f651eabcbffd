"""Served models are the plugins' defaults, the pulled models and the configured [[models]],
in that order, a later entry taking over an earlier one's name and aliases; seen through the
openai SDK against the echo plugin."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import openai
import pytest
from openai import OpenAI

from multai_core.config import Config, ConfigError, ServerConfig, load_config
from multai_core.plugin_api.errors import ModelNotFound
from multai_core.plugin_api.types import Backend, ModelSpec
from multai_core.registry import Registry
from multai_core.store.manifest import ModelStore, PulledModel
from tests.conftest import make_server
from tests.echo_plugin import EchoPlugin

HELLO = [{"role": "user", "content": "hello there"}]


@contextmanager
def _client(plugin: EchoPlugin, config: Config) -> Iterator[OpenAI]:
    with make_server(plugin, config) as base_url:
        yield OpenAI(base_url=f"{base_url}/v1", api_key="unused", max_retries=0)


def _ids(client: OpenAI) -> set[str]:
    return {m.id for m in client.models.list()}


def _answer(client: OpenAI, model: str) -> str:
    reply = client.chat.completions.create(model=model, messages=HELLO, max_tokens=8)  # type: ignore[arg-type]
    return reply.choices[0].message.content or ""


def _store_config(tmp_path: Path, **fields: object) -> Config:
    server = ServerConfig(models_dir=str(tmp_path / "models"), data_dir=str(tmp_path / "data"))
    return Config(server=server, **fields)  # type: ignore[arg-type]


def _pull(config: Config, name: str, backend: str = "echo", **fields: object) -> PulledModel:
    """What `multai pull` leaves: the files in the model's folder, then the manifest."""
    from multai_core.config import models_dir

    store = ModelStore(models_dir(config.server))
    folder = store.folder_for(name)
    folder.mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"\0" * 64)
    model = PulledModel(
        name=name,
        backend=backend,
        path=str(folder / "weights.bin"),
        source=f"owner/{name}",
        revision="f" * 40,
        files=("weights.bin",),
        size_bytes=64,
        pulled_at=time.time(),
        **fields,  # type: ignore[arg-type]
    )
    store.record(model)
    return model


def test_a_configured_model_joins_the_defaults(echo_plugin: EchoPlugin, tmp_path: Path) -> None:
    config = _store_config(tmp_path, models=[ModelSpec(name="mine", backend="echo")])
    with _client(echo_plugin, config) as client:
        assert _ids(client) == {"echo", "echo-alias", "slow", "mine"}
        assert "hello" in _answer(client, "mine")
        assert "hello" in _answer(client, "echo-alias")


def test_a_configured_entry_overrides_the_default_of_its_name(
    echo_plugin: EchoPlugin, tmp_path: Path
) -> None:
    configured = ModelSpec(name="echo", backend="echo", options={"fail_load": True})
    with _client(echo_plugin, _store_config(tmp_path, models=[configured])) as client:
        assert _ids(client) == {"echo", "slow"}  # the default's alias went with it
        with pytest.raises(openai.InternalServerError) as info:
            _answer(client, "echo")  # the configured spec is the one loaded
        assert info.value.status_code == 503
        assert "hello" in _answer(client, "slow")


def test_default_models_false_hides_the_defaults(echo_plugin: EchoPlugin, tmp_path: Path) -> None:
    config = _store_config(
        tmp_path, default_models=False, models=[ModelSpec(name="mine", backend="echo")]
    )
    with _client(echo_plugin, config) as client:
        assert _ids(client) == {"mine"}
        with pytest.raises(openai.NotFoundError):
            _answer(client, "echo")


def test_a_pulled_model_is_served_and_answers(echo_plugin: EchoPlugin, tmp_path: Path) -> None:
    config = _store_config(tmp_path)
    _pull(config, "pulled-echo", aliases=("pe",))
    with _client(echo_plugin, config) as client:
        assert _ids(client) == {"echo", "echo-alias", "slow", "pulled-echo", "pe"}
        assert "hello" in _answer(client, "pe")
    assert [name for name, _ in echo_plugin.loads] == ["pulled-echo"]


def test_a_pulled_model_that_cannot_be_served_is_skipped_and_the_server_starts(
    echo_plugin: EchoPlugin, tmp_path: Path
) -> None:
    config = _store_config(tmp_path)
    _pull(config, "no-backend", backend="bark")
    gone = _pull(config, "gone")
    Path(gone.path).unlink()
    _pull(config, "fine")
    with _client(echo_plugin, config) as client:
        assert _ids(client) == {"echo", "echo-alias", "slow", "fine"}
    registry = Registry.for_config([_echo_backend(echo_plugin)], config)
    assert registry.skipped == [
        "pulled model 'gone' is not served: its files are gone "
        f"({gone.path}); pull it again or `multai rm` it",
        "pulled model 'no-backend' is not served: its backend 'bark' is not installed",
    ]


def test_configured_over_pulled_over_default_and_each_source_is_kept(
    echo_plugin: EchoPlugin, tmp_path: Path
) -> None:
    config = _store_config(
        tmp_path, models=[ModelSpec(name="both", backend="echo", aliases=("b",))]
    )
    _pull(config, "both")
    _pull(config, "slow")  # a pull named like a default takes its place
    _pull(config, "other", aliases=("echo-alias",))  # and takes an alias from a default
    registry = Registry.for_config([_echo_backend(echo_plugin)], config)
    assert registry.sources == {"echo": "default", "slow": "pulled", "both": "config",
                                "other": "pulled"}  # fmt: skip
    assert registry.models["echo"].aliases == ()
    assert registry.resolve("echo-alias").name == "other"
    assert registry.source_of("b") == "config"
    assert registry.models["slow"].path.endswith("weights.bin")


def test_a_replacement_keeps_the_aliases_of_what_it_replaces_unless_it_names_its_own(
    echo_plugin: EchoPlugin, tmp_path: Path
) -> None:
    config = _store_config(tmp_path)
    _pull(config, "echo")  # pulled over the default, as `multai pull whisper-base` is
    registry = Registry.for_config([_echo_backend(echo_plugin)], config)
    assert registry.source_of("echo-alias") == "pulled"
    assert registry.resolve("echo-alias").path.endswith("weights.bin")
    configured = _store_config(tmp_path, models=[ModelSpec(name="echo", backend="echo",
                                                           aliases=("mine",))])  # fmt: skip
    registry = Registry.for_config([_echo_backend(echo_plugin)], configured)
    assert registry.models["echo"].aliases == ("mine",) and registry.source_of("mine") == "config"
    with pytest.raises(ModelNotFound):
        registry.resolve("echo-alias")


def test_a_configured_mistake_still_stops_the_start(echo_plugin: EchoPlugin) -> None:
    backend = _echo_backend(echo_plugin)
    with pytest.raises(ConfigError, match="max_concurrency must be at least 1"):
        Registry([backend], [ModelSpec(name="bad", backend="echo", max_concurrency=0)])
    with pytest.raises(ConfigError, match="backend 'ech' is not installed"):
        Registry([backend], [ModelSpec(name="typo", backend="ech")], defaults=False)


def test_default_models_is_read_from_the_top_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "multai.toml"
    path.write_text('default_models = false\n[[models]]\nname = "m"\nbackend = "echo"\n')
    config = load_config(path, {})
    assert config.default_models is False and [m.name for m in config.models] == ["m"]
    assert load_config(None, {}).default_models is True


def _echo_backend(plugin: EchoPlugin) -> Backend:
    found: list[Backend] = []
    plugin.multai_register_backends(found.append)
    return found[0]
