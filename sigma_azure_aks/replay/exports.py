"""Native reading of Log Analytics exports (CSV, JSON lines): DuckDB reads the file itself.

:func:`export_plan` writes, in SQL over the file, the typed rows of its table as
:func:`~sigma_azure_aks.replay.loaders.read_events` and the engine's load of Python values would
give them, with a check per row that it is plain (read alike by both); a file that is not such an
export raises :class:`NotNative` (read it with the loaders). :func:`insert_export` loads a plan;
:mod:`.scan` runs queries over one without loading it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..sources import TABLES
from .rows import (
    column_name,
    datetime_sql,
    may_hold_raw_records,
    table_of_row,
)
from .sql import COMBO_COLUMN, ROW_COLUMN, ROWTEXT_COLUMN, SQL_TYPES, keeps_order, sql_ident, sql_text


def _blank(text: str) -> str:
    return f"regexp_matches({text}, '^\\s*$')"


_COMBO_SAMPLE = 2_000  # rows of an export judged for combinations


@dataclass(frozen=True)
class ExportPlan:
    """An export file read as rows of `table`: `select` holds, per column of the table in schema
    order, the SQL of its typed value over `source`; `checks` the SQL conditions that a row is
    plain (read alike by the loaders), those of the row as a whole, `column_checks` those of one
    column's value; `raw` the SQL of each present column's raw value."""

    source: str
    table: str
    raw: Mapping[str, str]
    select: Sequence[str]
    checks: Sequence[str]
    column_checks: Mapping[str, str] = field(default_factory=dict)

    @property
    def plain(self) -> str:
        """SQL: the row passes every check (false, not null, when one is null)."""
        return self.plain_in(self.column_checks)

    def plain_in(self, columns: Iterable[str], whole_row: bool = True) -> str:
        """SQL: the row passes the checks of `columns` (and, with `whole_row`, of the row)."""
        checks = [*(self.checks if whole_row else ()), *(self.column_checks[n] for n in columns if n in self.column_checks)]
        return f"coalesce({' AND '.join(f'({c})' for c in checks) or 'true'}, false)"


# The type json_type() names of a JSON value whose text starts with the character; a text starting
# with any other (a number: BIGINT, UBIGINT or DOUBLE) is typed by json_type(), which parses it
_TYPE_OF_FIRST_CHARACTER = {'"': "VARCHAR", "n": "NULL", "t": "BOOLEAN", "f": "BOOLEAN", "{": "OBJECT", "[": "ARRAY"}


def json_type_in(expr: str, kinds: Sequence[str]) -> str:
    """SQL: ``coalesce(json_type(expr), 'NULL') IN kinds`` for a JSON `expr`, the same answer with
    no parse of a value whose first character names its type (a string, null, a boolean, an
    object, an array): a column's check on every row of a file costs a comparison."""
    whens = " ".join(
        f"WHEN {sql_text(first)} THEN {'true' if kind in kinds else 'false'}"
        for first, kind in _TYPE_OF_FIRST_CHARACTER.items()
    )
    listed = ", ".join(map(sql_text, kinds))
    return f"CASE left(CAST({expr} AS VARCHAR), 1) {whens} ELSE coalesce(json_type({expr}), 'NULL') IN ({listed}) END"


class NotNative(Exception):
    """The file is not a plain export the native path reads exactly as the loaders do."""


