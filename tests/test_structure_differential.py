"""Differential over what the sources declare: structures, pair columns, routes, enumerations,
object members, arrays of strings and string columns holding JSON text (`json_text_prefixes`),
generated from the registry (a source is covered the day it is registered), run through the target
and the replay engine, and compared with an independent evaluator of the documented semantics
(docs/entra.md, docs/mapping.md, docs/aws.md). Zero disagreements.

The evaluator reads JSON values, never the KQL: a structure member matches a value as documented
(a number equals that number; a quoted number also the member holding it as a number; `true` also
the JSON boolean; `*` any string, number or boolean; a member holding an array of scalars when some
element matches), a pair key is the whole rest of the field, a value on a whole structure matches any
member value or array element at any depth, member names in another case read the declared member,
a route's `null`/`|exists`/`*` test the field itself.

Events draw every member from numbers, quoted numbers, booleans, strings with JSON syntax in them,
nested arrays, present/empty/null/absent; elements (of arrays of objects, of their nested arrays, and
pairs' values) also hold nested objects and arrays of objects, one to three levels deep, whose
members are named like the element's own (GCP resourceAttributes, Okta detailEntry): only the
element's own members count. A JSON-text column holds such members as text (compact or
spaced, escaped or not), or text that holds no object (empty, `null`, another root, not JSON); its
members are read by Python's JSON parser, exactly as named (member access is case-sensitive), and
`null` on them is absent or JSON null, not "". Size: `SIGMA_AZURE_AKS_STRUCTURES_SCALE` (an integer,
default 1; CI sets it higher). Not compared (listed, not silent): a number item on a plain member
that holds a boolean (Kusto's toreal of a boolean is not documented).
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from declared_shapes import bracket_depth
from replay_support import require_engine
from sigma.collection import SigmaCollection
from sigma.rule import SigmaLogSource

from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.pipelines.arrays import STRUCTURE_DEPTH
from sigma_azure_aks.sources import FieldMap, Source, all_sources, registered
from sigma_azure_aks.sources.base import FieldTarget, member_prefixes
from sigma_azure_aks.sources.json_text import json_text_prefixes
from sigma_azure_aks.sources.shapes import Enumeration, Structure

SEED = 20261206
# Size knob: an integer scale (rules and events per source grow with it); 1 locally, 3 when CI=true.
_CI = os.environ.get("CI", "").lower() == "true"
SCALE = max(1, int(os.environ.get("SIGMA_AZURE_AKS_STRUCTURES_SCALE", "") or (3 if _CI else 1)))
RULES_PER_SOURCE = 40 * SCALE
EVENTS_PER_SOURCE = 50 * SCALE

WORDS = [
    "Global Administrator", "User", "Add member to role", "a,b", 'say "hi"', "c:\\temp", "x:y", "[x]",
    "{y}", "oauth2", "16", "1.5", "true", "ünï", "Mfa", "", "key", "value",
]
NUMBERS = [0, 1, 16, 1.5, -1, 10, 1.0]
KEYS = ["oauth2", "oauth2.scope", "a.b.c", "User-Agent", "userAgent", "Scope"]
Absent = object()  # a member that is not there


def scalar_pool(rng: random.Random) -> Any:
    """A JSON value for a member: strings, numbers, quoted numbers, booleans, null, empty, arrays."""
    roll = rng.random()
    if roll < 0.35:
        return _case(rng, rng.choice(WORDS))
    if roll < 0.55:
        return rng.choice(NUMBERS)
    if roll < 0.62:
        return str(rng.choice([1, 16, "1.0", 10]))
    if roll < 0.72:
        return rng.choice([True, False])
    if roll < 0.8:
        return None
    if roll < 0.85:
        return ""
    size = rng.randint(0, 3)
    return [rng.choice([*WORDS[:6], 1, 16, True]) for _ in range(size)]


DECOY = "resourceAttributes"  # a member no structure declares, holding objects named like the element's


def fitting_decoy(rng: random.Random, names: list[str], heads: dict[str, list[str]], room: int) -> Any:
    """A decoy whose brackets stay within `room` levels, so that the column's text stays within the
    STRUCTURE_DEPTH levels the patterns read (deeper text is a documented limit, tested on its own in
    test_structures.py)."""
    for _ in range(8):
        candidate = decoy(rng, names, heads)
        if bracket_depth(candidate) <= room:
            return candidate
    return {rng.choice(names): "x"}


def decoy(rng: random.Random, names: list[str], heads: dict[str, list[str]], depth: int = 0) -> Any:
    """A nested object (now and then an array of them, one to three levels deep) whose members are
    named like the members of the element (or of its nested arrays) it sits in: a test that reads a
    member inside it instead of the element's own member matches where the element does not."""
    depth = depth or rng.randint(1, 3)
    inside: dict[str, Any] = {}
    for name in rng.sample(names, min(len(names), rng.randint(1, 3))):
        if name in heads:
            inside[name] = [{m: scalar_pool(rng) for m in heads[name]}]
        elif depth > 1 and rng.random() < 0.4:
            inside[name] = decoy(rng, names, heads, depth - 1)
        else:
            inside[name] = scalar_pool(rng)
    return [inside] if rng.random() < 0.3 else inside


def _case(rng: random.Random, text: str) -> str:
    return "".join(c.upper() if c.isascii() and rng.random() < 0.3 else c for c in text)


# ---- the documented semantics, on JSON values ---------------------------------------------------
@dataclass(frozen=True)
class Value:
    """One rule value: its Sigma JSON form and what it means."""

    sigma: Any  # what the rule holds (str with Sigma escapes, number, bool, None)
    kind: str  # glob, number, bool, any, null, exists
    pattern: str = ""  # glob: a Python regex of the whole text (case-insensitive)
    number: float = 0.0
    flag: bool = False
    plain: str | None = None  # glob without wildcards: the text

    def text_matches(self, text: str) -> bool:
        return re.fullmatch(self.pattern, text, re.IGNORECASE | re.DOTALL) is not None


