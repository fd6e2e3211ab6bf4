"""Raw Azure records (not Log Analytics rows) as replay reads them: how a source declares a kind
of record it reads (:class:`RawRecordReader`), and the reader of Entra ID diagnostic records, whose
column paths each source declares as data (:func:`.base.diagnostic_paths`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


def nested_value(record: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted path of a JSON record, or None."""
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


@dataclass(frozen=True)
class RawRecordReader:
    """How replay reads one kind of raw Azure record (not a Log Analytics row) into a row.

    `recognise(record)` says whether a record is of this kind, by its category and shape;
    `to_row(record)` gives the row (it may raise ValueError for a record that is of this kind but
    does not read). `keys` are root keys every record of this kind has (the export scan leaves a
    file whose rows have them all to the readers). `write(row)` is the inverse of `to_row`: a
    record of this kind holding a row's values, on the columns the kind carries (replay's tests
    write every input format of every source with it). When two readers recognise a record, the
    one with the higher `priority` reads it. `envelope`: the key of the list that holds such
    records in an export file (``{"Records": [...]}`` for CloudTrail). `fixed`: the columns a row
    read from this kind does not take from the record, with the value every such row holds (the
    connector's own: Duo's `eventtype_s` names the log it polled; None: a column this kind never
    fills), so that `write` is the inverse of `to_row` on the rows holding them. `split`: for a kind whose
    record holds several rows (a Google Workspace activity, one row per event), the records that
    each hold one, which replay reads in its place (none: every record is one row)."""

    description: str
    recognise: Callable[[Mapping[str, Any]], bool]
    to_row: Callable[[Mapping[str, Any]], dict[str, Any]]
    keys: frozenset[str]
    write: Callable[[Mapping[str, Any]], dict[str, Any]] | None
    priority: int = 0
    envelope: str = "records"
    fixed: Mapping[str, Any] = field(default_factory=dict)
    split: Callable[[Mapping[str, Any]], list[Mapping[str, Any]]] | None = None


def mapped_record(
    fields: Mapping[str, str], row: Mapping[str, Any], base: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The record that holds a row's values at the record paths `fields` ({dotted path: column})
    pairs them with (an inverse of a reader that reads each path into its column), over `base`
    (the keys a record of the kind always has)."""
    record: dict[str, Any] = dict(base or {})
    for dotted, column in fields.items():
        value = row.get(column)
        if value is not None and value != "":
            put(record, dotted, value)
    return record


def put(record: dict[str, Any], dotted: str, value: Any) -> None:
    """Set the value at a dotted path of a record, making the objects on the way."""
    *heads, last = dotted.split(".")
    for head in heads:
        record = record.setdefault(head, {})
    record[last] = value


def record_value(record: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    """(found, value) at a dotted path of a record, each name matched in any case (diagnostic
    records write ``Level`` and ``level``, ``riskEventTypes_v2`` for ``RiskEventTypes_V2``)."""
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return False, None
        if part in value:
            value = value[part]
            continue
        key = next((k for k in value if isinstance(k, str) and k.lower() == part.lower()), None)
        if key is None:
            return False, None
        value = value[key]
    return True, value


def diagnostic_reader(
    category: str, table: str, schema: Mapping[str, str], paths: Mapping[str, tuple[str, ...]]
) -> RawRecordReader:
    """A reader of Entra ID diagnostic records (``{"records": [...]}`` from Event Hubs or a storage
    account) of one `category` into rows of `table`: each column takes the value at the first of
    its `paths` (:func:`diagnostic_paths`) the record has; objects go into dynamic columns as they
    are and into string columns as JSON text."""

    def recognise(record: Mapping[str, Any]) -> bool:
        return str(record.get("category", "")).lower() == category.lower() and isinstance(
            record.get("properties"), Mapping
        )

    def to_row(record: Mapping[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for column, candidates in paths.items():
            for path in candidates:
                found, value = record_value(record, path)
                if not found:
                    continue
                if schema[column] != "dynamic" and isinstance(value, (Mapping, list)):
                    value = json.dumps(value, ensure_ascii=False)
                row[column] = value
                break
        row["Type"] = table
        return row

    def write(row: Mapping[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {"category": category, "properties": {}}
        for column, value in row.items():
            if column in paths:
                put(record, paths[column][0], value)
        return record

    return RawRecordReader(
        f"an Entra ID diagnostic record (category {category})",
        recognise,
        to_row,
        frozenset({"category", "properties"}),
        write,
        priority=2,
    )
