"""Readers of raw diagnostic records shared by several sources (replay): Entra ID diagnostic records
read into rows through a source's field map."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .base import FieldMap, RawRecordReader


def diagnostic_reader(category: str, field_map: FieldMap, schema: Mapping[str, str]) -> RawRecordReader:
    """A reader of Entra ID diagnostic records (``{"records": [...]}`` from Event Hubs or a storage
    account) of one `category`: root fields and ``properties.*`` become columns through the field
    map (the same names the pipeline accepts); objects go into dynamic columns as they are and into
    string columns as JSON text."""

    def recognise(record: Mapping[str, Any]) -> bool:
        return str(record.get("category", "")).lower() == category.lower() and isinstance(
            record.get("properties"), Mapping
        )

    def to_row(record: Mapping[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {}
        names = [(f"properties.{key}", value) for key, value in record["properties"].items()]
        names += [(key, value) for key, value in record.items() if key != "properties"]
        for name, value in names:
            target = field_map.resolve(name)
            if target is None or target.is_member or target.column in row:
                continue
            if schema.get(target.column) != "dynamic" and isinstance(value, (Mapping, list)):
                value = json.dumps(value, ensure_ascii=False)
            row[target.column] = value
        row["Type"] = field_map.table
        return row

    return RawRecordReader(
        f"an Entra ID diagnostic record (category {category}, properties)",
        recognise,
        to_row,
        priority=2,
        keys=("category", "properties"),
    )
