"""How a correlation reads a group-by or value field from one event of a source: one KQL
expression giving one value per event, or a refusal saying why the field has no such value.

A correlation puts each event into the group of its key values; that needs exactly one value per
event. What the source declares decides it:

* a column, or a member of a dynamic column (an object member too): the value, read as the base
  rules read it;
* a key of a key/value-pair column (``AdditionalDetails.<key>``, ``OperationProperties.<Name>``):
  the value of the first pair with that key (keys compared ignoring case, as rule values on them
  are); an event without that key is in no group;
* a list (an array column, a member of an array of objects such as
  ``TargetResources.userPrincipalName``, a whole array or pair column): refused, since one event
  would stand in several groups at once;
* a whole structure that is one object (``InitiatedBy``), or a field read through a value route
  (``Status``): refused, naming what to group by instead.
"""

from __future__ import annotations

from typing import Any

from . import kql
from .messages import no_column_text
from .pipelines.arrays import pair_value_regexes
from .sources.nearest import nearest_fields


class UnkeyableField(ValueError):
    """The field gives no single value per event on this source (the message says why)."""


def is_list_valued(source: Any, field_name: str) -> bool:
    """Whether the field holds a list on this source (one event, many values), as the source
    declares it (every source: array targets, arrays of objects, pair columns)."""
    return bool(source.is_list_valued(field_name))


def event_value(source: Any, field_name: str) -> str:
    """The KQL expression of the field's one value in an event of `source`; UnkeyableField when
    the field has none (a list, a whole structure, a value route) or the table has no such field."""
    fields = source.field_map
    table = source.table
    route = fields.route(field_name)
    if route is not None:
        raise UnkeyableField(
            f"is read by its meaning on {table} ({route.note}), not as one value; group by (or count) "
            f"{' or '.join(route.other)} instead"
        )
    target = fields.resolve(field_name)
    if target is None:
        raise UnkeyableField(no_column_text(table, nearest_fields(fields, field_name)))
    structure = fields.structure(target.column)
    if is_list_valued(source, field_name):
        raise UnkeyableField(f"holds a list in {table} ({_list_shape(structure, target)}); {_ONE_VALUE}")
    if structure is not None and not target.path:
        raise UnkeyableField(
            f"is a whole structure in {table} ({structure.column}, one object); {_ONE_VALUE}: name one of "
            f"its members ({structure.column}.<member>)"
        )
    if structure is not None and structure.kind == "pairs":
        return pair_value(target.column, ".".join(target.path), structure.pair)
    return target.kql()


_ONE_VALUE = (
    "a correlation groups each event by one value, so it cannot be a key or a counted value. "
    "Use a field with one value per event"
)


def _list_shape(structure: Any, target: Any) -> str:
    if structure is None:
        return "an array: any element matches a rule value"
    if structure.kind == "pairs":
        return f"an array of {'/'.join(structure.pair)} pairs: group by one key, {structure.column}.<key>"
    if target.path:
        return f"a member of every element of {structure.column}, an array of objects"
    return f"{structure.column} is an array of objects"


def pair_value(column: str, key: str, pair: tuple[str, str]) -> str:
    """The value of the first pair whose key is `key` in a pair column, as a string ("" when no
    pair has that key, or its value is null). Log Analytics writes every pair of a column with its
    members in one order; the key-first order is tried first, then the value-first one."""
    text = f"tostring({column})"
    key_first, value_first = (
        f"extract({kql.string_literal(pattern)}, 1, {text})" for pattern in pair_value_regexes(key, pair)
    )
    return f"tostring(parse_json(iff(isnotempty({key_first}), {key_first}, {value_first})))"
