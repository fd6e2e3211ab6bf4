"""SQL text helpers and the names of the replay tables' hidden columns (no DuckDB import)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

ROW_COLUMN = "__replay_row"  # each row's number, 0-based in load (or file) order
# Full-row search (`* contains "x"`), read from text built on first need: each column's text form
# (what `contains` reads of it), lower-cased as DuckDB's ILIKE lower-cases, joined by a separator.
# Columns loaded as one code per row for their combination of values (see columns.insert_columns) are
# joined once per combination in a side table; the others per row in a hidden column.
ROWTEXT_COLUMN = f"{ROW_COLUMN}_rowtext"
COMBO_COLUMN = f"{ROW_COLUMN}_combo"

SQL_TYPES = {
    "string": "VARCHAR",
    "dynamic": "JSON",
    "datetime": "TIMESTAMP",
    "real": "DOUBLE",
    "long": "BIGINT",
    "int": "INTEGER",
    "bool": "BOOLEAN",
}


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def text_column(column: str) -> str:
    """The hidden column holding a non-string column's Kusto string form (``tostring()``)."""
    return f"{ROW_COLUMN}_text_{column}"


def needs_text(kind: str) -> bool:
    return kind not in {"string", "dynamic"}


def hit_lists(con: Any, pairs_sql: str) -> list[tuple[int, list[int]]]:
    """(query, its rows in order) for each query with hits, from SQL of (q, r) pairs."""
    return con.execute(f"SELECT q, list(r ORDER BY r) FROM ({pairs_sql}) GROUP BY q").fetchall()


_ORDER_KEEPING = {"PROJECTION", "READ_CSV", "READ_CSV_AUTO", "READ_NDJSON_OBJECTS", "READ_JSON_OBJECTS", "READ_JSON"}


def keeps_order(con: Any, sql: str) -> bool:
    """Whether DuckDB plans `sql` as scans and projections only, which store rows in the order
    the file holds them (a join, say, need not)."""
    (_, plan), *_ = con.execute(f"EXPLAIN (FORMAT JSON) {sql}").fetchall()

    def walk(node: Mapping[str, Any]) -> bool:
        return node.get("name") in _ORDER_KEEPING and all(walk(c) for c in node.get("children", []))

    return all(walk(node) for node in json.loads(plan))
