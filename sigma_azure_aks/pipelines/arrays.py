"""Matching inside dynamic columns that hold arrays and objects: a Sigma value matches when it
matches one element (arrays of strings) or one member value (structures of objects).

KQL has no per-element predicate inside a `where`, so each value becomes an anchored RE2 pattern
over the column's JSON text (`tostring(Col) matches regex ...`). The patterns read the JSON text
token by token (a string is always consumed whole), so a member name or value can never be
matched inside another string; and level by level (a nested object or array is stepped over whole,
up to STRUCTURE_DEPTH levels), so a member of a nested array or object never stands for a member
of the enclosing element. `|re`, `|cidr` and `|fieldref` are refused (a user's pattern cannot be confined
to one element).
"""

from __future__ import annotations

import json
import re
from typing import Any

from sigma.exceptions import SigmaTransformationError
from sigma.types import (
    SigmaBool,
    SigmaCasedString,
    SigmaExists,
    SigmaNull,
    SigmaNumber,
    SigmaQueryExpression,
    SigmaString,
    SpecialChars,
)

from .. import kql

# ---- arrays ----------------------------------------------------------------------------------------
_ELEMENT = r'"(?:[^"\\]|\\.)*"'
_ANY_CHARS = r'(?:[^"\\]|\\.)*'
_ONE_CHAR = r'(?:[^"\\]|\\u[0-9a-fA-F]{4}|\\.)'


def _json_text_pattern(value: SigmaString) -> tuple[str, str]:
    """(flags, RE2 pattern of the inside of a JSON string matching the Sigma string): its text as
    JSON escapes it, wildcards kept inside the string."""
    inner = kql.glob_pattern(
        value.s,
        literal=lambda text: kql.regex_escape(json.dumps(text, ensure_ascii=False)[1:-1]),
        many=_ANY_CHARS,
        one=_ONE_CHAR,
    )
    if inner is None:
        raise SigmaTransformationError(f"the value '{value}' holds a placeholder no pipeline expanded")
    return ("(?s)" if isinstance(value, SigmaCasedString) else "(?is)"), inner


def element_regex(value: SigmaString) -> str:
    """Anchored RE2 pattern over an array's JSON text: some element matches the Sigma string."""
    flags, inner = _json_text_pattern(value)
    return rf'{flags}^\[\s*(?:{_ELEMENT}\s*,\s*)*"{inner}"\s*(?:,\s*{_ELEMENT}\s*)*\]$'


def expression(text: str) -> SigmaQueryExpression:
    """A query expression with one `{field}` placeholder; every other brace is literal."""
    return SigmaQueryExpression(
        text.replace("{", "{{").replace("}", "}}").replace("{{field}}", "{field}"), ""
    )


def array_value(value: Any, label: str, name: str) -> SigmaQueryExpression:
    if isinstance(value, SigmaNumber):
        value = SigmaString(str(value.number))
    if isinstance(value, SigmaString):
        if value.s and all(part == SpecialChars.WILDCARD_MULTI for part in value.s):
            return expression("coalesce(array_length({field}), 0) > 0")
        pattern = kql.string_literal(element_regex(value))
        return expression(f"tostring({{field}}) matches regex {pattern}")
    if isinstance(value, SigmaNull) or (isinstance(value, SigmaExists) and not value.exists):
        return expression("coalesce(array_length({field}), 0) == 0")
    if isinstance(value, SigmaExists):  # never null: `not` of it keeps its meaning on an absent array
        return expression("coalesce(array_length({field}), 0) > 0")
    raise SigmaTransformationError(
        f"{label}: field '{name}' holds an array; a {type(value).__name__} value cannot be confined "
        "to one element of it in KQL. Use plain values or wildcards (any element matches)."
    )



# ---- structures of objects ---------------------------------------------------------------------------
# The patterns read a column's JSON text by its levels of brackets: the outer array's inside is level
# 1, an element's inside level 2, a nested array's inside level 3, its elements' inside level 4. At
# each level they step over plain characters, whole strings and whole nested objects and arrays, so
# a member name matches only at the level of the element it belongs to, never inside a member's
# object or array, nor inside a string. RE2 cannot count brackets, so the nesting a pattern steps
# over is written out up to STRUCTURE_DEPTH levels of the whole text (declared structures reach 5,
# real rows 4; tests/test_structures.py holds both): an element nested deeper cannot be stepped
# over, and a member after it is not read (no match, so a `not` of the test is true there; never a
# member of the wrong object).
STRUCTURE_DEPTH = 8
_STRING = _ELEMENT
_PLAIN = r'[^\[\]{}"]'  # a character outside strings that opens or closes nothing


