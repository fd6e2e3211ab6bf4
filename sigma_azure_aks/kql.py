"""KQL text building blocks: string literals, column and member accessors, glob and regex patterns.

Everything the Sentinel target writes into a query that comes from a rule passes through here, so
that no value in a rule can change the structure of the query.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable

from .kql_reserved import is_reserved

# Escapes Kusto string literals understand inside "...". Every other character below U+0020, DEL,
# and the Unicode line and paragraph separators are written as \uXXXX so that the literal always
# stays on one line; everything else is written as it is.
_NAMED_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
_NEEDS_ESCAPE = re.compile(r'[\\"\x00-\x1f\x7f\u0085\u2028\u2029]')


def _escape_char(match: re.Match[str]) -> str:
    char = match.group(0)
    return _NAMED_ESCAPES.get(char) or f"\\u{ord(char):04x}"


def string_literal(value: str) -> str:
    """A double-quoted KQL string literal that decodes to exactly `value`."""
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, value) + '"'


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_column_name(name: str) -> bool:
    """True when `name` is a plain column identifier (no member access)."""
    return bool(_IDENTIFIER.fullmatch(name))


_MEMBER_ACCESS = re.compile(
    r"^(?:parse_json\([A-Za-z_][A-Za-z0-9_]*\)|[A-Za-z_][A-Za-z0-9_]*)"
    r'(?:\.[A-Za-z_][A-Za-z0-9_]*|\["(?:[^"\\\x00-\x1f]|\\.)*"\])+$'
)


def column_reference(name: str) -> str:
    """A column name as KQL reads it: as it is, or bracketed (``["time"]``) when it is a keyword
    or not a plain identifier."""
    if _IDENTIFIER.fullmatch(name) and not is_reserved(name):
        return name
    return f"[{string_literal(name)}]"


def is_member_access(expression: str) -> bool:
    """True for the member accesses :func:`member_access` writes (`Col.a`, `Col["x/y"]`, ...)."""
    return bool(_MEMBER_ACCESS.fullmatch(expression))


def member_access(column: str, path: Iterable[str], json_text: bool = False) -> str:
    """Member access into a dynamic column, e.g. ``Properties_d.message`` or ``Claims_d["http://x/y"]``.

    With `json_text`, the column holds JSON as text and is parsed first (``parse_json(HTTPRequest)``).
    """
    expr = f"parse_json({column})" if json_text else column
    for segment in path:
        if _IDENTIFIER.fullmatch(segment) and not is_reserved(segment):
            expr += f".{segment}"
        else:
            expr += f"[{string_literal(segment)}]"
    return expr


# RE2 metacharacters; everything else stands for itself in a pattern.
_RE2_META = re.compile(r"([\\.+*?()|\[\]{}^$])")


def regex_escape(text: str) -> str:
    """Escape `text` so that RE2 (Kusto's regex engine) matches it literally."""
    return _RE2_META.sub(r"\\\1", text)


def glob_pattern(
    parts: Iterable[object],
    *,
    literal: Callable[[str], str] = regex_escape,
    many: str = ".*",
    one: str = ".",
) -> str | None:
    """The body of a regular expression for a Sigma glob given as its parts (``SigmaString.s``):
    text through `literal`, the wildcard ``*`` as `many` and ``?`` as `one`. None when a part is
    neither (a placeholder no pipeline expanded). Every glob the package compiles goes through
    here: RE2 in queries (the defaults), Python's ``re`` (``literal=re.escape``), or one element
    of a JSON array's text (JSON-escaped text, wildcards that stay inside the element)."""
    from sigma.types import SpecialChars

    pieces = []
    for part in parts:
        if part == SpecialChars.WILDCARD_MULTI:
            pieces.append(many)
        elif part == SpecialChars.WILDCARD_SINGLE:
            pieces.append(one)
        elif isinstance(part, str):
            pieces.append(literal(part))
        else:
            return None
    return "".join(pieces)


def glob_regex(parts: Iterable[object], *, case_sensitive: bool) -> str:
    """Anchored RE2 pattern matching the whole value against a Sigma glob given as its parts."""
    body = glob_pattern(parts)
    if body is None:
        raise ValueError("a glob holding a placeholder no pipeline expanded")
    flags = "(?s)" if case_sensitive else "(?is)"
    return f"{flags}^{body}$"


# How many operands one flat `a or b or ...` chain holds. Kusto's parser nests such a chain one
# level per operand and gives up near 500 (KS245 "Semantic analysis not performed"); longer
# chains are grouped into parenthesized chains of at most this many, recursively.
CHAIN_WIDTH = 64


def balanced_join(parts: list[str], operator: str, width: int = CHAIN_WIDTH) -> str:
    """`parts` joined by `operator` (" or " / " and "), grouped so no chain is longer than `width`.
    Grouping an associative operator changes nothing but the syntax depth."""
    if len(parts) <= width:
        return operator.join(parts)
    groups = [f"({operator.join(parts[i : i + width])})" for i in range(0, len(parts), width)]
    return balanced_join(groups, operator, width)


_LAST_MEMBER = re.compile(
    r'^(?P<parent>.+?)(?:\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)|\[(?P<key>"(?:[^"\\]|\\.)*")\])$'
)


def split_member(expression: str) -> tuple[str, str]:
    """A member access written by :func:`member_access` as (parent expression, last key)."""
    match = _LAST_MEMBER.fullmatch(expression)
    if match is None:
        raise ValueError(f"not a member access: {expression}")
    if match["name"] is not None:
        return match["parent"], match["name"]
    return match["parent"], json.loads(match["key"])


def has_member(expression: str) -> str:
    """True when the member is present in its parent bag, whatever its value ("", JSON null, ...).

    A plain key through ``bag_has_key``; any other key (dots, slashes: ``bag_has_key`` would read
    it as a JSON path) through the exact list of the bag's keys."""
    parent, key = split_member(expression)
    if _IDENTIFIER.fullmatch(key):
        return f"bag_has_key({parent}, {string_literal(key)})"
    return f"set_has_element(bag_keys({parent}), {string_literal(key)})"


def json_text(text: str) -> str:
    """`text` as it reads inside the JSON text of a dynamic value (a string's escapes)."""
    return json.dumps(text, ensure_ascii=False)[1:-1]
