"""ARM template string syntax: which strings Resource Manager evaluates, and how a literal is kept one.

Microsoft's "Syntax and expressions in ARM templates" (section "Escape characters"): a JSON string
that starts with `[` and ends with `]` is a template expression, evaluated at deployment with the
deploying identity (`[listKeys(...)]` reads a storage key). To keep such a string literal, start it
with one more bracket: `"[[test value]"` deploys as `[test value]`. A string that does not both start
with `[` and end with `]` is a literal as it stands (`"[test] value"`); it is not escaped. Inside an
expression, a string literal is quoted with `'` and a `'` in it is written twice.

Every string of an ARM output that carries text from a rule goes through :func:`literal`; the only
expressions the output holds are the ones it writes itself (the resource name).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def is_expression(text: str) -> bool:
    """Whether Resource Manager evaluates `text` as a template expression."""
    return text.startswith("[") and text.endswith("]") and not text.startswith("[[")


def literal(text: str) -> str:
    """`text` written so that Resource Manager deploys it unchanged (never evaluated)."""
    return "[" + text if text.startswith("[") and text.endswith("]") else text


def deployed(text: str) -> str:
    """What Resource Manager deploys for a string that is no expression (the inverse of :func:`literal`)."""
    return text[1:] if text.startswith("[[") and text.endswith("]") else text


def literals(value: Any) -> Any:
    """`value` (JSON data) with every string, property names too, written by :func:`literal`
    (Resource Manager evaluates an expression in a property name as well)."""
    if isinstance(value, str):
        return literal(value)
    if isinstance(value, Mapping):
        return {literal(str(key)): literals(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [literals(item) for item in value]
    return value


def deployed_values(value: Any) -> Any:
    """`value` (JSON data of an ARM template) as deployed, for the strings that are no expression:
    an escaped literal loses its extra bracket; an expression is kept as written."""
    if isinstance(value, str):
        return deployed(value)
    if isinstance(value, Mapping):
        return {deployed(str(key)): deployed_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [deployed_values(item) for item in value]
    return value


def string_literal(text: str) -> str:
    """`text` as a string literal inside an expression: `'...'`, each `'` written twice."""
    return "'" + text.replace("'", "''") + "'"