def _bracketed(levels: int) -> str:
    """A whole JSON object or array holding at most `levels` levels of brackets (its own included)."""
    tokens = rf"(?:{_PLAIN}|{_STRING})*"
    whole = ""
    for _ in range(levels):
        whole = rf"[\[{{]{tokens}[\]}}]"
        tokens = rf"(?:{_PLAIN}|{_STRING}|{whole})*"
    return whole


def step_over(level: int) -> str:
    """Tokens at one level of a structure's JSON text, never leaving it: plain characters, strings
    and whole objects and arrays (as deep as STRUCTURE_DEPTH allows below that level)."""
    return rf"(?:{_PLAIN}|{_STRING}|{_bracketed(STRUCTURE_DEPTH - level)})*?"


_ANYWHERE = rf'(?:[^"]|{_STRING})*?'  # any tokens, at any level
_SCALAR = rf'(?:{_STRING}|[^\s,\[\]{{}}"]+)'  # one JSON string, number, boolean or null
_MEMBER_END = r'\s*[,}\]]'  # what follows a member value: a number ends there, not inside 16 or 1.5
_NUMBER_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")


def _number_forms(number: float) -> str:
    """Pattern of the JSON texts of a number: 16 also as 16.0, 1.5 also as 1.50 (never 160 or 1.55)."""
    if float(number).is_integer() and abs(number) < 2**63:
        return kql.regex_escape(str(int(number))) + r"(?:\.0+)?"
    return kql.regex_escape(repr(float(number))) + "0*"


def _value_pattern(value: SigmaString | SigmaNumber | SigmaBool) -> tuple[str, str]:
    """(flags, pattern of one JSON token matching the Sigma value). A number matches the member
    holding that number (or its text); a quoted number also the member holding it as a number;
    `true`/`false` (quoted or not) also the JSON boolean; `*` any string, number or boolean."""
    if isinstance(value, SigmaBool):
        word = "true" if value.boolean else "false"
        return "(?is)", f'(?:"{word}"|{word})'
    if isinstance(value, SigmaNumber):
        return "(?is)", rf'(?:"{kql.regex_escape(str(value.number))}"|{_number_forms(value.number)})'
    flags, inner = _json_text_pattern(value)
    if value.s and all(part == SpecialChars.WILDCARD_MULTI for part in value.s):
        return flags, rf'(?:"{inner}"|-?[0-9][^\s,\]}}]*|true|false)'
    plain = None if value.contains_special() else value.to_plain()
    if plain is not None and _NUMBER_TEXT.match(plain):
        return flags, rf'(?:"{inner}"|{_number_forms(float(plain))})'
    if plain is not None and plain.lower() in ("true", "false"):
        cased = isinstance(value, SigmaCasedString)
        if not cased or plain in ("true", "false"):
            return flags, rf'(?:"{inner}"|{plain.lower()})'
    return flags, f'"{inner}"'


def _member_value(matched: str) -> str:
    """A member value matching: the value itself, or an array of scalars with an element matching."""
    return rf"(?:{matched}|\[\s*(?:{_SCALAR}\s*,\s*)*{matched}\s*(?:,\s*{_SCALAR}\s*)*\])"


def _key(name: str) -> str:
    return rf'"{kql.regex_escape(json.dumps(name, ensure_ascii=False)[1:-1])}"\s*:\s*'


def _member_test(name: str | None, matched: str) -> str:
    """A member of the object being read (any member when `name` is None) with a value matching,
    up to what follows it (the next member, or the end of the object)."""
    key = _key(name) if name is not None else rf"{_STRING}\s*:\s*"
    return rf"{key}{_member_value(matched)}\s*[,}}]"


def structure_regex(
    kind: str,
    path: tuple[str, ...],
    value: SigmaString | SigmaNumber | SigmaBool,
    pair: tuple[str, str] = ("key", "value"),
) -> str:
    """Anchored RE2 pattern over a structure's JSON text: the member at `path` of some element
    (the whole structure when `path` is empty; ``(nested, "*")``: any member of a nested array)
    has a value matching the Sigma value (a member holding an array of scalars: some element of
    it). A value on the whole structure matches any member value or array element at any depth."""
    flags, matched = _value_pattern(value)
    if kind == "pairs" and path:
        key = rf'{_key(pair[0])}"{kql.regex_escape(json.dumps(path[0], ensure_ascii=False)[1:-1])}"'
        val = f"{_key(pair[1])}{matched}"
        return rf"{flags}^\[{step_over(1)}\{{\s*(?:{key}\s*,\s*{val}|{val}\s*,\s*{key})\s*\}}"
    if not path:
        member = rf":\s*{matched}{_MEMBER_END}"
        element = rf"(?:{_ANYWHERE}[,\[])?\s*{matched}\s*[,\]]"
        return rf"{flags}^[\[{{](?:{_ANYWHERE}{member}|{element})"
    if len(path) == 1:
        return rf"{flags}^\[{step_over(1)}\{{{step_over(2)}{_member_test(path[0], matched)}"
    nested = _member_test(None if path[1] == "*" else path[1], matched)
    return rf"{flags}^\[{step_over(1)}\{{{step_over(2)}{_key(path[0])}\[{step_over(3)}\{{{step_over(4)}{nested}"


