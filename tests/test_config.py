from __future__ import annotations

from pathlib import Path

import pytest

from multai_core.config import ConfigError, load_config


def test_toml_and_env_overrides(tmp_path: Path) -> None:
    path = tmp_path / "multai.toml"
    path.write_text(
        """
[server]
port = 9000
[memory]
ram_reserve_bytes = 0
[[models]]
name = "tiny"
backend = "llamacpp"
path = "/models/tiny.gguf"
aliases = ["t"]
options = { n_ctx = 512 }
keep_alive = -1
"""
    )
    config = load_config(
        path,
        {
            "MULTAI_SERVER__PORT": "9100",
            "MULTAI_API_KEYS": "k1, k2",
            "MULTAI_SCHEDULER__MAX_QUEUE": "5",
        },
    )
    assert config.server.port == 9100
    assert config.server.api_keys == ["k1", "k2"]
    assert config.scheduler.max_queue == 5
    assert config.memory.ram_reserve_bytes == 0
    (model,) = config.models
    assert (model.name, model.aliases, model.options, model.keep_alive) == (
        "tiny",
        ("t",),
        {"n_ctx": 512},
        -1,
    )


def test_defaults_without_a_file() -> None:
    config = load_config(None, {})
    assert (config.server.host, config.server.port, config.models) == ("127.0.0.1", 8000, [])
    assert config.server.max_body_bytes == 20 * 2**20


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[server]\nport = 'eighty'\n")
    with pytest.raises(ConfigError, match="port"):
        load_config(path, {})
    path.write_text("[server]\nprot = 1\n")
    with pytest.raises(ConfigError, match="prot"):
        load_config(path, {})


def test_invalid_model_options_stop_the_server_at_start() -> None:
    import msgspec

    from multai_core.plugin_api.types import Backend, ModelSpec
    from multai_core.registry import Registry

    class Options(msgspec.Struct, forbid_unknown_fields=True):
        n_ctx: int = 512

    backend = Backend(name="b", tasks=frozenset({"chat"}), options_type=Options)
    Registry([backend], [ModelSpec(name="ok", backend="b", options={"n_ctx": 1024})])
    with pytest.raises(ConfigError, match="model 'bad': invalid options"):
        Registry([backend], [ModelSpec(name="bad", backend="b", options={"n_cxt": 1024})])


def test_a_misspelled_override_is_named_with_the_key_it_missed() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, {"MULTAI_SERVER__PROT": "9000", "MULTAI_MEMORY__ALOW_GPU": "false"})
    assert info.value.problems == [
        "[server]: unknown key 'prot' (did you mean 'port'?)",
        "[memory]: unknown key 'alow_gpu' (did you mean 'allow_gpu'?)",
    ]


def test_a_model_path_may_start_at_the_home_folder(tmp_path: Path) -> None:
    path = tmp_path / "multai.toml"
    path.write_text('[[models]]\nname = "m"\nbackend = "b"\npath = "~/models/m.gguf"\n')
    (model,) = load_config(path, {}).models
    assert model.path == str(Path.home() / "models" / "m.gguf")


def test_the_readme_s_config_sample_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    sample = next(b for b in readme.split("```toml\n")[1:] if "[[ray.groups]]" in b)
    path = tmp_path / "multai.toml"
    path.write_text(sample.split("```", 1)[0])
    config = load_config(path, environ={})
    (group,) = config.ray.groups
    assert (group.name, group.models, group.replicas, group.cpus, group.gpus) == (
        "gpu-chat", ["qwen2.5-7b"], 2, 4.0, 1.0,
    )  # fmt: skip
    assert [m.name for m in config.models] == ["qwen2.5-7b"]


def test_replica_groups_that_contradict_each_other_stop_the_start(tmp_path: Path) -> None:
    path = tmp_path / "multai.toml"
    path.write_text(
        '[[ray.groups]]\nname = "gpu"\nmodels = ["chat", "whisper"]\nreplicas = 3\n'
        "max_replicas = 2\n"
        '[[ray.groups]]\nname = "gpu"\nmodels = []\n'
        '[[ray.groups]]\nname = "cpu"\nmodels = ["chat"]\n'
        '[[ray.groups]]\nname = "Speech!"\nmodels = ["tts"]\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert caught.value.problems == [
        "[[ray.groups]] 'gpu': max_replicas (2) is below replicas",
        "[[ray.groups]] 'gpu': another group has this name",
        "[[ray.groups]] 'gpu': models is empty; name the models its replicas serve",
        "[[ray.groups]] 'cpu': model 'chat' is in group 'gpu' too",
        "[[ray.groups]] 'Speech!': a group's name is 1 to 40 lowercase letters, digits and dashes",
    ]