def _sigma_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def glob(rng: random.Random, text: str, shape: str = "") -> tuple[str, Value]:
    """(modifier, value) for a text: exact, |contains, |startswith or |endswith a piece."""
    shape = shape or rng.choice(["eq", "eq", "contains", "startswith", "endswith"])
    if shape == "eq" or len(text) < 2:
        return "", Value(_sigma_escape(text), "glob", re.escape(text), plain=text)
    piece = text[: rng.randint(1, len(text) - 1)] if shape == "startswith" else text[rng.randint(1, len(text) - 1):]
    if shape == "contains":
        start = rng.randrange(len(text))
        piece = text[start : start + rng.randint(1, 3)]
    body = {"contains": f".*{re.escape(piece)}.*", "startswith": f"{re.escape(piece)}.*",
            "endswith": f".*{re.escape(piece)}"}[shape]
    return f"|{shape}", Value(_sigma_escape(piece), "glob", body)


def any_value() -> Value:
    return Value("*", "any")


def number_value(number: float) -> Value:
    return Value(number, "number", number=float(number))


def bool_value(flag: bool) -> Value:
    return Value(flag, "bool", flag=flag)


_NUMBER_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def in_structure(value: Value, member: Any) -> bool:
    """A structure member (or array element) matches the value: documented in docs/entra.md."""
    if isinstance(member, list):
        return any(not isinstance(e, (list, dict)) and in_structure(value, e) for e in member)
    if member is None or member is Absent or isinstance(member, dict):
        return False
    if value.kind == "any":
        return True
    if value.kind == "bool":
        return member is value.flag or (isinstance(member, str) and member.lower() == str(value.flag).lower())
    if value.kind == "number":
        if isinstance(member, bool):
            return False
        if isinstance(member, (int, float)):
            return float(member) == value.number
        return member == _sigma_number_text(value.sigma)
    if isinstance(member, str):
        return value.text_matches(member)
    if isinstance(member, bool):
        return value.plain is not None and value.plain.lower() == str(member).lower()
    plain = value.plain
    return plain is not None and _NUMBER_TEXT.fullmatch(plain) is not None and float(plain) == float(member)


def _sigma_number_text(number: Any) -> str:
    return str(number)


def anywhere(value: Value, data: Any) -> bool:
    """A value on a whole structure: some member value or array element at any depth."""
    if isinstance(data, dict):
        return any(anywhere(value, v) if isinstance(v, (dict, list)) else in_structure(value, v) for v in data.values())
    if isinstance(data, list):
        return any(anywhere(value, v) if isinstance(v, (dict, list)) else in_structure(value, v) for v in data)
    return False


def kusto_text(member: Any) -> str:
    """tostring() of a plain member: "" for absent and null."""
    if member is Absent or member is None:
        return ""
    if isinstance(member, bool):
        return "true" if member else "false"
    if isinstance(member, float) and member.is_integer():
        return str(int(member)) if False else repr(member)
    return member if isinstance(member, str) else json.dumps(member)


def plain_member(value: Value, member: Any, parent_has: bool) -> bool | None:
    """A plain member access (docs/mapping.md); None: not compared."""
    if value.kind == "null":
        return kusto_text(member) == ""
    if value.kind == "exists":
        return parent_has == value.flag
    if value.kind == "any":
        return kusto_text(member) != ""
    if value.kind == "number":
        if isinstance(member, bool):
            return None
        if isinstance(member, (int, float)):
            return float(member) == value.number
        if isinstance(member, str):
            try:
                return float(member) == value.number
            except ValueError:
                return False
        return False
    if value.kind == "bool":
        return kusto_text(member).lower() == str(value.flag).lower()
    if value.plain == "":
        return member == ""
    if isinstance(member, (list, dict)):
        return None
    if isinstance(member, float):
        return None  # the text of a real is Kusto's to choose
    return value.text_matches(kusto_text(member))


def column_text(value: Value, text: Any) -> bool:
    """A string column (no null: absent reads as "")."""
    text = "" if text in (None, Absent) else text
    if value.kind == "null":
        return text == ""
    if value.kind in ("any", "exists"):
        return (text != "") == (value.flag if value.kind == "exists" else True)
    return value.text_matches(text)


# ---- the items the declarations allow -----------------------------------------------------------
@dataclass
class Item:
    """One detection item: its Sigma key and values, and the evaluator of one event (None: the
    pair is not compared; the string "refused": conversion must refuse it)."""

    key: str
    values: list[Value]
    evaluate: Callable[[dict[str, Any]], bool | None]
    all_of: bool = False
    # a member of the elements of an array of objects: (column, nested array or None, member) and
    # the test of one element; items of one selection at one level are read in one element
    element: tuple[str, str | None, str] | None = None
    element_test: Callable[[dict[str, Any]], bool] | None = None


def _get(row: dict[str, Any], column: str) -> Any:
    return row.get(column, Absent)


def _walk(data: Any, path: tuple[str, ...]) -> tuple[Any, bool]:
    """(the member at path, whether its parent holds the key)."""
    for index, part in enumerate(path):
        if not isinstance(data, dict):
            return Absent, False
        if part not in data:
            return Absent, False
        if index == len(path) - 1:
            return data[part], True
        data = data[part]
    return data, True


def _random_case(rng: random.Random, name: str) -> str:
    roll = rng.random()
    return name if roll < 0.4 else (name.lower() if roll < 0.6 else (name.upper() if roll < 0.7 else _case(rng, name)))


def structure_value_of(rng: random.Random) -> tuple[str, Value]:
    roll = rng.random()
    if roll < 0.45:
        return glob(rng, rng.choice([w for w in WORDS if w]))
    if roll < 0.65:
        return "", number_value(rng.choice([1, 16, 1.5, 0, 10, -1]))
    if roll < 0.75:
        text = rng.choice(["1", "16", "1.5", "1.0", "10"])
        return "", Value(text, "glob", re.escape(text), plain=text)
    if roll < 0.85:
        return "", bool_value(rng.choice([True, False]))
    if roll < 0.9:
        text = rng.choice(["true", "TRUE", "false"])
        return "", Value(text, "glob", re.escape(text), plain=text)
    return "", any_value()


