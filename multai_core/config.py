"""Configuration: a TOML file (--config or MULTAI_CONFIG) with MULTAI_<SECTION>__<KEY> overrides."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from multai_core.config_check import table_problems
from multai_core.plugin_api.types import ModelSpec

MiB = 1024 * 1024


class ApiKeyEntry(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One API key: the key itself or, better, its SHA-256 hex digest; what it may do."""

    name: str = ""
    key: str | None = None
    sha256: str | None = None
    max_priority: int = 0
    models: list[str] | None = None
    admin: bool = False


class ServerConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: list[str | ApiKeyEntry] = msgspec.field(default_factory=list)
    metrics_public: bool = False
    cors_allow_origins: list[str] = msgspec.field(default_factory=list)  # empty: CORS off
    tls_certfile: str = ""
    tls_keyfile: str = ""
    max_body_bytes: int = 20 * MiB
    log_level: str = "info"
    log_content: bool = False
    log_format: str = "auto"
    # uploads and media limits (hostile input)
    max_audio_bytes: int = 25 * MiB
    max_audio_seconds: float = 2 * 3600.0
    max_image_bytes: int = 20 * MiB
    max_image_pixels: int = 33_000_000
    max_images_per_request: int = 16
    # decoding budgets, checked from the file headers before anything is decoded
    max_request_pixels: int = 64_000_000  # all images of one request together (400 beyond)
    max_decode_pixels_in_flight: int = 200_000_000  # all requests at once (429 beyond)
    max_audio_seconds_in_flight: float = 8 * 3600.0  # all requests at once (429 beyond)
    decode_threads: int = 2  # the bounded pool that decodes images and audio off the event loop
    allow_remote_images: bool = False
    remote_image_timeout_s: float = 10.0
    # generated images served at signed, expiring URLs (kept in memory only)
    image_url_ttl_s: float = 3600.0
    image_store_bytes: int = 256 * MiB
    public_base_url: str = ""
    openapi_public: bool = False  # serve /openapi without a key
    # connections (slow or hostile clients)
    header_timeout_s: float = 10.0  # from connecting (or the last response) to a full header
    body_timeout_s: float = 30.0  # longest wait for the next part of a request body
    keep_alive_timeout_s: float = 5.0  # an idle connection is closed after this
    max_connections: int = 1000  # open connections; beyond, 503 and close
    shutdown_drain_s: float = 30.0  # on SIGTERM, how long running requests may finish
    # stored Responses (POST /v1/responses with store): SQLite in this folder; empty means
    # $XDG_DATA_HOME/multai, else ~/.local/share/multai
    data_dir: str = ""
    responses_retention_s: float = 30 * 24 * 3600.0  # stored responses older than this go
    # Files and batches (/v1/files, /v1/batches): SQLite and a files folder in data_dir
    max_file_bytes: int = 200 * MiB  # one uploaded file
    max_batch_lines: int = 50_000  # requests in one batch input file
    max_open_batches_per_key: int = 16  # batches not yet ended, per API key
    batch_lines_in_flight: int = 4  # batch lines queued or running at once, all batches
    # pulled models (`multai pull`); empty means <data_dir>/models
    models_dir: str = ""


class MemoryConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    gpu_reserve_bytes: int = 512 * MiB
    ram_reserve_bytes: int = 1024 * MiB
    allow_gpu: bool = True
    ram_budget_bytes: int | None = None
    # CPU threads a model may use (placement.cpu_threads); 0 leaves each pack's default,
    # mostly this machine's cores. `multai serve --ray` gives each replica its CPU share.
    cpu_threads: Annotated[int, msgspec.Meta(ge=0)] = 0


class SchedulerConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    max_queue: int = 1024
    queue_timeout_s: float = 300.0
    aging_s_priority_1: float = 30.0
    aging_s_priority_2: float = 120.0
    policy: Literal["multai", "thesis", "fifo"] = "multai"  # the last two for comparison


GROUP_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")  # it names a Serve deployment


