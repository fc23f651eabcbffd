"""GBNF grammars for JSON output: any JSON object, or one that matches a JSON schema."""

from __future__ import annotations

import json
from typing import Any

from multai_core.plugin_api import InvalidRequest

# Like llama.cpp's json.gbnf, but whitespace between tokens is bounded: a small model under a
# grammar that allows unbounded newlines can fill max_tokens with blank lines.
JSON_OBJECT_GRAMMAR = r"""
root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
array  ::= "[" ws ( value ("," ws value)* )? "]" ws
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) )* "\"" ws
number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9]{1,4})? ws
ws     ::= | " " | "\n" [ \t]{0,8}
"""


def schema_grammar(schema: dict[str, Any] | None, *, param: str) -> str:
    """A grammar for JSON matching ``schema``; a missing or empty schema means any object."""
    if not schema:
        return JSON_OBJECT_GRAMMAR
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        return str(json_schema_to_gbnf(json.dumps(schema)))
    except (
        AssertionError,  # llama_cpp's converter asserts on schema types it does not know
        ValueError,
        KeyError,
        TypeError,
        NotImplementedError,
        RecursionError,
    ) as exc:
        detail = str(exc)
        detail = detail if len(detail) <= 200 else detail[:200] + "..."
        raise InvalidRequest(
            f"this JSON schema is not supported for constrained output: {detail}", param=param
        ) from None