@dataclass
class Slot:
    """A place the declarations name: how to fill it in an event and which items test it."""

    column: str
    fill: Callable[[random.Random], Any]
    items: Callable[[random.Random], Item]


def _array_slot(field_map: FieldMap, structure: Any) -> Slot:
    members = structure.members or ("m",)

    heads = {head: list(inner) for head, inner in structure.nested.items()}
    assert DECOY not in members and DECOY not in heads

    def nested_element(rng: random.Random, inner: tuple[str, ...]) -> dict[str, Any]:
        chosen = {m: scalar_pool(rng) for m in inner if rng.random() < 0.8}
        if rng.random() < 0.3:
            chosen[DECOY] = fitting_decoy(rng, list(inner), {}, STRUCTURE_DEPTH - 4)  # [ { [ { decoy
        return dict(rng.sample(list(chosen.items()), len(chosen)))

    def element(rng: random.Random) -> dict[str, Any]:
        chosen = {m: scalar_pool(rng) for m in members if rng.random() < 0.7}
        for head, inner in structure.nested.items():
            if rng.random() < 0.7:
                chosen[head] = [nested_element(rng, inner) for _ in range(rng.randint(0, 2))]
        if rng.random() < 0.4:
            chosen[DECOY] = fitting_decoy(rng, [*members, *heads], heads, STRUCTURE_DEPTH - 2)  # [ { decoy
        return dict(rng.sample(list(chosen.items()), len(chosen)))

    def fill(rng: random.Random) -> Any:
        return [element(rng) for _ in range(rng.randint(0, 3))] if rng.random() < 0.9 else None

    def items(rng: random.Random) -> Item:
        column = structure.column
        roll = rng.random()
        modifier, value = structure_value_of(rng)
        if roll < 0.2:
            return Item(f"{column}{modifier}", [value], lambda row: anywhere(value, _get(row, column)))
        nested = list(structure.nested.items())
        if nested and roll < 0.55:
            head, inner = rng.choice(nested)
            if rng.random() < 0.2:
                def whole_nested(row: dict[str, Any]) -> bool:
                    return any(
                        in_structure(value, v)
                        for e in _elements(_get(row, column)) for i in _elements(e.get(head)) for v in i.values()
                    )
                return Item(f"{column}.{_random_case(rng, head)}{modifier}", [value], whole_nested)
            member = rng.choice(inner)
            values = _alternatives(rng, modifier, value)

            def nested_member(row: dict[str, Any]) -> bool:
                return any(
                    _any_in_structure(values, i.get(member, Absent))
                    for e in _elements(_get(row, column)) for i in _elements(e.get(head))
                )
            return Item(f"{column}.{_random_case(rng, head)}.{_random_case(rng, member)}{modifier}", values,
                        nested_member, element=(column, head, member),
                        element_test=lambda e: _any_in_structure(values, e.get(member, Absent)))
        member = rng.choice(members)
        values = _alternatives(rng, modifier, value)

        def top_member(row: dict[str, Any]) -> bool:
            return any(_any_in_structure(values, e.get(member, Absent)) for e in _elements(_get(row, column)))
        return Item(f"{column}.{_random_case(rng, member)}{modifier}", values, top_member,
                    element=(column, None, member),
                    element_test=lambda e: _any_in_structure(values, e.get(member, Absent)))

    return Slot(structure.column, fill, items)


def _alternatives(rng: random.Random, modifier: str, value: Value) -> list[Value]:
    """The value, and now and then a second one (a list: any of them) when it has no modifier."""
    if modifier or rng.random() < 0.75:
        return [value]
    second_modifier, second = structure_value_of(rng)
    return [value] if second_modifier else [value, second]


def _any_in_structure(values: list[Value], member: Any) -> bool:
    return any(in_structure(v, member) for v in values)


def _elements(data: Any) -> list[dict[str, Any]]:
    return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []


def _pairs_slot(structure: Any) -> Slot:
    key_name, value_name = structure.pair

    def fill(rng: random.Random) -> Any:
        pairs = []
        for _ in range(rng.randint(0, 3)):
            value = scalar_pool(rng)
            if rng.random() < 0.2:  # a pair inside the value: never the element's own key and value
                inside = {key_name: rng.choice(KEYS), value_name: scalar_pool(rng)}
                value = [inside] if rng.random() < 0.3 else {"detail": inside} if rng.random() < 0.3 else inside
            members = [(key_name, _case(rng, rng.choice(KEYS)) if rng.random() < 0.3 else rng.choice(KEYS)),
                       (value_name, value)]
            rng.shuffle(members)
            pairs.append(dict(members))
        return pairs

    def items(rng: random.Random) -> Item:
        column = structure.column
        modifier, value = structure_value_of(rng)
        if rng.random() < 0.2:
            return Item(f"{column}{modifier}", [value], lambda row: anywhere(value, _get(row, column)))
        key = rng.choice(KEYS)

        def pair(row: dict[str, Any]) -> bool:
            return any(
                isinstance(e.get(key_name), str) and e[key_name].lower() == key.lower()
                and not isinstance(e.get(value_name), list) and in_structure(value, e.get(value_name, Absent))
                for e in _elements(_get(row, column))
            )
        return Item(f"{column}.{key}{modifier}", [value], pair)

    return Slot(structure.column, fill, items)


