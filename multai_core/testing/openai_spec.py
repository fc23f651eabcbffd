"""Validate JSON responses against OpenAI's published OpenAPI spec (a test helper).

The spec is ``shared/openai-openapi/openapi.yaml`` beside the repository (override with the
``MULTAI_OPENAI_SPEC`` environment variable). It is OpenAPI 3.1, but it still carries OpenAPI 3.0
idioms that a JSON Schema validator reads differently from what OpenAI means, so it is normalised
once when loaded:

* ``nullable: true`` (111 places) adds null to what the schema accepts: ``type: X`` becomes
  ``type: [X, "null"]`` (and a nullable ``enum`` gains ``None``); a nullable ``$ref``, ``anyOf``,
  ``oneOf``, ``allOf`` or ``const`` is wrapped as ``anyOf: [<schema>, {type: "null"}]``;
  ``nullable: false`` is dropped.
* ``allOf: [{$ref: X}, {nullable: true}]`` (the 3.0 trick for "X or null") means X or null.
* boolean ``exclusiveMinimum``/``exclusiveMaximum`` (3.0) become 2020-12's numeric form.
* ``$recursiveRef: "#"`` (2019-09, ignored by a 2020-12 validator) becomes a ``$ref`` to the
  component schema it sits in.

The YAML is read as JSON would read it (dates stay strings; only true/false are booleans).
OpenAPI-only keywords that do not change validation (``discriminator``, ``example``, ``x-*``) are
left alone. ``format`` is not asserted (jsonschema's default).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, cast

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

__all__ = [
    "ENV_VAR",
    "SpecViolation",
    "load_spec",
    "schema_names",
    "spec_path",
    "validate",
    "validate_chat_chunk",
]

ENV_VAR = "MULTAI_OPENAI_SPEC"
_RELATIVE = Path("shared") / "openai-openapi" / "openapi.yaml"
_BASE_URI = "urn:multai:openai-openapi"
_MAX_MESSAGE = 300

# Keywords whose value is a schema, a list of schemas, or a map of name -> schema.
_SCHEMA_KEYWORDS = frozenset(
    {
        "items",
        "additionalProperties",
        "not",
        "contains",
        "propertyNames",
        "if",
        "then",
        "else",
        "unevaluatedItems",
        "unevaluatedProperties",
        "contentSchema",
    }
)
_LIST_KEYWORDS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_MAP_KEYWORDS = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
)
# Keywords that restrict a schema beyond `type`/`enum`: a nullable schema with one of these is
# wrapped in anyOf rather than edited in place.
_COMPOSITE_KEYWORDS = frozenset({"$ref", "allOf", "anyOf", "oneOf", "const", "not"})
# Keywords that make a schema assert something; an allOf member without any is a bare annotation.
_ANNOTATION_KEYWORDS = frozenset(
    {"nullable", "description", "title", "default", "example", "examples", "deprecated"}
)


_BOOL_TAG = "tag:yaml.org,2002:bool"
_DROPPED_TAGS = frozenset({_BOOL_TAG, "tag:yaml.org,2002:timestamp"})
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_BOOL_FIRSTS = frozenset("tTfF")


class SpecViolation(AssertionError):
    """An instance does not match a schema of the spec; ``errors`` holds every (path, message)."""

    def __init__(self, schema_name: str, errors: list[tuple[str, str]]) -> None:
        self.schema_name = schema_name
        self.errors = errors
        lines = [f"{len(errors)} violation(s) of #/components/schemas/{schema_name}:"]
        lines.extend(f"  {path}: {message}" for path, message in errors)
        super().__init__("\n".join(lines))


class _Error(Protocol):
    """The part of ``jsonschema.ValidationError`` used here (jsonschema ships no type hints)."""

    @property
    def message(self) -> str: ...
    @property
    def json_path(self) -> str: ...
    @property
    def context(self) -> list[_Error] | None: ...
    @property
    def validator(self) -> str: ...
    @property
    def relative_schema_path(self) -> Iterable[str | int]: ...


class _Validator(Protocol):
    def iter_errors(self, instance: object) -> Iterator[_Error]: ...


def spec_path() -> Path:
    """Where the spec is: ``$MULTAI_OPENAI_SPEC``, else ``shared/openai-openapi/openapi.yaml``
    in the nearest folder above the working directory or above this file."""
    override = os.environ.get(ENV_VAR)
    if override:
        path = Path(override).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"{ENV_VAR}={override!r}: no such file")
        return path
    starts = [Path.cwd().resolve(), Path(__file__).resolve().parent]
    for start in starts:
        for folder in (start, *start.parents):
            candidate = folder / _RELATIVE
            if candidate.is_file():
                return candidate
    raise FileNotFoundError(
        f"OpenAI's OpenAPI spec not found: looked for {_RELATIVE} in every folder above "
        f"{' and '.join(str(s) for s in starts)}; set {ENV_VAR} to its path"
    )


def load_spec(path: Path | None = None) -> Mapping[str, Any]:
    """The normalised spec (cached per path; treat it as read-only)."""
    return _load(path if path is not None else spec_path())


def schema_names(path: Path | None = None) -> frozenset[str]:
    """The names under ``#/components/schemas``."""
    return frozenset(load_spec(path)["components"]["schemas"])


def validate(schema_name: str, instance: object, *, path: Path | None = None) -> None:
    """Check ``instance`` against ``#/components/schemas/<schema_name>``.

    Raises SpecViolation listing every error, KeyError if the spec has no such schema.
    """
    validator = _validator(path if path is not None else spec_path(), schema_name)
    errors = [
        (error.json_path, _describe(error))
        for error in sorted(validator.iter_errors(instance), key=_sort_key)
    ]
    if errors:
        raise SpecViolation(schema_name, errors)


