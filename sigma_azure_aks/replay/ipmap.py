"""A scan's IP address parses, each computed once per distinct address (:func:`hoist_ip_calls`).

duckdb-kql writes ``parse_ipv4(x)`` and ``parse_ipv6(x)`` (what the IP-range rewrite of
:mod:`.kql_rewrite` calls) as correlated subqueries, which DuckDB answers by joining the rows with
the distinct values of `x`, the rows' other columns carried along: slow, and the largest memory of
a scan. A scan instead computes each such call on a column once per distinct value of that
column, into a small table of its own, by duckdb-kql's own translation of the same call (so
the values are exactly its), and the conditions read it as a hidden column of the rows joined
with that table on the column's value (:func:`ip_view`).

Text only until :func:`ip_view`, which runs SQL on the connection it is given.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from typing import Any

from .kql_rewrite import kql_tokens
from .sql import ROW_COLUMN, sql_ident

IP_FUNCTIONS = ("parse_ipv4", "parse_ipv6")
IP_PREFIX = f"{ROW_COLUMN}_ip_"
IpCalls = dict[str, tuple[str, str]]  # hidden column -> (function, column it parses)


def ip_column(function: str, column: str) -> str:
    """The hidden column holding ``function(column)``."""
    digest = hashlib.sha256(f"{function}({column})".encode()).hexdigest()[:16]
    return f"{IP_PREFIX}{digest}"


def hoist_ip_calls(condition: str, columns: Collection[str]) -> tuple[str, IpCalls]:
    """(`condition` with each ``parse_ipv4(c)`` / ``parse_ipv6(c)`` of a column `c` in `columns`
    written as its hidden column, those hidden columns). Calls on anything but a bare column are
    left as they are; so is text inside string literals."""
    tokens = kql_tokens(condition)
    out: list[str] = []
    calls: IpCalls = {}
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        if kind == "ident" and text in IP_FUNCTIONS:
            shape = [t for t in tokens[i + 1 : i + 8] if t[0] != "ws"][:3]
            if (
                len(shape) == 3
                and shape[0] == ("punct", "(")
                and shape[1][0] == "ident"
                and shape[1][1] in columns
                and shape[2] == ("punct", ")")
            ):
                name = ip_column(text, shape[1][1])
                calls[name] = (text, shape[1][1])
                out.append(name)
                close = i + 1
                while tokens[close] != ("punct", ")"):
                    close += 1
                i = close + 1
                continue
        out.append(text)
        i += 1
    return "".join(out), calls


def ip_view(con: Any, kql: Any, rows: str, view: str, calls: Mapping[str, tuple[str, str]]) -> list[str]:
    """Create the temporary view `view`: the rows of `rows` (a table or view) with each hidden
    column of `calls`, each computed once per distinct value of its column in a table of its
    own. Returns the tables made (to drop after the view)."""
    by_column: dict[str, dict[str, str]] = {}
    for name, (function, column) in calls.items():
        by_column.setdefault(column, {})[name] = function
    tables: list[str] = []
    selects = ["r.*"]
    joins = []
    for number, (column, names) in enumerate(sorted(by_column.items())):
        values, table = f"{view}_values{number}", f"{view}_map{number}"
        quoted = sql_ident(column)
        con.execute(f'CREATE OR REPLACE TEMP TABLE "{values}" AS SELECT DISTINCT {quoted} FROM "{rows}"')
        tables.append(values)
        extend = ", ".join(f"{name} = {function}({column})" for name, function in sorted(names.items()))
        sql = kql.to_sql(f"{values} | extend {extend}")
        con.execute(f'CREATE OR REPLACE TEMP TABLE "{table}" AS {sql}')
        tables.append(table)
        alias = f"m{number}"
        selects.extend(f"{alias}.{sql_ident(name)}" for name in sorted(names))
        joins.append(f'LEFT JOIN "{table}" AS {alias} ON r.{quoted} IS NOT DISTINCT FROM {alias}.{quoted}')
    con.execute(
        f'CREATE OR REPLACE TEMP VIEW "{view}" AS SELECT {", ".join(selects)} FROM "{rows}" AS r {" ".join(joins)}'
    )
    return tables
