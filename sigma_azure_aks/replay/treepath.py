"""Kusto's ``treepath()``, which duckdb-kql refuses, computed in DuckDB SQL.

``treepath(object)`` is every path expression of a dynamic value (Microsoft's documentation):
``treepath(parse_json('{"a":"b","c":123}'))`` is ``["['a']","['c']"]``, and an array's elements
all stand under the index ``[0]`` -- ``{"prop1":[1,2,3,4],"prop2":"value2"}`` gives
``["['prop1']","['prop1'][0]","['prop2']"]``, ``{"l":[100,"abcde",{"x":"y"}]}`` gives
``["['l']","['l'][0]","['l'][0]['x']"]``. Here: every node below the root, in document order
(depth first), each path once, at its first place. Where the documentation is silent:

* a key is written ``['key']`` with ``\\`` and ``'`` escaped by a backslash, as in a Kusto
  single-quoted string (no key the pipelines' patterns look for holds either);
* a value with no member or element (a string, a number, ``{}``, ``[]``, null, an absent member)
  gives ``[]``: its ``tostring()`` then holds no path, as the query expects of such a value.

Our queries call it as ``tostring(treepath(<member of a dynamic column>)) matches regex ...``
(the `aks_audit` pipeline's pod-spec presence: `hostPath`, `capabilities`). The rewrite
(:mod:`.kql_rewrite`) names each ``treepath(<argument>)`` by a hidden column
(:func:`tree_column`); :class:`TreePaths` fills it on a loaded table, a scan computes it in its
pass (:func:`treepath_sql`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

from .sql import ROW_COLUMN, sql_ident

TREE_PREFIX = f"{ROW_COLUMN}_tree_"
TreeHook = Callable[[str, str], None]  # told (table, argument KQL) of each treepath(argument)


def tree_column(argument: str) -> str:
    """The hidden column holding ``treepath(argument)`` (a name for the argument's text)."""
    return TREE_PREFIX + hashlib.sha256(argument.encode("utf-8")).hexdigest()[:16]


def recorder(found: dict[str, str]) -> TreeHook:
    """A hook recording each treepath() argument by its hidden column's name into `found`."""

    def record(_table: str, argument: str) -> None:
        found[tree_column(argument)] = argument

    return record


def treepath_sql(value: str) -> str:
    """SQL of ``treepath()`` of the JSON value `value`: a JSON array of path strings."""
    key = r"replace(replace(t.key, '\', '\\'), '''', '\''')"
    return (
        f"(WITH RECURSIVE t AS (SELECT id, parent, key, type FROM json_tree(TRY_CAST({value} AS JSON))), "
        "p(id, type, kp) AS (SELECT id, type, '' FROM t WHERE parent IS NULL UNION ALL "
        "SELECT t.id, t.type, p.kp || CASE WHEN p.type = 'ARRAY' THEN '[0]' "
        f"ELSE '[''' || {key} || ''']' END FROM t JOIN p ON t.parent = p.id) "
        "SELECT CAST(to_json(coalesce(list(kp ORDER BY first), CAST([] AS VARCHAR[]))) AS JSON) "
        "FROM (SELECT kp, min(id) AS first FROM p WHERE id > 0 GROUP BY kp))"
    )


class TreePaths:
    """The ``treepath()`` columns of the tables loaded in one database, filled on need."""

    def __init__(self, con: Any, kql: Any) -> None:
        self.con = con
        self._kql = kql
        self._ready: dict[str, set[str]] = {}

    def reset(self, table: str) -> None:
        """Rows were added to `table`: its columns are filled again on next need."""
        self._ready.pop(table, None)

    def ensure(self, table: str, arguments: Mapping[str, str]) -> None:
        """Fill the columns (name -> argument KQL) of `table` not filled since its last load."""
        ready = self._ready.setdefault(table, set())
        for name, argument in arguments.items():
            if name in ready:
                continue
            quoted = sql_ident(table)
            self.con.execute(f"ALTER TABLE {quoted} ADD COLUMN IF NOT EXISTS {sql_ident(name)} JSON")
            values = self._kql.to_sql(f"{table} | project {ROW_COLUMN}, v = {argument}")
            self.con.execute(
                f"UPDATE {quoted} SET {sql_ident(name)} = {treepath_sql('s.v')} FROM ({values}) AS s "
                f"WHERE {quoted}.{ROW_COLUMN} = s.{ROW_COLUMN}"
            )
            ready.add(name)
