"""The replay engine: KQL as our `sentinel` target writes it, run in-process on DuckDB.

`duckdb-kql` translates KQL to DuckDB SQL and refuses what it cannot translate. :class:`Engine`
wraps it behind a small interface (``load(table, rows)``, ``matches(query)``,
``matches_many(queries)``, ``scan_export(path, queries)``) and fills its gaps without changing
what a query means, by concern:

* :mod:`.kql_rewrite`: KQL text rewrites (IP ranges, ``\\uXXXX`` literals, ``isnotnull`` of a
  JSON member, full-row search);
* :mod:`.fulltext`: full-row keyword search (``* contains "x"``);
* :mod:`.columns`: Python values converted and inserted column-wise;
* :mod:`.exports`: Log Analytics exports read by DuckDB itself;
* :mod:`.scan`: one pass over an export running every query (:mod:`.ipmap`: its IP parses);
* :mod:`.sql`: SQL text helpers and the hidden columns' names.

Kusto string columns never hold null: :meth:`Engine.load` stores an absent string as ``""``.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..sources import TABLES, source_for_table
from .chains import chain_events
from .columns import insert_columns
from .errors import ReplayQueryError, engine_refusal, import_engine
from .exports import NotNative, export_plan, insert_export
from .fulltext import FullText, reads_text_columns
from .kql_rewrite import literal_ranges, rewrite_query, running_sum, running_sum_sql, statements
from .scan import ExportScan, scan
from .sql import (
    COMBO_COLUMN,
    ROW_COLUMN,
    ROWTEXT_COLUMN,
    SQL_TYPES,
    hit_lists,
    needs_text,
    sql_ident,
    sql_text,
    text_column,
)
from .treepath import TreePaths, recorder

__all__ = ["Engine", "ExportScan", "ReplayQueryError"]


class Engine:
    """An in-process KQL engine holding one DuckDB database of loaded tables."""

    def __init__(self, memory_limit: str | None = None) -> None:
        """`memory_limit` (DuckDB's notation, e.g. ``1GB``): DuckDB keeps within it and spills to
        a temporary folder of its own, removed on :meth:`close`; None: DuckDB's default."""
        self._kql = import_engine()
        self.con = self._kql.connect()
        self._spill: str | None = None
        if memory_limit is not None:
            self._spill = tempfile.mkdtemp(prefix="sigma-azure-aks-replay-")
            # removed on close(), or when the engine is collected, or at exit at the latest
            self._remove_spill = weakref.finalize(self, shutil.rmtree, self._spill, True)
            self.con.execute(f"SET memory_limit = {sql_text(memory_limit)}")
            self.con.execute(f"SET temp_directory = {sql_text(self._spill)}")
        self.row_counts: dict[str, int] = {}
        self._constant_columns: dict[str, dict[str, str]] = {}  # table -> column -> its constant
        self.fulltext = FullText(self.con, self._kql)
        self.treepaths = TreePaths(self.con, self._kql)

    # ---- loading ----
    def load(self, table: str, rows: Iterable[Mapping[str, Any]]) -> int:
        """Append rows (column -> value) to `table`; columns not in the table are ignored.

        Returns the number of rows now in the table. Row numbers (0-based, in load order) are what
        :meth:`matches` returns.
        """
        names = list(TABLES[table])
        rows = list(rows)
        columns = {name: [row.get(name) for row in rows] for name in names}
        return self.load_columns(table, columns, len(rows))

    def _create(self, table: str, constants: Mapping[str, str] | None = None) -> int:
        """The table, created on first use; returns its row count. `constants` (column -> SQL of
        a constant): columns computed from their constant rather than stored, when this call
        creates the table (see :meth:`_for_load`)."""
        start = self.row_counts.get(table)
        if start is None:
            schema = TABLES[table]
            constants = dict(constants or {})

            def column_sql(name: str, kind: str) -> str:
                typed = f'"{name}" {SQL_TYPES.get(kind, "VARCHAR")}'
                return f"{typed} GENERATED ALWAYS AS ({constants[name]}) VIRTUAL" if name in constants else typed

            columns_sql = ", ".join(column_sql(n, k) for n, k in schema.items())
            text_sql = "".join(f', "{text_column(n)}" VARCHAR' for n, k in schema.items() if needs_text(k))
            self.con.execute(
                f'CREATE TABLE IF NOT EXISTS "{table}" ({ROW_COLUMN} BIGINT, {columns_sql}{text_sql}, '
                f"{COMBO_COLUMN} BIGINT, {ROWTEXT_COLUMN} VARCHAR)"
            )
            self._constant_columns[table] = constants
            start = self.row_counts[table] = 0
            self.fulltext.add_table(table)
        return start

    def _for_load(self, table: str, constants: Mapping[str, str] | None = None) -> tuple[int, frozenset[str]]:
        """Before rows are added to `table`: (its row count, the columns the rows must leave out).

        A table its first load creates computes the columns that load does not fill (`constants`:
        the columns an export lacks, each '' or null for every row) instead of storing a value a
        row for each: a 1,000,000-row SigninLogs export fills 10 of its 77 columns, and storing the
        others took most of its load's time and memory. A later load may fill them: they are
        stored first, each row holding its constant."""
        created = table not in self.row_counts
        start = self._create(table, constants)
        if created:
            return start, frozenset(self._constant_columns[table])
        computed = self._constant_columns[table]
        for name, constant in computed.items():
            kind = SQL_TYPES.get(TABLES[table][name], "VARCHAR")
            self.con.execute(f'ALTER TABLE "{table}" DROP COLUMN {sql_ident(name)}')
            self.con.execute(f'ALTER TABLE "{table}" ADD COLUMN {sql_ident(name)} {kind} DEFAULT {constant}')
        computed.clear()
        return start, frozenset()

    def load_columns(self, table: str, columns: Mapping[str, Sequence[Any]], count: int) -> int:
        """Append `count` rows given column-wise (column -> values); absent columns are empty.

        The fast path for large inputs (see :func:`~.columns.insert_columns`); values are
        converted as in :meth:`load`.
        """
        start, _ = self._for_load(table)
        combo, combos = insert_columns(
            self.con, table, start, columns, count, self.fulltext.combo_base(table)
        )
        self.fulltext.add_segment(table, start, count, combo, combos)
        self.treepaths.reset(table)
        self.row_counts[table] = start + count
        return start + count

    def load_export(self, path: str | Path) -> tuple[str, int] | None:
        """Load a Log Analytics export of one table (CSV, or JSON lines) with DuckDB reading the
        file itself: the rows and values :func:`~sigma_azure_aks.replay.loaders.read_events` and
        :meth:`load` would give, without a Python value per cell. Returns (table, rows now in the
        table), or None, having loaded nothing, when the file is not such an export (raw records,
        a JSON array, a row the native path would not read alike, ...): read it with the loaders.

        The rows are inserted straight from the file in one statement, each with a flag for
        whether it is plain (of the table the first row names, values of the expected JSON
        types); in one transaction with a check of those flags, undone when any row is not."""
        import duckdb

        try:
            plan = export_plan(self.con, Path(path))
            base = self.fulltext.combo_base(plan.table)
            start, count, combo, combos = insert_export(self.con, plan, self._for_load, base)
        except (NotNative, duckdb.Error):
            return None
        self.fulltext.add_segment(plan.table, start, count, combo, combos)
        self.treepaths.reset(plan.table)
        self.row_counts[plan.table] = start + count
        return plan.table, start + count

    def scan_export(
        self,
        path: str | Path,
        queries: Sequence[str],
        columns: Callable[[str], Sequence[str]] | Sequence[str] = (),
        on_progress: Callable[[float], None] | None = None,
    ) -> ExportScan | None:
        """Run `queries` on a Log Analytics export file in one pass over it, loading nothing: each
        row is read from the file, typed as :meth:`load_export` types it, and every query's
        condition evaluated on it in that same pass; only which queries each row matched is
        kept, with `columns` of the rows some query matched. Row numbers are 0-based in file
        order. A query on another table matches nothing here; a query the engine cannot run
        gives its ReplayQueryError. `columns` may be a function of the file's table. Returns None,
        having run nothing, when the file is not such an export (see :meth:`load_export`): read
        it with the loaders. `on_progress(share)` is told how much of the pass is done."""
        import duckdb

        try:
            plan = export_plan(self.con, Path(path))
        except (NotNative, duckdb.Error):
            return None
        return scan(self.con, self._kql, plan, queries, columns, on_progress)

    def sql(self, query: str) -> str:
        """The DuckDB SQL for a KQL query of ours, gaps bridged; raises ReplayQueryError."""
        table, _ = rewrite_query(query)
        # Nothing loaded: any faithful form will do (the per-column disjunction).
        loaded = table in self.row_counts
        trees: dict[str, str] = {}
        _, text = rewrite_query(
            query,
            self.fulltext.star_sql if loaded else None,
            recorder(trees),
        )
        if reads_text_columns(text):
            self.fulltext.ensure(table)
        try:
            sql = str(self._kql.to_sql(text))
            if loaded:
                self.treepaths.ensure(table, trees)
        except self._kql.KqlError as error:
            raise engine_refusal(error) from error
        return sql

    def matches(self, query: str) -> list[int]:
        """Row numbers of the rows the query returns, in load order."""
        table, _ = rewrite_query(query)
        if table not in self.row_counts:
            return []
        sql = self.sql(query)
        rows = self.con.execute(f"SELECT {ROW_COLUMN} FROM ({sql}) ORDER BY 1").fetchall()
        return [r[0] for r in rows]

    def matches_many(self, queries: Sequence[str]) -> list[list[int] | ReplayQueryError]:
        """Row numbers for each query, run as one statement; a refused query gives its error."""
        results: list[list[int] | ReplayQueryError] = []
        parts: list[tuple[int, str]] = []
        for index, query in enumerate(queries):
            try:
                table, _ = rewrite_query(query)
                sql = self.sql(query)
            except ReplayQueryError as error:
                results.append(error)
                continue
            results.append([])
            if table in self.row_counts:
                parts.append((index, sql))
        if not parts:
            return results
        union = " UNION ALL ".join(
            f"SELECT {index} AS q, {ROW_COLUMN} AS r FROM ({sql})" for index, sql in parts
        )
        for index, rows in hit_lists(self.con, union):
            results[index] = rows
        return results

    def alerts(self, plan: Any, evidence: bool = False) -> list[dict[str, Any]]:
        """The alert rows of a correlation rule's plan (:mod:`sigma_azure_aks.correlation`) on the
        loaded events: the query the rule deploys (with `evidence`, its form listing each window's
        events), each base rule's query bridged as :meth:`sql` bridges it. Each `let` statement is
        kept as a temporary table the next ones read; a running sum
        (``sort by`` then ``row_cumsum``) runs as SQL's window sum (:func:`.kql_rewrite.running_sum`)."""
        for table in plan.tables:
            self._create(table)
        text = plan.render(self._bridged, evidence)
        schema = {
            table: [row[0] for row in self.con.execute(f'DESCRIBE "{table}"').fetchall()] for table in plan.tables
        }
        try:
            for name, expression in statements(text):
                sql = self._statement_sql(expression, schema)
                if name is None:
                    cursor = self.con.execute(sql)
                    names = [column[0] for column in cursor.description]
                    rows = cursor.fetchall()
                    break
                self.con.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {sql}')
                schema[name] = [row[0] for row in self.con.execute(f'DESCRIBE "{name}"').fetchall()]
            else:
                raise ReplayQueryError("the correlation query has no result statement")
        except ReplayQueryError:
            raise
        except Exception as error:  # duckdb-kql's refusal, or DuckDB's
            raise ReplayQueryError(f"the replay engine cannot run this correlation: {error}") from error
        return [dict(zip(names, row, strict=True)) for row in rows]

    def events_between(
        self,
        groups: Sequence[str],
        spans: Sequence[tuple[Mapping[str, Any], Any, Any]],
        cap: int,
        table: str = "sigma_events",
    ) -> list[tuple[list[str], int]]:
        """For each (group keys, first time, last time): the ids of the distinct events of the
        last correlation run (:meth:`alerts`) of that group in that time range, read from its `let`
        `table` (the events a window counts), the earliest `cap` of them (by time, then id), and how
        many there are."""
        if not spans:
            return []
        columns = ["sigma_span", *groups, "sigma_low", "sigma_high"]
        values = [
            list(range(len(spans))),
            *([str(keys[g]) for keys, _, _ in spans] for g in groups),
            [low for _, low, _ in spans],
            [high for _, _, high in spans],
        ]
        selected = ", ".join(f'unnest(${n + 1}) AS "{c}"' for n, c in enumerate(columns))
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE sigma_spans AS SELECT {selected}", values)
        on = "".join(f' AND e."{g}" = s."{g}"' for g in groups)
        rows = self.con.execute(
            "SELECT sigma_span, list(sigma_event ORDER BY sigma_time, sigma_event) FILTER (WHERE sigma_rank <= ?), "
            "count(*) FROM (SELECT sigma_span, sigma_event, sigma_time, row_number() OVER "
            "(PARTITION BY sigma_span ORDER BY sigma_time, sigma_event) AS sigma_rank FROM "
            "(SELECT DISTINCT s.sigma_span, e.sigma_event, min(e.sigma_time) OVER "
            f'(PARTITION BY s.sigma_span, e.sigma_event) AS sigma_time FROM sigma_spans s JOIN "{table}" e '
            f"ON e.sigma_time BETWEEN s.sigma_low AND s.sigma_high{on})) GROUP BY sigma_span",
            [cap],
        ).fetchall()
        found = {span: (list(ids or []), total) for span, ids, total in rows}
        return [found.get(n, ([], 0)) for n in range(len(spans))]

    def chain_events(
        self,
        plan: Any,
        spans: Sequence[tuple[Mapping[str, Any], Any, Any]],
        cap: int,
        windows: Sequence[tuple[int, Any, Any]] | None = None,
    ) -> list[tuple[list[str], int]]:
        """:func:`.chains.chain_events` on the tables the last :meth:`alerts` left."""
        return chain_events(self.con, plan, spans, cap, windows)

    def _statement_sql(self, expression: str, schema: dict[str, list[str]]) -> str:
        window = running_sum(expression)
        rows = literal_ranges(window[0] if window is not None else expression)
        sql = str(self._kql.to_sql(rows, schema=schema))
        # duckdb-kql sorts a dynamic array by the JSON text of its elements (10 before 2.5);
        # Kusto sorts numbers as numbers. The only array a correlation sorts holds reals.
        sql = sql.replace(_JSON_SORT, _NUMBER_SORT)
        if window is None:
            return sql
        _, order, sums = window
        kind = dict(self.con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {sql})").fetchall())
        typed = [(name, column, str(kind.get(column, "")).upper() in _INTEGER_TYPES) for name, column in sums]
        return running_sum_sql(sql, order, typed)

    def _bridged(self, query: str) -> str:
        """A base rule's query, gaps bridged as :meth:`sql` bridges them (the table is loaded)."""
        table, _ = rewrite_query(query)
        trees: dict[str, str] = {}
        _, text = rewrite_query(query, self.fulltext.star_sql, recorder(trees))
        if reads_text_columns(text):
            self.fulltext.ensure(table)
        self.treepaths.ensure(table, trees)
        return text

    def fetch(self, table: str, row_ids: Sequence[int], columns: Sequence[str]) -> dict[int, dict[str, Any]]:
        """Selected columns of some rows (the events of correlation alerts, for reports)."""
        if not row_ids or table not in self.row_counts:
            return {}
        cols = ", ".join(f'"{c}"' for c in columns)
        rows = self.con.execute(
            f'SELECT {ROW_COLUMN}, {cols} FROM "{table}" WHERE {ROW_COLUMN} IN (SELECT unnest(?))',
            [list(row_ids)],
        ).fetchall()
        return {r[0]: dict(zip(columns, r[1:], strict=True)) for r in rows}

    def rows_with_ids(self, table: str, ids: Sequence[str]) -> list[int]:
        """Row numbers of the rows of `table` whose id column (its source's) is one of `ids`."""
        source = source_for_table(table)
        if not ids or table not in self.row_counts or source is None or source.id_column is None:
            return []
        rows = self.con.execute(
            f'SELECT {ROW_COLUMN} FROM "{table}" WHERE CAST("{source.id_column}" AS VARCHAR) IN '
            "(SELECT unnest(?)) ORDER BY 1",
            [list(ids)],
        ).fetchall()
        return [row[0] for row in rows]

    def close(self) -> None:
        self.con.close()
        if self._spill is not None:
            self._remove_spill()


# duckdb-kql sorts a dynamic array by the JSON text of its elements (10 before 2.5); Kusto sorts
# numbers as numbers. The only array a correlation sorts holds reals (see Engine.alerts).
_JSON_SORT = 'to_json(list_sort(CAST(to_json("sigma_values") AS JSON[])))'
_NUMBER_SORT = 'to_json(list_sort(CAST(to_json("sigma_values") AS DOUBLE[])))'
_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
