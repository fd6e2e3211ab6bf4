"""KQL text building blocks: string literals, column and member accessors, glob and regex patterns,
term lookups before a scan and the order of a conjunction's tests.

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


# ---- term prefilters ------------------------------------------------------------------------------
# Kusto breaks a string into terms, the maximal runs of alphanumeric characters, and indexes every
# term of three characters or more; `has` / `has_cs` look a whole term up in that index, while
# `contains`, `startswith` and `endswith` scan (learn.microsoft.com/kusto/query/datatypes-string-operators,
# "What is a term?"). A run of ASCII letters and digits in a value, bounded on both sides by
# characters that can only separate terms, is a whole term of every string holding that value, so
# `has` on it can be ANDed before the scan without changing what matches. Kept conservative:
# separators are ASCII punctuation and the space (never the underscore, whose reading the
# documentation leaves open, and never a non-ASCII character).
TERM_SEPARATORS = frozenset(" !\"#$%&'()*+,-./:;<=>?@[\\]^`{|}~")
INDEXED_TERM_LENGTH = 3  # shorter terms are not in the term index: `has` on them scans too
# ASCII letters a non-ASCII letter equals when case is ignored, by Unicode's one-to-one case
# mappings (UnicodeData.txt): U+0130 İ and U+0131 ı (i), U+212A Kelvin sign (k), U+017F long s (s).
# Whether a case-insensitive scan and the term lookup agree on those is not documented, so a
# case-insensitive prefilter term holds none of these letters.
NON_ASCII_CASE_PARTNERS: dict[str, str] = {"i": "\u0130\u0131", "k": "\u212a", "s": "\u017f"}
_ASCII_TERM = re.compile(r"[A-Za-z0-9]+")


def prefilter_term(text: str, kind: str, case_sensitive: bool) -> str | None:
    """The longest term every string matching `text` holds whole, for `kind` one of `contains`,
    `startswith`, `endswith`: a run of ASCII letters and digits of at least
    :data:`INDEXED_TERM_LENGTH` characters whose neighbours in `text` are :data:`TERM_SEPARATORS`
    (the start of a `startswith` value and the end of an `endswith` value bound it too). None when
    no run qualifies."""
    if kind not in {"contains", "startswith", "endswith"}:
        return None
    best: str | None = None
    for run in _ASCII_TERM.finditer(text):
        start, end = run.span()
        term = run.group(0)
        bounded_before = text[start - 1] in TERM_SEPARATORS if start else kind == "startswith"
        bounded_after = text[end] in TERM_SEPARATORS if end < len(text) else kind == "endswith"
        if not (bounded_before and bounded_after) or len(term) < INDEXED_TERM_LENGTH:
            continue
        if not case_sensitive and any(letter in NON_ASCII_CASE_PARTNERS for letter in term.lower()):
            continue
        if best is None or len(term) > len(best):
            best = term
    return best


def string_test(operand: str, operator: str, text: str, *, string_column: bool) -> str:
    """`operand operator "text"`; for `contains`, `startswith`, `endswith` (and their `_cs` forms)
    on a string column, with the lookup of :func:`prefilter_term`'s term first where it finds one:
    every string the test matches holds that term whole, so the result is exactly the test's, and
    Kusto answers the lookup from its term index. Not on a member of a dynamic column, where `has`
    would read the value's JSON text."""
    test = f"{operand} {operator} {string_literal(text)}"
    kind, _, cased = operator.partition("_")
    term = prefilter_term(text, kind, cased == "cs") if string_column else None
    if term is None:
        return test
    return f"({operand} {'has_cs' if cased else 'has'} {string_literal(term)} and {test})"


_COSTLY_TEST = re.compile(r"\bmatches regex\b|(?:^|[(\s])\* contains")


def cheap_first(operands: list[str]) -> list[str]:
    """The operands of a conjunction with tests of column values first, then those holding a
    regular expression (globs, `|re`, the walks through a dynamic column's JSON text) or a full-row
    search; each group in its given order. Kusto's `and` is true only when both operands are true,
    in either order (learn.microsoft.com/kusto/query/logical-operators), and its scalar functions
    return null rather than fail, so the order changes no result. A string literal that happens to
    hold such words only moves its test later."""
    return sorted(operands, key=lambda operand: _COSTLY_TEST.search(operand) is not None)