def _csv_head(path: Path) -> tuple[list[str], dict[str, Any]]:
    """The CSV's column names and first row as the loaders read them."""
    try:
        with path.open(encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            row = next(reader, None)
    except (UnicodeDecodeError, csv.Error) as error:  # the loaders say why, in one line
        raise NotNative from error
    if row is None or len(row) > len(header):
        raise NotNative
    return header, dict(zip(header, row, strict=False))


def _first_json_line(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8-sig") as handle:
            line = next((line for line in handle if line.strip()), None)
        record = json.loads(line) if line is not None else None
    except ValueError as error:  # not UTF-8 (UnicodeDecodeError) or not JSON: the loaders say why
        raise NotNative from error
    if not isinstance(record, dict):
        raise NotNative
    return record


def _export_source(con: Any, path: Path) -> tuple[str, dict[str, str], bool, dict[str, Any], str]:
    """(FROM clause, column -> SQL of its raw value, values are JSON, first row, SQL: row plain)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096).decode("utf-8", errors="replace").lstrip("\ufeff").lstrip()
    except OSError as error:
        raise NotNative from error
    if not head or head[0] == "[":
        raise NotNative
    file = sql_text(str(path))
    if head[0] == "{":
        first = _first_json_line(path)
        objects = f"read_ndjson_objects({file})"
        # one parse per line (a line that is not an object fails the read below): the first
        # line's key list, then the distinct others (few: rows of one table share their keys;
        # a line's list compared with the first's costs less than its hash for the DISTINCT)
        head = [str(k) for k in first]
        query = f"SELECT DISTINCT k FROM (SELECT json_keys(json) AS k FROM {objects}) WHERE k IS DISTINCT FROM ?"
        lists = [head, *(listed for (listed,) in con.execute(query, [head]).fetchall())]
        keys = list(dict.fromkeys(k for listed in lists for k in listed or ()))
        if not keys or any('"' in k or "\\" in k for k in keys):
            raise NotNative
        if len({k.lower() for k in keys}) < len(keys):  # DuckDB's names ignore case: not read alike
            raise NotNative
        # each line parsed once into the file's keys as JSON values (a line that is not an
        # object is DuckDB's error: not native); an absent key reads as null
        declared = ", ".join(f"{sql_text(k)}: 'JSON'" for k in keys)
        source = (
            f"read_json({file}, format = 'newline_delimited', records = true, "
            f"columns = {{{declared}}})"
        )
        return source, {k: sql_ident(k) for k in keys}, True, first, "true"
    header, first = _csv_head(path)
    source = (
        f"read_csv({file}, header = true, all_varchar = true, delim = ',', quote = '\"', "
        "escape = '\"', strict_mode = true, null_padding = false, normalize_names = false)"
    )
    names = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    if names != header:  # DuckDB renamed a column (a duplicate, say): not read alike
        raise NotNative
    return source, {k: sql_ident(k) for k in names}, False, first, "true"


def export_plan(con: Any, path: Path) -> ExportPlan:
    """How the rows of an export file read as typed rows of their table, in SQL."""
    source, raw, as_json, first, row_ok = _export_source(con, path)

    if may_hold_raw_records(set(raw)):  # the sources' raw record readers read such rows
        raise NotNative
    mapped: dict[str, str] = {}
    for key, expr in raw.items():
        name = column_name(key)
        if name in mapped:
            raise NotNative
        mapped[name] = expr
    table = table_of_row({column_name(k): v for k, v in first.items()})
    if table is None:
        raise NotNative

    def text(expr: str) -> str:  # a JSON value's text: strings as they are
        return f"({expr} ->> '$')" if as_json else expr

    def jtype(expr: str, *kinds: str) -> str:  # SQL: the JSON value's type is one of `kinds`
        return json_type_in(expr, kinds)

    # a pattern, not IN: DuckDB plans a long IN list (or list_contains) as a join, which need not
    # keep file order; table names are plain identifiers
    known = sql_text("|".join(TABLES))
    named = [text(mapped[k]) for k in ("$table", "Type") if k in mapped]
    if not named:
        raise NotNative
    # the first of $table and Type that names a known table is `table`; the pattern is tried on
    # the rows that do not name `table` only (a row of the export's own table costs one equality)
    verdict = "false"
    for value in reversed(named):
        verdict = (
            f"CASE WHEN {value} = {sql_text(table)} THEN true "
            f"WHEN regexp_full_match({value}, {known}) THEN false ELSE {verdict} END"
        )
    checks = [row_ok, verdict]
    column_checks: dict[str, str] = {}
    schema = TABLES[table]
    select: list[str] = []
    for name, kind in schema.items():
        expr = mapped.get(name)
        sql_kind = SQL_TYPES.get(kind, "VARCHAR")
        if expr is None:
            if name == "Type":
                select.append(sql_text(table))
            else:
                select.append("''" if kind == "string" else f"CAST(NULL AS {sql_kind})")
            continue
        value = text(expr)
        if kind == "string":
            if as_json:
                column_checks[name] = jtype(expr, "NULL", "VARCHAR", "BOOLEAN", "BIGINT", "UBIGINT")
            else:  # the loaders read a CSV with universal newlines: CR LF and CR are LF
                value = (
                    f"CASE WHEN contains({value}, chr(13)) THEN replace(replace({value}, "
                    f"chr(13) || chr(10), chr(10)), chr(13), chr(10)) ELSE {value} END"
                )
            select.append(f"coalesce({value}, '')")
        elif kind == "dynamic":
            if as_json:
                select.append(
                    f"CASE WHEN {jtype(expr, 'NULL')} THEN NULL WHEN {jtype(expr, 'VARCHAR')} THEN "
                    f"CASE WHEN {_blank(value)} THEN NULL ELSE json({value}) END ELSE json({expr}) END"
                )
            else:
                select.append(
                    f"CASE WHEN {value} IS NULL OR {_blank(value)} THEN NULL ELSE json({value}) END"
                )
        elif kind == "datetime":
            if as_json:
                column_checks[name] = jtype(expr, "NULL", "VARCHAR")
            select.append(datetime_sql(value, strict=True))  # an error: the loaders say why
        elif kind in {"real", "long", "int"}:
            if as_json:
                column_checks[name] = jtype(expr, "NULL", "VARCHAR", "BIGINT", "UBIGINT", "DOUBLE")
            select.append(
                f"CASE WHEN {value} IS NULL OR {value} = '' THEN NULL ELSE CAST({value} AS {sql_kind}) END"
            )
        elif kind == "bool":  # JSON true/false, or their text in any case; other text: the loaders
            words = f"regexp_full_match({value}, '(?i)true|false')"
            if as_json:
                column_checks[name] = f"({jtype(expr, 'NULL', 'BOOLEAN')} OR {words})"
            else:
                column_checks[name] = f"({value} IS NULL OR {words})"
            select.append(f"CAST({value} AS BOOLEAN)")
        else:
            raise NotNative
    return ExportPlan(source, table, mapped, select, checks, column_checks)


def insert_export(
    con: Any,
    plan: ExportPlan,
    create: Callable[[str, Mapping[str, str]], tuple[int, frozenset[str]]],
    combo_base: int,
) -> tuple[int, int, tuple[str, ...], int]:
    """Insert the rows of an export, numbered from the first of `create(table, constants)` (the
    rows in the table; `constants`: the columns the file lacks, with the constant each row holds
    there, which the table may compute rather than store: the second, the columns left out);
    returns (first row, rows, columns sent as one combination code per row, combinations, coded
    from `combo_base`). Rows not plain: none inserted, NotNative."""
    source, table, mapped = plan.source, plan.table, plan.raw
    schema = TABLES[table]
    combo = _export_combinations(con, source, {n: mapped[n] for n in schema if n in mapped}, schema)
    constants = {n: sql for n, sql in zip(schema, plan.select, strict=True) if n not in mapped}
    start, computed = create(table, constants)
    quoted = f'"{table}"'
    new_rows = f"{ROW_COLUMN} IS NULL"
    # ROWTEXT_COLUMN (built on first need) carries each row's flag until the check;
    # COMBO_COLUMN a hash of the raw values of the combined columns until recoded below
    names = [n for n in schema if n not in computed] + [ROWTEXT_COLUMN]
    select = [sql for n, sql in zip(schema, plan.select, strict=True) if n not in computed]
    select.append(f"CASE WHEN {plan.plain} THEN NULL ELSE 'x' END")
    if combo:
        names.append(COMBO_COLUMN)
        select.append(f"CAST(hash({', '.join(mapped[n] for n in combo)}) >> 1 AS BIGINT)")
    rows_sql = f"SELECT {', '.join(select)} FROM {source}"
    if not keeps_order(con, rows_sql):  # row numbers follow the stored order
        raise NotNative
    con.execute(f"INSERT INTO {quoted} ({', '.join(map(sql_ident, names))}) {rows_sql}")
    try:
        count, bad = con.execute(
            f"SELECT count(*), count({ROWTEXT_COLUMN}) FROM {quoted} WHERE {new_rows}"
        ).fetchone()  # type: ignore[misc]
        if bad:
            raise NotNative
        # rows are appended in file order, their row ids follow it
        con.execute(
            f"UPDATE {quoted} SET {ROW_COLUMN} = rowid - (SELECT min(rowid) FROM {quoted} "
            f"WHERE {new_rows}) + {start} WHERE {new_rows}"
        )
    except BaseException:
        con.execute(f"DELETE FROM {quoted} WHERE {new_rows}")
        raise
    if combo:
        combo = _recode_combinations(con, quoted, combo, start, combo_base)
    combos = 0
    if combo:
        combos = int(
            con.execute(  # type: ignore[index]
                f"SELECT count(DISTINCT {COMBO_COLUMN}) FROM {quoted} WHERE {ROW_COLUMN} >= {start}"
            ).fetchone()[0]
        )
    return start, int(count), combo, combos


def _export_combinations(
    con: Any, source: str, raw: Mapping[str, str], schema: Mapping[str, str]
) -> tuple[str, ...]:
    """The columns to load as one combination code per row (as :func:`~.columns.insert_columns` picks
    them: few-valued string and dynamic columns with long values, longest first, each kept
    while combinations stay few), judged on the first rows of the file."""
    candidates = [n for n in raw if schema[n] in {"string", "dynamic"}]
    if len(candidates) < 2:
        return ()
    sample = f'"{ROW_COLUMN}_sample"'
    hashes = ", ".join(f"hash({raw[n]}) AS h{i}" for i, n in enumerate(candidates))
    lengths = ", ".join(f"length(CAST({raw[n]} AS VARCHAR)) AS l{i}" for i, n in enumerate(candidates))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {sample} AS SELECT {hashes}, {lengths} FROM "
        f"(SELECT * FROM {source} LIMIT {_COMBO_SAMPLE})"
    )
    try:
        stats = ", ".join(f"count(DISTINCT h{i}), coalesce(avg(l{i}), 0)" for i in range(len(candidates)))
        row = con.execute(f"SELECT count(*), {stats} FROM {sample}").fetchone()
        rows = int(row[0])  # type: ignore[index]
        if rows < 64:
            return ()
        found = [
            (i, float(row[2 + 2 * i]))  # type: ignore[index]
            for i in range(len(candidates))
            if row[1 + 2 * i] * 16 <= rows and row[2 + 2 * i] >= 16  # type: ignore[index]
        ]
        found.sort(key=lambda item: item[1], reverse=True)
        chosen: list[int] = []
        for i, _ in found:
            keys = ", ".join(f"h{j}" for j in [*chosen, i])
            (distinct,) = con.execute(f"SELECT count(DISTINCT hash({keys})) FROM {sample}").fetchone()  # type: ignore[misc]
            if distinct * 8 <= rows:
                chosen.append(i)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {sample}")
    return tuple(candidates[i] for i in chosen) if len(chosen) >= 2 else ()


def _recode_combinations(
    con: Any, quoted: str, combo: tuple[str, ...], start: int, base: int
) -> tuple[str, ...]:
    """The rows' hash of their combination as dense codes from `base`, in order of first row;
    () with no codes when two combinations share a hash (then no row reads a side table)."""
    rows = f"{ROW_COLUMN} >= {start}"
    columns = ", ".join(sql_ident(n) for n in combo)
    codes, pairs = con.execute(
        f"SELECT count(DISTINCT {COMBO_COLUMN}), count(DISTINCT ({COMBO_COLUMN}, {columns})) "
        f"FROM {quoted} WHERE {rows}"
    ).fetchone()  # type: ignore[misc]
    if codes != pairs:
        con.execute(f"UPDATE {quoted} SET {COMBO_COLUMN} = NULL WHERE {rows}")
        return ()
    con.execute(
        f"UPDATE {quoted} SET {COMBO_COLUMN} = m.code FROM (SELECT {COMBO_COLUMN} AS h, "
        f"CAST(row_number() OVER (ORDER BY min({ROW_COLUMN})) - 1 + {base} AS BIGINT) AS code "
        f"FROM {quoted} WHERE {rows} GROUP BY {COMBO_COLUMN}) AS m "
        f"WHERE {quoted}.{COMBO_COLUMN} = m.h AND {quoted}.{rows}"
    )
    return combo