class ReplicaGroup(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Under `multai serve --ray`: engine replicas of their own for ``models`` (names or
    aliases), which no other replica serves; the models no group names share the replicas
    the command line sets up."""

    name: str
    models: list[str]
    replicas: Annotated[int, msgspec.Meta(ge=1)] = 1
    max_replicas: Annotated[int, msgspec.Meta(ge=1)] | None = None  # autoscale up to this many
    cpus: Annotated[float, msgspec.Meta(ge=0)] = 1.0  # per replica
    gpus: Annotated[float, msgspec.Meta(ge=0)] = 0.0  # per replica


class RayConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    groups: list[ReplicaGroup] = msgspec.field(default_factory=list)


class Config(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    memory: MemoryConfig = msgspec.field(default_factory=MemoryConfig)
    scheduler: SchedulerConfig = msgspec.field(default_factory=SchedulerConfig)
    ray: RayConfig = msgspec.field(default_factory=RayConfig)  # read by `multai serve --ray` only
    default_models: bool = True  # the installed plugins' own models, beside [[models]] and pulled
    models: list[ModelSpec] = msgspec.field(default_factory=list)


def data_dir(server: ServerConfig) -> Path:
    """Where MultAI keeps its state: [server].data_dir, else $XDG_DATA_HOME/multai, else
    ~/.local/share/multai."""
    if server.data_dir:
        return Path(server.data_dir).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "multai"


def models_dir(server: ServerConfig) -> Path:
    """Where pulled models live: [server].models_dir, else <data_dir>/models."""
    return (
        Path(server.models_dir).expanduser() if server.models_dir else data_dir(server) / "models"
    )


class ConfigError(ValueError):
    """A config the server cannot start with: ``problems`` holds one line per mistake."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        if len(self.problems) == 1:
            text = self.problems[0]
        else:
            lines = "\n".join(f"  {p}" for p in self.problems)
            text = f"{len(self.problems)} problems in the config:\n{lines}"
        super().__init__(text)


def _env_overrides(environ: dict[str, str]) -> dict[str, dict[str, Any]]:
    overrides: dict[str, dict[str, Any]] = {}
    for key, value in environ.items():
        if not key.startswith("MULTAI_") or "__" not in key:
            continue
        section, _, field = key[len("MULTAI_") :].lower().partition("__")
        overrides.setdefault(section, {})[field] = _parse_env_value(value)
    return overrides


def _parse_env_value(value: str) -> Any:
    try:
        return tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def load_config(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Config:
    env = dict(os.environ) if environ is None else environ
    raw: dict[str, Any] = {}
    path = path or env.get("MULTAI_CONFIG")
    if path:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from exc
    for section, values in _env_overrides(env).items():
        target = raw.setdefault(section, {})
        if not isinstance(target, dict):
            raise ConfigError(f"MULTAI_{section.upper()}__* overrides a non-table")
        target.update(values)
    keys = env.get("MULTAI_API_KEYS")
    if keys:
        server = raw.setdefault("server", {})
        server["api_keys"] = [
            *server.get("api_keys", []),
            *(k.strip() for k in keys.split(",") if k.strip()),
        ]
    problems = table_problems(raw, Config)
    if problems:
        raise ConfigError(problems)
    try:
        config = msgspec.convert(raw, Config, strict=False)
    except msgspec.ValidationError as exc:  # table_problems should have said it
        raise ConfigError(f"invalid config: {exc}") from exc
    problems = group_problems(config.ray.groups)
    if problems:
        raise ConfigError(problems)
    config.models = [
        msgspec.structs.replace(m, path=os.path.expanduser(m.path)) if m.path else m
        for m in config.models
    ]
    return config


def group_problems(groups: list[ReplicaGroup]) -> list[str]:
    """What makes [[ray.groups]] ambiguous: a name used twice, a model in two groups, no
    models, a max_replicas below replicas."""
    problems: list[str] = []
    names: set[str] = set()
    group_of: dict[str, str] = {}
    for group in groups:
        where = f"[[ray.groups]] '{group.name}'"
        if not GROUP_NAME.fullmatch(group.name):
            problems.append(
                f"{where}: a group's name is 1 to 40 lowercase letters, digits and dashes"
            )
        if group.name in names:
            problems.append(f"{where}: another group has this name")
        names.add(group.name)
        if not group.models:
            problems.append(f"{where}: models is empty; name the models its replicas serve")
        if group.max_replicas is not None and group.max_replicas < group.replicas:
            problems.append(f"{where}: max_replicas ({group.max_replicas}) is below replicas")
        for model in group.models:
            if group_of.get(model, group.name) != group.name:
                problems.append(f"{where}: model '{model}' is in group '{group_of[model]}' too")
            group_of.setdefault(model, group.name)
    return problems
