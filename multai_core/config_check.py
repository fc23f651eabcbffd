"""Every problem of a config, each in one line, so an operator fixes them all in one go: the
file's tables against the Config structs (unknown keys anywhere, wrong types, missing keys) and
the [[models]] against the installed backends (unknown backend, options, path, duplicate names).
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from multai_core.plugin_api.types import Backend, ModelSpec


def table_problems(
    raw: Mapping[str, Any], struct: type[msgspec.Struct], where: str = ""
) -> list[str]:
    """What in ``raw`` does not fit ``struct``; tables and arrays of tables are walked down.
    ``where`` names the table ("[server]", "[[models]] 'chat'"); empty for the whole file."""
    fields = {f.encode_name: f for f in msgspec.structs.fields(struct)}
    problems = [_unknown_key(key, fields, where) for key in raw if key not in fields]
    problems += [
        f"{where}: missing key '{name}'"
        for name, field in fields.items()
        if field.required and name not in raw
    ]
    for key, value in raw.items():
        if key in fields:
            problems += _value_problems(value, fields[key].type, where, key)
    return problems


def _value_problems(value: Any, annotation: Any, where: str, key: str) -> list[str]:
    if _is_struct(annotation):
        table = f"[{key}]" if not where else f"[{where.strip('[]')}.{key}]"
        if not isinstance(value, dict):
            return [f"{table} must be a table"]
        return table_problems(value, annotation, table)
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is list and args and _is_struct(args[0]):
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            return [f"{key} must be an array of tables ([[{key}]])"]
        array = key if not where else f"{where.strip('[]')}.{key}"
        return [
            p for i, v in enumerate(value) for p in table_problems(v, args[0], _entry(array, i, v))
        ]
    try:
        msgspec.convert(value, annotation, strict=False)
    except msgspec.ValidationError as exc:
        return [f"{where or 'top level'} {key}: {exc}"]
    return []


def _unknown_key(key: str, fields: Iterable[str], where: str) -> str:
    if not where:  # the top level holds the tables: [server], [memory], ...
        close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.6)
        hint = f" (did you mean [{close[0]}]?)" if close else ""
        return f"unknown table [{key}]{hint}; the tables are: {', '.join(fields)}"
    return f"{where}: unknown key '{key}'{_did_you_mean(key, fields)}"


def _is_struct(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, msgspec.Struct)


def _entry(key: str, index: int, value: dict[str, Any]) -> str:
    name = value.get("name")
    return f"[[{key}]] '{name}'" if isinstance(name, str) else f"[[{key}]] #{index + 1}"


def _did_you_mean(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def model_problems(backends: Mapping[str, Backend], specs: Iterable[ModelSpec]) -> list[str]:
    """What keeps configured models from being served: checked at start, before any loads."""
    problems: list[str] = []
    owner: dict[str, str] = {}  # a name or alias -> the model that has it
    for spec in specs:
        for name in (spec.name, *spec.aliases):
            if name in owner:
                problems.append(
                    f"model '{spec.name}': the name '{name}' is taken by model "
                    f"'{owner[name]}'; names and aliases must be unique"
                )
            else:
                owner[name] = spec.name
        backend = backends.get(spec.backend)
        if backend is None:
            problems.append(f"model '{spec.name}': {_unknown_backend(spec.backend, backends)}")
            continue
        problems += [f"model '{spec.name}': {p}" for p in spec_problems(backend, spec)]
    return problems


def spec_problems(backend: Backend, spec: ModelSpec, *, check: bool = True) -> list[str]:
    """The problems of one model of an installed backend: options, concurrency and, with
    ``check``, what the backend's own check finds (its path)."""
    problems = []
    if backend.options_type is not None:
        try:
            msgspec.convert(spec.options, backend.options_type, strict=False)
        except msgspec.ValidationError as exc:
            problems.append(f"invalid options: {exc}")
    if spec.max_concurrency is not None and spec.max_concurrency < 1:
        problems.append("max_concurrency must be at least 1")
    if check and backend.check is not None and not problems:
        try:
            problem = backend.check(spec)
        except Exception as exc:  # a pack's check that fails must still name the model
            problem = f"the {backend.name} backend's check failed ({type(exc).__name__}: {exc})"
        if problem:
            problems.append(problem)
    return problems


def _unknown_backend(name: str, backends: Mapping[str, Backend]) -> str:
    if not backends:
        return (
            f"backend '{name}' is not installed, and no backend is: install a plugin, e.g. "
            'python3 -m pip install "./plugins/multai-llamacpp"'
        )
    return (
        f"backend '{name}' is not installed{_did_you_mean(name, backends)}; installed backends: "
        f"{', '.join(sorted(backends))}"
    )