def _any_of(values: list[SigmaString | SigmaNumber | SigmaBool]) -> str:
    """One JSON token matching any of the values, each with its own case rule."""
    alternatives = []
    for value in values:
        flags, pattern = _value_pattern(value)
        alternatives.append(f"(?{flags[2:-1]}:{pattern})")
    return "(?:" + "|".join(alternatives) + ")"


Values = list[SigmaString | SigmaNumber | SigmaBool]


def _member_tests(members: list[tuple[str, Values]]) -> list[str]:
    return [_member_test(name, _any_of(values)) for name, values in members]


def _in_any_order(tests: list[str], inside: str) -> str:
    """Every test, in any order, each after tokens `inside` one object: the orders share their
    beginnings (a b c | a c b is a (b c | c b)), so `inside` is written once per prefix."""
    if len(tests) == 1:
        return f"{inside}{tests[0]}"
    rests = (test + _in_any_order([*tests[:index], *tests[index + 1 :]], inside) for index, test in enumerate(tests))
    return f"{inside}(?:{'|'.join(rests)})"


def same_element_regex(
    members: list[tuple[str, Values]], head: str | None = None, nested: list[tuple[str, Values]] | None = None
) -> str:
    """Anchored RE2 pattern over an array of objects' JSON text: one element has every member of
    `members` matching one of its values and, when `nested` is given, one element of its nested
    array `head` has every member of `nested` matching one of its values."""
    tests = _member_tests(members)
    if head is not None and nested:
        inner = _in_any_order(_member_tests(nested), step_over(4))
        # the nested array: its elements up to the one that matches, that one (its rest, when its last
        # member test ended at a comma), the rest of the array, and what follows the array
        rest = rf"(?:{step_over(4)}\}})?{step_over(3)}\]\s*[,}}]"
        tests.append(rf"{_key(head)}\[{step_over(3)}\{{(?:{inner}){rest}")
    return rf"(?s)^\[{step_over(1)}\{{(?:{_in_any_order(tests, step_over(2))})"


def same_element_value(
    members: list[tuple[str, Values]], head: str | None = None, nested: list[tuple[str, Values]] | None = None
) -> SigmaQueryExpression:
    """The KQL test of several members of one element (see :func:`same_element_regex`)."""
    pattern = kql.string_literal(same_element_regex(members, head, nested))
    return expression(f"tostring({{field}}) matches regex {pattern}")


def pair_value_regexes(key: str, pair: tuple[str, str] = ("key", "value")) -> tuple[str, str]:
    """RE2 patterns over a pair column's JSON text whose group 1 is the JSON text of the value of
    the first pair whose key is `key` (compared ignoring case, as a rule value on the key is): one
    pattern with the key member written first, one with the value member first."""
    name = kql.regex_escape(json.dumps(key, ensure_ascii=False)[1:-1])
    key_member = rf'{_key(pair[0])}"{name}"'
    value_member = rf'{_key(pair[1])}({_STRING}|[^\s,\[\]{{}}"]+)'
    start = rf"(?is)^\[{step_over(1)}\{{\s*"
    return (
        rf"{start}{key_member}\s*,\s*{value_member}\s*\}}",
        rf"{start}{value_member}\s*,\s*{key_member}\s*\}}",
    )


def structure_value(
    kind: str, path: tuple[str, ...], value: Any, label: str, name: str, pair: tuple[str, str] = ("key", "value")
) -> SigmaQueryExpression:
    """The KQL test of one Sigma value on a structure (see :func:`structure_regex`)."""
    if isinstance(value, (SigmaString, SigmaNumber, SigmaBool)):
        pattern = kql.string_literal(structure_regex(kind, path, value, pair))
        return expression(f"tostring({{field}}) matches regex {pattern}")
    raise SigmaTransformationError(
        f"{label}: field '{name}' is inside a structure of objects; a {type(value).__name__} value "
        "cannot be confined to one member of it in KQL. Use plain values, wildcards or |contains."
    )