def _tree(members: tuple[str, ...]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for dotted in members:
        node = tree
        for part in dotted.split("."):
            node = node.setdefault(part, {})
    return tree


def _object_slot(field_map: FieldMap, column: str, whole: bool) -> Slot:
    tree = _tree(field_map.members.get(column, ()))
    leaves = [tuple(d.split(".")) for d in field_map.members.get(column, ())
              if not any(o.startswith(d + ".") for o in field_map.members.get(column, ()))]

    def build(rng: random.Random, node: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, children in node.items():
            roll = rng.random()
            if roll < 0.15:
                continue
            out[name] = build(rng, children) if children else scalar_pool(rng)
        return out

    def fill(rng: random.Random) -> Any:
        return build(rng, tree) if rng.random() < 0.9 else None

    def items(rng: random.Random) -> Item:
        if whole and (not leaves or rng.random() < 0.3):
            modifier, value = structure_value_of(rng)
            return Item(f"{column}{modifier}", [value], lambda row: anywhere(value, _get(row, column)))
        path = rng.choice(leaves)
        written = ".".join(_random_case(rng, p) for p in path)
        roll = rng.random()
        if roll < 0.1:
            value, modifier = Value(None, "null"), ""
        elif roll < 0.2:
            flag = rng.choice([True, False])
            value, modifier = Value(flag, "exists", flag=flag), "|exists"
        elif roll < 0.3:
            value, modifier = number_value(rng.choice([1, 16, 0])), ""
        elif roll < 0.35:
            value, modifier = Value("", "glob", "", plain=""), ""
        else:
            modifier, value = glob(rng, rng.choice([w for w in WORDS if w]))

        def member(row: dict[str, Any]) -> bool | None:
            found, has = _walk(_get(row, column), path)
            return plain_member(value, found, has)
        return Item(f"{column}.{written}{modifier}", [value], member)

    return Slot(column, fill, items)


# ---- string columns holding JSON text (json_text_prefixes): members read through parse_json -------
# Member names drawn into the JSON texts (nested objects under dict keys), with KQL keywords and a
# name that is not an identifier; the source's own array members (PathPrefix.arrays) are added.
JSON_MEMBERS: dict[str, Any] = {
    "attribute": None, "MFAUsed": None, "ConsoleLogin": None, "userName": None, "title": None, "type": None,
    "bucket": {"name": None, "Policy": {"Effect": None}}, "key-name": None,
}
# Texts of the whole column that hold no object: empty, JSON null, other JSON roots, not JSON.
NOT_OBJECTS = ["", "null", "[]", '"attribute"', "16", "true", "not json", "{", '[{"attribute": "User"}]']


def json_member(value: Value, member: Any, parent_has: bool) -> bool | None:
    """A member of JSON text (docs/aws.md): as a plain member, but `null` is absent or JSON null,
    not "" (`gettype(...) == "null"`)."""
    if value.kind == "null":
        return member is Absent or member is None
    return plain_member(value, member, parent_has)


def json_object(text: Any) -> Any:
    """What the column's text holds for member access: its object, else Absent (no members: not
    JSON, another root, empty, absent)."""
    if not isinstance(text, str):
        return Absent
    try:
        parsed = json.loads(text)
    except ValueError:
        return Absent
    return parsed if isinstance(parsed, dict) else Absent


def _json_text_slot(field_map: FieldMap, prefixes: list[Any]) -> Slot | None:
    """Items on a string column holding JSON text: members (random case: member access is
    case-sensitive), the whole text, every value kind; texts with members of every type, nested,
    present empty or null or absent, written compact or spaced, escaped or not, and texts that hold
    no object."""
    column = prefixes[0].column
    tree: dict[str, Any] = {**JSON_MEMBERS, **{a: "array" for p in prefixes for a in p.arrays if "." not in a}}
    for prefix in prefixes:
        for dotted in prefix.arrays:
            if "." in dotted:
                node = tree
                *heads, last = dotted.split(".")
                for head in heads:
                    if not isinstance(node.get(head), dict):
                        node[head] = {}
                    node = node[head]
                node[last] = "array"
    leaves: list[tuple[str, ...]] = []

    def walk(node: dict[str, Any], path: tuple[str, ...]) -> None:
        for name, inner in node.items():
            leaves.append((*path, name))
            if isinstance(inner, dict):
                walk(inner, (*path, name))

    walk(tree, ())

    def field_name(path: tuple[str, ...]) -> str | None:
        """The Sigma field of a member path, through a prefix that reads it as written."""
        for prefix in prefixes:
            name = prefix.prefix + ".".join(path)
            target = field_map.resolve(name)
            if target is not None and target.column == column and target.json_text and target.path == path:
                return name
        return None

    whole = next((n for n in (prefixes[0].prefix[:-1], column)
                  if (t := field_map.resolve(n)) is not None and t.column == column and not t.path), None)

    def build(rng: random.Random, node: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, inner in node.items():
            if rng.random() < 0.3:
                continue
            if isinstance(inner, dict) and rng.random() < 0.8:
                out[name] = build(rng, inner)
            elif inner == "array" and rng.random() < 0.6:
                out[name] = [{"command": scalar_pool(rng)} for _ in range(rng.randint(0, 2))]
            else:
                out[name] = scalar_pool(rng)
        return dict(rng.sample(list(out.items()), len(out)))

    def fill(rng: random.Random) -> Any:
        roll = rng.random()
        if roll < 0.1:
            return None  # absent: the string column reads ""
        if roll < 0.25:
            return rng.choice(NOT_OBJECTS)
        compact = rng.random() < 0.5
        return json.dumps(build(rng, tree), ensure_ascii=rng.random() < 0.3,
                          separators=(",", ":") if compact else (", ", ": "))

    def items(rng: random.Random) -> Item:
        if whole is not None and rng.random() < 0.15:
            modifier, value = glob(rng, rng.choice(["attribute", '"title"', "User", ":", "{}", "null", "not json"]))
            if rng.random() < 0.2:
                value, modifier = Value(None, "null"), ""
            return Item(f"{whole}{modifier}", [value], lambda row: column_text(value, _get(row, column)))
        read, name = rng.choice(named)
        written = tuple(part if rng.random() < 0.75 else _random_case(rng, part) for part in read)
        if (other := field_name(written)) is not None:  # read as written: another case is another member
            read, name = written, other
        roll = rng.random()
        if roll < 0.12:
            value, modifier = Value(None, "null"), ""
        elif roll < 0.24:
            flag = rng.choice([True, False])
            value, modifier = Value(flag, "exists", flag=flag), "|exists"
        elif roll < 0.36:
            value, modifier = number_value(rng.choice([1, 16, 0, 1.5])), ""
        elif roll < 0.42:
            value, modifier = Value("", "glob", "", plain=""), ""
        elif roll < 0.5:
            value, modifier = bool_value(rng.choice([True, False])), ""
        elif roll < 0.55:
            value, modifier = any_value(), ""
        else:
            modifier, value = glob(rng, _case(rng, rng.choice([w for w in WORDS if w])))

        def member(row: dict[str, Any]) -> bool | None:
            found, has = _walk(json_object(_get(row, column)), read)
            return json_member(value, found, has)
        return Item(f"{name}{modifier}", [value], member)

    named = [(path, name) for path in leaves if (name := field_name(path)) is not None]
    return Slot(column, fill, items) if named else None


def _json_text_slots(field_map: FieldMap) -> list[Slot]:
    """One slot per string column the field map reads as JSON text (its json_text prefixes)."""
    by_column: dict[str, list[Any]] = {}
    for prefix in field_map.prefixes:
        if prefix.json_text and not prefix.whole_key and not prefix.base:
            by_column.setdefault(prefix.column, []).append(prefix)
    return [slot for prefixes in by_column.values() if (slot := _json_text_slot(field_map, prefixes)) is not None]


def _route_slots(source: Source, field_map: FieldMap) -> list[Slot]:
    slots = []
    for route in field_map.routes:
        itself = field_map.resolve(route.itself)
        others = [field_map.resolve(o) for o in route.other]
        condition_column = _condition_column(route)

        def fill(rng: random.Random, itself=itself, others=others, column=condition_column) -> Any:
            return None

        def items(rng: random.Random, route=route, itself=itself, others=others, column=condition_column) -> Item:
            name = rng.choice(route.fields)
            roll = rng.random()
            if roll < 0.35:
                word = rng.choice(list(route.conditions))
                written = _random_case(rng, word)
                return Item(name, [Value(written, "glob", re.escape(word), plain=word)],
                            lambda row: _condition(route.conditions[word], row))
            if roll < 0.5:
                return Item(name, [Value(None, "null")], lambda row: _text_of(row, itself) == "")
            if roll < 0.65:
                flag = rng.choice([True, False])
                return Item(f"{name}|exists", [Value(flag, "exists", flag=flag)],
                            lambda row: (_text_of(row, itself) != "") == flag)
            if roll < 0.75:
                return Item(name, [any_value()], lambda row: _text_of(row, itself) != "")
            modifier, value = glob(rng, rng.choice(ROUTE_TEXTS))
            condition = route.conditions.get((value.plain or "").lower()) if not modifier else None
            if condition is not None:  # a plain value the route names is its condition, in any case
                return Item(name, [value], lambda row, condition=condition: _condition(condition, row))
            return Item(f"{name}{modifier}", [value], lambda row: _any_other(value, row, others))

        slots.append(Slot(f"route {route.fields[0]}", fill, items))
    return slots


ROUTE_TEXTS = ["MFA denied", "Success", "failure", "timeout", "Admin registered", "x"]


def _condition_column(route: Any) -> str:
    return next(iter(route.conditions.values())).split()[0]


def _condition(condition: str, row: dict[str, Any]) -> bool:
    """The route's KQL conditions, read by their form: `Col == "v"`, `Col != "v"`, `Col =~ "v"`."""
    column, operator, literal = condition.split(" ", 2)
    text = row.get(column)
    text = "" if text in (None, Absent) else str(text)
    wanted = json.loads(literal)
    return {"==": text == wanted, "!=": text != wanted, "=~": text.lower() == wanted.lower()}[operator]


def _text_of(row: dict[str, Any], target: FieldTarget) -> str:
    if not target.path:
        value = row.get(target.column)
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        return kusto_text(Absent if value is None else value)
    found, _ = _walk(row.get(target.column, Absent), target.path)
    return kusto_text(found) if not isinstance(found, (dict, list)) else json.dumps(found)


def _any_other(value: Value, row: dict[str, Any], others: list[FieldTarget]) -> bool | None:
    """Some of the route's other fields matches (a member by member access, a column as text)."""
    outcomes = []
    for other in others:
        if other.path:
            found, has = _walk(row.get(other.column, Absent), other.path)
            outcomes.append(plain_member(value, found, has))
        else:
            outcomes.append(column_text(value, row.get(other.column)))
    if any(o is True for o in outcomes):
        return True
    return None if any(o is None for o in outcomes) else False


def _route_fill(field_map: FieldMap, rng: random.Random, row: dict[str, Any]) -> None:
    """Values for the columns routes read: the condition column, the field itself, the others."""
    for route in field_map.routes:
        column = _condition_column(route)
        roll = rng.random()
        if roll < 0.8:
            words = [json.loads(c.split(" ", 2)[2]) for c in route.conditions.values()]
            row[column] = rng.choice([*words, "50053", "", _case(rng, rng.choice(words))])
        itself = field_map.resolve(route.itself)
        for other in (field_map.resolve(o) for o in route.other):
            if other.path:
                holder = row.get(other.column)
                if not isinstance(holder, dict):
                    if rng.random() < 0.2:
                        continue
                    holder = row[other.column] = {}
                if rng.random() < 0.6:
                    holder[other.path[0]] = rng.choice([_case(rng, rng.choice(ROUTE_TEXTS)), "", None, 0])
            elif rng.random() < 0.7:
                row[other.column] = _case(rng, rng.choice(ROUTE_TEXTS))
        if not itself.path and field_map.structure(itself.column) is None and itself.column not in field_map.objects:
            if rng.random() < 0.5:
                row.setdefault(itself.column, rng.choice(["success", "failure", "", "timeout"]))


def _enumeration_slots(field_map: FieldMap) -> list[Slot]:
    slots = []
    for enumeration in field_map.enumerations:
        target = enumeration.target

        def fill(rng: random.Random, values=enumeration.values) -> Any:
            return rng.choice([*values, _case(rng, rng.choice(values)), "other", ""]) if rng.random() < 0.9 else None

        def items(rng: random.Random, values=enumeration.values, target=target) -> Item:
            word = rng.choice([*values, "Device Code", "other"])
            modifier, value = glob(rng, _random_case(rng, word), rng.choice(["eq", "eq", "contains"]))
            return Item(f"{target}{modifier}", [value], lambda row: column_text(value, row.get(target)))

        slots.append(Slot(target, fill, items))
    return slots


def field_name_for(field_map: FieldMap, target: FieldTarget) -> str | None:
    """A Sigma field name the field map resolves to the target (its exact names, then its prefixes)."""
    for name, exact in sorted(field_map.exact.items()):
        if exact == target:
            return name
    for prefix in field_map.prefixes:
        rest = target.path[len(prefix.base):]
        if prefix.column == target.column and target.path[: len(prefix.base)] == prefix.base and rest:
            name = prefix.prefix + ".".join(rest)
            if (not prefix.whole_key or len(rest) == 1) and field_map.resolve(name) == target:
                return name
    return None


def _strings_slot(field_map: FieldMap, column: str, path: tuple[str, ...]) -> Slot | None:
    """An array of strings (any element matches; `*` and `|exists` a non-empty array; `null` none)."""
    concrete = tuple("k1" if p == "*" else p for p in path)
    target = next((t for t in (FieldTarget(column, concrete),) if field_map.is_array(t)), None)
    name = field_name_for(field_map, target) if target is not None else None
    if name is None:
        return None

    def fill(rng: random.Random) -> Any:
        roll = rng.random()
        value: Any = [_case(rng, rng.choice(WORDS)) for _ in range(rng.randint(1, 3))] if roll < 0.7 else (
            [] if roll < 0.8 else (None if roll < 0.9 else Absent))
        if not concrete:
            return None if value is Absent else value
        holder: dict[str, Any] = {}
        node = holder
        for part in concrete[:-1]:
            node = node.setdefault(part, {})
        if value is not Absent:
            node[concrete[-1]] = value
        return holder

    def items(rng: random.Random) -> Item:
        found = (lambda row: _walk(_get(row, column), concrete)[0]) if concrete else (lambda row: _get(row, column))
        roll = rng.random()
        if roll < 0.12:
            return Item(name, [Value(None, "null")], lambda row: not _non_empty(found(row)))
        if roll < 0.24:
            flag = rng.choice([True, False])
            return Item(f"{name}|exists", [Value(flag, "exists", flag=flag)], lambda row: _non_empty(found(row)) == flag)
        if roll < 0.32:
            return Item(name, [any_value()], lambda row: _non_empty(found(row)))
        modifier, value = glob(rng, rng.choice([w for w in WORDS if w]))
        return Item(f"{name}{modifier}", [value], lambda row: any(
            isinstance(e, str) and value.text_matches(e) for e in (found(row) if isinstance(found(row), list) else [])))

    return Slot(column, fill, items)


def _non_empty(value: Any) -> bool:
    return isinstance(value, list) and len(value) > 0


def slots_of(source: Source) -> list[Slot]:
    """Every place the source's declarations name (structures, pairs, objects with members, routes,
    enumerations)."""
    field_map = source.field_map
    assert field_map is not None
    slots: list[Slot] = []
    for structure in field_map.structures:
        if structure.kind == "array":
            slots.append(_array_slot(field_map, structure))
        elif structure.kind == "pairs":
            slots.append(_pairs_slot(structure))
        else:
            slots.append(_object_slot(field_map, structure.column, whole=True))
    for column in sorted(field_map.objects):
        if column in field_map.members:
            slots.append(_object_slot(field_map, column, whole=False))
    slots += _enumeration_slots(field_map)
    slots += _route_slots(source, field_map)
    for column, path in sorted(field_map.arrays):
        slot = _strings_slot(field_map, column, path)
        if slot is not None:
            slots.append(slot)
    slots += _json_text_slots(field_map)
    return slots


_PARSED = re.compile(r"extend\s+([A-Za-z_][A-Za-z0-9_]*)\s*=\s*parse_json\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)")


def parsed_columns(source: Source) -> dict[str, str] | None:
    """{column the preamble adds: the text column it parses} when the source's preamble (a legacy
    route's, run by both replay routes) only parses text columns (Okta_CL's `target_s`); None when
    it does more (AzureDiagnostics' also filters by category: its rows are not generated here)."""
    table, *operators = (part.strip() for part in source.preamble.split("|")) if source.preamble else ("",)
    matches = [_PARSED.fullmatch(operator) for operator in operators]
    if any(match is None for match in matches):
        return None
    return {match.group(1): match.group(2) for match in matches if match is not None}


def table_row(source: Source, event: dict[str, Any], index: int) -> dict[str, Any]:
    """An event as the table holds it: what a preamble parses, as the text it parses (escaped or
    not, by turns: the ingester may escape non-ASCII)."""
    row = dict(event)
    for column, text_column in (parsed_columns(source) or {}).items():
        if column in row:
            row[text_column] = json.dumps(row.pop(column), ensure_ascii=index % 2 == 0)
    return row


def declared_sources() -> list[Source]:
    """Every registered source with declared shapes and an id column; a legacy route's preamble
    (run by both replay routes, the export scan folding it into the condition) when it only parses
    text columns (:func:`parsed_columns`)."""
    return [
        s for s in all_sources()
        if s.field_map is not None and s.pipeline and s.logsources and s.id_column
        and parsed_columns(s) is not None
        and (s.field_map.structures or s.field_map.routes or s.field_map.enumerations or s.field_map.members
             or s.field_map.arrays or any(p.json_text for p in s.field_map.prefixes))
    ]


# ---- rules, events, both sides ------------------------------------------------------------------
def make_events(rng: random.Random, source: Source, slots: list[Slot]) -> list[dict[str, Any]]:
    assert source.field_map is not None and source.id_column
    events = []
    for index in range(EVENTS_PER_SOURCE):
        row: dict[str, Any] = {source.id_column: f"e{index}", "TimeGenerated": "2024-01-01T00:00:00Z"}
        for slot in slots:
            if slot.column.startswith("route "):
                continue
            value = slot.fill(rng)
            if isinstance(value, dict) and isinstance(row.get(slot.column), dict):
                _merge(row[slot.column], value)
            elif value is not None:
                row[slot.column] = value
        _route_fill(source.field_map, rng, row)
        events.append(row)
    return events


def _merge(into: dict[str, Any], more: dict[str, Any]) -> None:
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def make_rule(rng: random.Random, source: Source, slots: list[Slot], index: int):
    selections: dict[str, list[Item]] = {}
    for number in range(rng.randint(1, 2)):
        first = slots[(index + number) % len(slots)]
        # more items on the same place now and then: several members of one array of objects
        chosen = [first] + [first if rng.random() < 0.4 else rng.choice(slots) for _ in range(rng.randint(0, 2))]
        items: dict[str, Item] = {}
        for slot in chosen:
            item = slot.items(rng)
            # one item per field: two values required of one field is a refused contradiction
            items.setdefault(item.key.split("|")[0].lower(), item)
        selections[f"sel{number}"] = list(items.values())
    names = list(selections)
    condition = rng.choice([" and ".join(names), " or ".join(names), f"not {names[-1]}",
                            f"{names[0]} and not {names[-1]}" if len(names) > 1 else names[0]])
    logsource = source.logsources[0]
    rule = {
        "title": f"structures {source.table} {index}",
        "id": f"00000000-0000-4000-8000-{index:012d}",
        "logsource": {k: v for k, v in (("product", logsource.product), ("service", logsource.service),
                                         ("category", logsource.category)) if v},
        "detection": {
            **{name: {i.key: [v.sigma for v in i.values] if len(i.values) > 1 else i.values[0].sigma for i in items}
               for name, items in selections.items()},
            "condition": condition,
        },
    }
    return json.dumps(rule), selections, condition


def one_element(items: list[Item], row: dict[str, Any]) -> bool:
    """Some element passes every test of its members and, for nested members, has one element of
    its nested array that passes every test of theirs."""
    column = items[0].element[0]  # type: ignore[index]
    top = [i for i in items if i.element[1] is None]  # type: ignore[index]
    nested = [i for i in items if i.element[1] is not None]  # type: ignore[index]
    head = nested[0].element[1] if nested else None  # type: ignore[index]
    return any(
        all(i.element_test(e) for i in top)  # type: ignore[misc]
        and (not nested or any(all(i.element_test(n) for i in nested) for n in _elements(e.get(head))))  # type: ignore[misc]
        for e in _elements(_get(row, column))
    )


def selection_outcomes(items: list[Item], row: dict[str, Any]) -> list[bool | None]:
    """Each item's outcome; items on different members of one array of objects (its elements'
    members, and members of at most one nested array), two or three of them, are one outcome:
    read in one element (docs/entra.md)."""
    groups: dict[str, list[Item]] = {}
    for item in items:
        if item.element is not None:
            groups.setdefault(item.element[0], []).append(item)
    combined = [
        g for g in groups.values()
        if 2 <= len(g) <= 3 and len({i.element for i in g}) == len(g)
        and len({i.element[1] for i in g if i.element[1] is not None}) <= 1  # type: ignore[index]
    ]
    alone = [item for item in items if not any(item in g for g in combined)]
    return [item.evaluate(row) for item in alone] + [one_element(g, row) for g in combined]


def evaluate(selections: dict[str, list[Item]], condition: str, row: dict[str, Any]) -> bool | None:
    truth: dict[str, bool] = {}
    for name, items in selections.items():
        outcomes = selection_outcomes(items, row)
        if any(o is None for o in outcomes):
            return None
        truth[name] = all(outcomes)
    expression = condition
    for name, value in truth.items():
        expression = re.sub(rf"\b{name}\b", str(value), expression)
    return bool(eval(expression))  # noqa: S307 - built here from names and and/or/not


def convert_one(text: str, source: Source) -> str | Exception:
    from sigma_azure_aks.batch import resolve_pipelines

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            backend = SentinelBackend(processing_pipeline=resolve_pipelines((source.pipeline,)))
            (query,) = backend.convert(SigmaCollection.from_yaml(text))
        except Exception as error:  # noqa: BLE001 - a refusal is an outcome
            return error
    return query


def run_differential(
    sources: list[Source], rng: random.Random, folder: Path, rules_per_source: int = 0
) -> tuple[dict[str, int], list[tuple[str, str, dict[str, Any], bool, bool]], list[str]]:
    """(counts, disagreements, what was covered) of the generated rules on the generated events."""
    from sigma_azure_aks.replay.engine import Engine

    totals = {"pairs": 0, "skipped": 0, "matched": 0, "rules": 0, "one_element": 0, "scanned": 0, "json_text": 0}
    disagreements: list[tuple[str, str, dict[str, Any], bool, bool]] = []
    covered: list[str] = []
    for source in sources:
        slots = slots_of(source)
        covered.append(f"{source.table} ({len(slots)} declared places)")
        events = make_events(rng, source, slots)
        rules = [make_rule(rng, source, slots, index) for index in range(rules_per_source or RULES_PER_SOURCE)]
        queries = []
        for text, _, _ in rules:
            outcome = convert_one(text, source)
            if isinstance(outcome, Exception):
                raise AssertionError(f"refused: {text}\n{outcome}")
            queries.append(outcome)
        rows = [table_row(source, event, index) for index, event in enumerate(events)]
        engine = Engine()
        engine.load(source.table, rows)
        outcomes = engine.matches_many(queries)
        # the one-pass scan of the same events written as an export: the same rows for every rule
        export = folder / f"{source.table}.jsonl"
        export.write_text("".join(json.dumps({"$table": source.table, **r}) + "\n" for r in rows), encoding="utf-8")
        scanned = Engine().scan_export(export, queries)
        if scanned is not None:
            totals["scanned"] += 1
            assert scanned.matches == outcomes, source.table
        for (text, selections, condition), query, outcome in zip(rules, queries, outcomes, strict=True):
            assert not isinstance(outcome, Exception), f"{query}: {outcome}"
            totals["rules"] += 1
            totals["one_element"] += sum(
                len(selection_outcomes(items, {})) < len(items) for items in selections.values()
            )
            totals["json_text"] += sum(_reads_json_text(source, item) for items in selections.values() for item in items)
            hits = set(outcome)
            for index, row in enumerate(events):
                expected = evaluate(selections, condition, row)
                if expected is None:
                    totals["skipped"] += 1
                    continue
                totals["pairs"] += 1
                totals["matched"] += expected
                if (index in hits) != expected:
                    disagreements.append((text, query, row, index in hits, expected))
    return totals, disagreements, covered


def _reads_json_text(source: Source, item: Item) -> bool:
    """Whether an item reads a member of a string column holding JSON text."""
    target = source.field_map.resolve(item.key.split("|")[0]) if source.field_map else None
    return target is not None and target.json_text and bool(target.path)


def test_declared_structures_agree_with_the_documented_semantics(report, tmp_path: Path) -> None:
    require_engine()
    totals, disagreements, covered = run_differential(declared_sources(), random.Random(SEED), tmp_path)
    report(
        f"structure differential: {totals['pairs']} (rule, event) pairs compared over {', '.join(covered)}; "
        f"{totals['rules']} rules (scale {SCALE}; {totals['one_element']} selections read in one element, "
        f"{totals['json_text']} items on JSON-text members), "
        f"{totals['matched']} of the pairs a match; {totals['skipped']} "
        f"pairs not compared (a number on a boolean member, text on an array or real member), "
        f"{len(disagreements)} disagreements; the export scan gave the same rows on {totals['scanned']} tables"
    )
    for text, query, row, ours, expected in disagreements[:6]:
        print(f"RULE {text}\nKQL {query}\nEVENT {json.dumps(row)}\nours={ours} expected={expected}\n")
    assert totals["pairs"] >= 1000 * SCALE
    assert 0.05 * totals["pairs"] < totals["matched"] < 0.95 * totals["pairs"]
    assert totals["one_element"] > 0
    assert totals["json_text"] > 0 or not any(p.json_text for s in declared_sources() for p in s.field_map.prefixes)  # type: ignore[union-attr]
    assert not disagreements


def test_every_registered_declaration_is_generated() -> None:
    """A source registered with a structure, pairs, route or enumeration gets slots for each."""
    for source in declared_sources():
        field_map = source.field_map
        assert field_map is not None
        columns = {slot.column for slot in slots_of(source)}
        for structure in field_map.structures:
            assert structure.column in columns
        for enumeration in field_map.enumerations:
            assert enumeration.target in columns
        for route in field_map.routes:
            assert f"route {route.fields[0]}" in columns
        assert {c for c in field_map.objects if c in field_map.members} <= columns
        assert {p.column for p in field_map.prefixes if p.json_text} <= columns


def test_evaluator_is_not_the_target() -> None:
    """The evaluator's number rule: 1 equals 1 and 1.0, not 16 or 1.5; '1' also the number."""
    one = number_value(1)
    assert in_structure(one, 1) and in_structure(one, 1.0) and in_structure(one, "1")
    assert not in_structure(one, 16) and not in_structure(one, 1.5) and not in_structure(one, True)
    quoted = Value("1", "glob", re.escape("1"), plain="1")
    assert in_structure(quoted, 1) and not in_structure(quoted, 10)
    assert anywhere(Value("x", "glob", "x", plain="x"), {"user": {"roles": ["x"]}})
    assert not math.isnan(one.number)


def test_generated_structure_queries_parse(kql, report) -> None:
    """Every query of the generated rules is valid KQL for Microsoft's parser (against the schema)."""
    rng = random.Random(SEED)
    checked, errors = 0, []
    for source in declared_sources():
        slots = slots_of(source)
        make_events(rng, source, slots)
        for index in range(RULES_PER_SOURCE):
            text, _, _ = make_rule(rng, source, slots, index)
            query = convert_one(text, source)
            assert not isinstance(query, Exception), (text, query)
            checked += 1
            found = kql.errors(query)
            if found:
                errors.append((query, found))
    report(f"structure differential queries through Microsoft's KQL parser: {checked} queries, {len(errors)} with errors")
    assert not errors, errors[:3]


TOY = Source(
    table="ToyShapes",
    title="Toy shapes",
    schema={"TimeGenerated": "datetime", "EventId": "string", "Kind": "string", "Items": "dynamic",
            "Props": "dynamic", "Info": "dynamic", "Raw": "string"},
    logsources=(SigmaLogSource(product="toy", service="shapes"),),
    pipeline="toy_shapes",
    field_map=FieldMap(
        "ToyShapes",
        exact={"EventId": FieldTarget("EventId"), "Kind": FieldTarget("Kind"), "Items": FieldTarget("Items"),
               "Props": FieldTarget("Props"), "Info": FieldTarget("Info"), "raw": FieldTarget("Raw")},
        prefixes=(*member_prefixes({"Items": "dynamic", "Props": "dynamic", "Info": "dynamic"}),
                  *json_text_prefixes({"raw": "Raw"})),
        structures=(
            Structure("Items", members=("name", "count"), nested=MappingProxyType({"parts": ("label", "size")})),
            Structure("Props", kind="pairs", pair=("Name", "Value")),
        ),
        objects=frozenset({"Info"}),
        members=MappingProxyType({"Info": ("owner", "owner.upn", "owner.roles", "level")}),
        enumerations=(Enumeration("Kind", ("alpha", "beta")),),
        any_case=True,
    ),
    id_column="EventId",
    summary_columns=("TimeGenerated",),
)


def test_a_registered_source_is_covered(tmp_path: Path) -> None:
    """A source registered today has its structures, pairs, objects, enumerations and JSON-text
    columns generated."""
    require_engine()
    with registered(TOY):
        assert TOY in declared_sources()
        assert {slot.column for slot in slots_of(TOY)} == {"Items", "Props", "Info", "Kind", "Raw"}
        totals, disagreements, covered = run_differential([TOY], random.Random(SEED), tmp_path, 30)
    assert totals["pairs"] > 500 and totals["matched"] > 0
    assert not disagreements, disagreements[:2]