def validate_chat_chunk(instance: object, *, path: Path | None = None) -> None:
    """Check one streamed chat completion chunk (``CreateChatCompletionStreamResponse``)."""
    validate("CreateChatCompletionStreamResponse", instance, path=path)


# --- loading and normalising ------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _load(path: Path) -> Mapping[str, Any]:
    with path.open("rb") as stream:
        raw = yaml.load(stream, Loader=_loader())  # noqa: S506 - a safe loader
    if not isinstance(raw, dict) or not isinstance(raw.get("components", {}).get("schemas"), dict):
        raise ValueError(f"{path}: not an OpenAPI document with components/schemas")
    schemas = raw["components"]["schemas"]
    raw["components"]["schemas"] = {
        name: _normalise(schema, name) for name, schema in schemas.items()
    }
    return cast(Mapping[str, Any], raw)


def _loader() -> type[yaml.SafeLoader]:
    """libyaml's safe loader where available (seconds faster on this file), reading scalars
    as JSON would: dates stay strings, and only true/false are booleans (not yes/no/on/off)."""
    base = cast(type[yaml.SafeLoader], getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    loader = cast(type[yaml.SafeLoader], type("_SpecLoader", (base,), {}))
    resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}
    for first, entries in base.yaml_implicit_resolvers.items():
        kept = [(tag, regexp) for tag, regexp in entries if tag not in _DROPPED_TAGS]
        if first in _BOOL_FIRSTS:
            kept.append((_BOOL_TAG, _BOOL))
        resolvers[first] = kept
    loader.yaml_implicit_resolvers = resolvers
    return loader


def _normalise(schema: object, component: str) -> object:
    """A JSON Schema 2020-12 equivalent of one OpenAPI schema object (see the module doc)."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SCHEMA_KEYWORDS:
            out[key] = _normalise(value, component)
        elif key in _LIST_KEYWORDS and isinstance(value, list):
            out[key] = [_normalise(item, component) for item in value]
        elif key in _MAP_KEYWORDS and isinstance(value, dict):
            out[key] = {name: _normalise(item, component) for name, item in value.items()}
        else:
            out[key] = value

    if out.get("$recursiveRef") == "#":
        del out["$recursiveRef"]
        out["$ref"] = f"#/components/schemas/{_escape(component)}"
    out.pop("$recursiveAnchor", None)

    for exclusive, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        flag = out.get(exclusive)
        if isinstance(flag, bool):
            del out[exclusive]
            if flag and bound in out:
                out[exclusive] = out.pop(bound)

    nullable = out.pop("nullable", False) is True
    members = schema.get("allOf")
    if isinstance(members, list):
        bare = [_is_bare_nullable(member) for member in members]
        if any(bare):
            nullable = True
            kept = [m for m, is_bare in zip(out["allOf"], bare, strict=True) if not is_bare]
            if kept:
                out["allOf"] = kept
            else:
                del out["allOf"]

    return _with_null(out) if nullable else out


def _is_bare_nullable(member: object) -> bool:
    return (
        isinstance(member, dict)
        and member.get("nullable") is True
        and all(key in _ANNOTATION_KEYWORDS or key.startswith("x-") for key in member)
    )


def _with_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` widened to accept null."""
    if any(key in schema for key in _COMPOSITE_KEYWORDS):
        return {"anyOf": [schema, {"type": "null"}]}
    kind = schema.get("type")
    if isinstance(kind, str) and kind != "null":
        schema["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        schema["type"] = [*kind, "null"]
    enum = schema.get("enum")
    if isinstance(enum, list) and None not in enum:
        schema["enum"] = [*enum, None]
    return schema  # no type, no enum: it accepts null already


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


# --- validating --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _validator(path: Path, schema_name: str) -> _Validator:
    if schema_name not in schema_names(path):
        raise KeyError(f"{path} has no schema #/components/schemas/{schema_name}")
    return cast(
        _Validator,
        Draft202012Validator(
            {"$ref": f"{_BASE_URI}#/components/schemas/{_escape(schema_name)}"},
            registry=_registry(path),
        ),
    )


@functools.lru_cache(maxsize=4)
def _registry(path: Path) -> Registry[Any]:
    resource: Resource[Any] = DRAFT202012.create_resource(load_spec(path))
    registry: Registry[Any] = Registry().with_resource(_BASE_URI, resource)
    return registry


def _sort_key(error: _Error) -> str:
    return error.json_path


def _describe(error: _Error, depth: int = 0) -> str:
    """The error's message; for a failed anyOf/oneOf, with what the closest branch lacked.

    The closest branch is the one with the fewest errors, passing over branches rejected only
    for the instance's type (a nullable field's ``{type: "null"}`` branch, say).
    """
    text = _shorten(error.message)
    if not error.context or depth >= 2:
        return text
    branches: dict[str, list[_Error]] = {}
    for sub in error.context:
        branches.setdefault(str(next(iter(sub.relative_schema_path), "")), []).append(sub)
    closest = min(
        branches.values(),
        key=lambda subs: (all(sub.validator == "type" for sub in subs), len(subs)),
    )
    details = "; ".join(f"{sub.json_path}: {_describe(sub, depth + 1)}" for sub in closest[:3])
    more = f"; and {len(closest) - 3} more" if len(closest) > 3 else ""
    return f"{text} (closest branch: {details}{more})"


def _shorten(message: str) -> str:
    """Long messages (an instance's repr) cut in the middle, keeping the verdict at the end."""
    if len(message) <= _MAX_MESSAGE:
        return message
    head, tail = message[: _MAX_MESSAGE - 100], message[-80:]
    return f"{head} ...[{len(message) - len(head) - len(tail)} chars]... {tail}"
