"""Test sessions, each in its own virtual environment (pip backend: only pip takes the CPU
torch build on these machines; llama-cpp-python builds once and pip's wheel cache serves later
venvs)."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "virtualenv"
nox.options.sessions = ["lint", "types", "core", "llamacpp"]
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
LLAMACPP = "plugins/multai-llamacpp"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MULTAI_LLAMACPP_N_THREADS": "1"}


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")


@nox.session(python=PYTHON)
def types(session: nox.Session) -> None:
    session.install("-e", ".[test]", "mypy>=1.11", "types-PyYAML")
    session.install("--no-deps", "-e", LLAMACPP)
    session.run("mypy", "multai_core", f"{LLAMACPP}/multai_llamacpp")


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
