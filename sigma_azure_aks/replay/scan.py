"""One pass over a Log Analytics export running every query, loading nothing (:func:`scan`)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from ..sources import TABLES
from .errors import ReplayQueryError, engine_refusal
from .exports import ExportPlan
from .fulltext import fold_patterns, joined_text_sql, lower, re2_literal
from .ipmap import IP_PREFIX, IpCalls, hoist_ip_calls, ip_view
from .kql_rewrite import identifiers, where_condition
from .sql import (
    ROW_COLUMN,
    ROWTEXT_COLUMN,
    hit_lists,
    keeps_order,
    needs_text,
    sql_ident,
    sql_text,
    text_column,
)
from .treepath import TREE_PREFIX, recorder, treepath_sql

_SCAN_CHUNK = 32  # conditions evaluated per statement on a scan's stored rows


@dataclass(frozen=True)
class ExportScan:
    """What a scan found in a file: its table and row count, per query the row numbers it matched
    (or why it was refused), and the kept columns of the matched rows."""

    table: str
    rows: int
    matches: list[list[int] | ReplayQueryError]
    details: dict[int, dict[str, Any]]


@contextmanager
def _watching(con: Any, on_progress: Callable[[float], None] | None) -> Iterator[None]:
    """While the block runs a statement, tell `on_progress` its share done (DuckDB's own
    estimate, read from another thread every 0.2 s)."""
    if on_progress is None:
        yield
        return
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.2):
            share = con.query_progress()
            if share >= 0:
                on_progress(min(share / 100, 1.0))

    thread = threading.Thread(target=watch, name="replay-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@contextmanager
def _in_lists_as_expressions(con: Any) -> Iterator[None]:
    """While the block runs, DuckDB evaluates ``x IN (<constants>)`` as an expression rather than
    planning a long list as a join (its ``in_clause`` optimizer), which need not keep file order."""
    (before,) = con.execute("SELECT current_setting('disabled_optimizers')").fetchone()
    names = [n for n in str(before or "").split(",") if n.strip()]
    con.execute(f"SET disabled_optimizers = {sql_text(','.join([*names, 'in_clause']))}")
    try:
        yield
    finally:
        con.execute(f"SET disabled_optimizers = {sql_text(','.join(names))}")


# Functions duckdb-kql writes as correlated subqueries: a condition holding one runs in a statement
# of its own, as DuckDB's memory for such subqueries grows with every other one beside them.
_SUBQUERY_FUNCTIONS = ("parse_ipv4", "parse_ipv6")


def _chunks(conditions: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """The conditions in the statements that evaluate them: alone when it calls one of
    :data:`_SUBQUERY_FUNCTIONS`, else up to :data:`_SCAN_CHUNK` together, in order, those reading a
    hoisted IP parse (:mod:`.ipmap`) apart from the others."""
    alone = [c for c in conditions if _SUBQUERY_FUNCTIONS_RE.search(c[1])]
    groups = [
        [c for c in conditions if c not in alone and (IP_PREFIX in c[1]) is hoisted]
        for hoisted in (False, True)
    ]
    together = [group[i : i + _SCAN_CHUNK] for group in groups for i in range(0, len(group), _SCAN_CHUNK)]
    return together + [[c] for c in alone]


_SUBQUERY_FUNCTIONS_RE = re.compile(r"\b(?:" + "|".join(_SUBQUERY_FUNCTIONS) + r")\s*\(")


def _star_column(number: int) -> str:
    """A scan's column: whether the row's full-row search text holds keyword `number`."""
    return f"{ROW_COLUMN}_star{number}"


def scan(
    con: Any,
    kql: Any,
    plan: ExportPlan,
    queries: Sequence[str],
    columns: Callable[[str], Sequence[str]] | Sequence[str],
    on_progress: Callable[[float], None] | None = None,
) -> ExportScan | None:
    """Run `queries` on the rows of an export `plan` (see :meth:`.engine.Engine.scan_export`);
    `on_progress(share)` is told, from another thread, how much of the file's pass is done.

    Stage 1, one pass over the file, stored in file order (a plan of scans and projections only,
    checked): each condition that needs no join evaluated there, as a flag (:func:`_pass_flags`);
    the columns the other conditions read, whether the row holds each full-row search keyword
    they read; and the kept columns. So a row's large JSON columns are read once and not kept.
    Stage 2: the other conditions on those rows (an IP parse of a column read from a table of
    its distinct values, :mod:`.ipmap`) and the flags, in chunks, each row's number carried as a
    value. None, having run nothing, when a value does not read natively."""
    import duckdb

    results: list[list[int] | ReplayQueryError] = []
    conditions: list[tuple[int, str]] = []
    keywords: dict[str, int] = {}  # full-row search keywords, lower-cased -> number

    def star(table: str, keyword: str) -> str:
        return f"({_star_column(keywords.setdefault(lower(con, keyword), len(keywords)))} == true)"

    trees: dict[str, str] = {}  # treepath() hidden columns of the file's table -> argument
    schema = TABLES[plan.table]
    ips: IpCalls = {}  # hoisted IP parses of the file's table: hidden column -> (function, column)
    for index, query in enumerate(queries):
        found: dict[str, str] = {}
        try:
            table, condition = where_condition(query, star, recorder(found))
        except ReplayQueryError as error:
            results.append(error)
            continue
        results.append([])
        if table == plan.table:
            condition, calls = hoist_ip_calls(condition, schema)
            conditions.append((index, condition))  # translated with its chunk
            trees.update(found)
            ips.update(calls)
        else:  # checked alone: it matches nothing here, but may not run at all
            try:
                kql.to_sql(f"{table} | where {condition}")
            except kql.KqlError as error:
                results[index] = engine_refusal(error)
    kept = list(columns(plan.table) if callable(columns) else columns)
    if any(c not in schema for c in kept):
        raise ValueError(f"not columns of {plan.table}: {[c for c in kept if c not in schema]}")

    def reads(passed: Mapping[int, str]) -> set[str]:  # what the conditions not in the pass read
        rest = (identifiers(c) for i, c in conditions if i not in passed)
        return set().union(*rest, (c for _, c in ips.values()))

    typed_view, text_view = f"{ROW_COLUMN}_scan_rows", f"{ROW_COLUMN}_scan_text"
    stage, staged = f"{ROW_COLUMN}_scan", f"{ROW_COLUMN}_scan_numbered"
    plain, with_ips = f"{ROW_COLUMN}_plain", f"{ROW_COLUMN}_scan_ips"
    plain_kept = f"{ROW_COLUMN}_plain_kept"
    made: list[str] = []  # tables of the hoisted IP parses
    stack = ExitStack()
    try:
        typed = ", ".join(
            f"{sql} AS {sql_ident(name)}" for name, sql in zip(schema, plan.select, strict=True)
        )
        # a value is checked (read alike by the loaders) where it counts: on every row for the
        # columns a condition reads, on the rows a condition matched for the others kept
        texts = [c for _, c in conditions] + list(trees.values())
        needed = {n for n in schema if keywords or n in ips_read(ips) or any(n in t for t in texts)}
        lazy = _lazy_columns(plan, [n for n in kept if n not in needed])
        raws = "".join(f", {plan.raw[n]} AS {sql_ident(_raw_column(n))}" for n in lazy)
        con.execute(
            f'CREATE OR REPLACE TEMP VIEW "{typed_view}" AS SELECT {typed}, {plan.plain_in(needed)} AS {plain}, '
            f"{plan.plain_in(set(kept) - needed, whole_row=False)} AS {plain_kept}{raws} FROM {plan.source}"
        )
        con.execute(
            f'CREATE OR REPLACE TEMP VIEW "{text_view}" AS {_scan_text_sql(con, kql, typed_view, schema, keywords, trees)}'
        )
        # conditions evaluated in the pass itself: their flags stored, not the columns they read
        passed, pass_sql = _pass_flags(kql, text_view, conditions)
        stage_sql = _stage_sql(
            schema, reads(passed), kept, keywords, trees, (plain, plain_kept), passed, text_view, pass_sql,
            lazy if len(passed) == len(conditions) else None,
        )
        try:  # the file read: a value that does not read (JSON text, a datetime) is not native
            stack.enter_context(_in_lists_as_expressions(con))
            if passed and not keeps_order(con, stage_sql):
                passed = {}
                stage_sql = _stage_sql(
                    schema, reads({}), kept, keywords, trees, (plain, plain_kept), {}, text_view, ""
                )
            if not keeps_order(con, stage_sql):
                return None
            with _watching(con, on_progress):
                con.execute(f'CREATE OR REPLACE TEMP TABLE "{stage}" AS {stage_sql}')
        except duckdb.Error:
            return None
        finally:
            stack.close()
        read = reads(passed)
        conditions = [(i, passed.get(i, c)) for i, c in conditions]
        rows, bad = con.execute(
            f'SELECT count(*), count(*) FILTER (WHERE NOT {plain}) FROM "{stage}"'
        ).fetchone()  # type: ignore[misc]
        if bad:
            return None
        # the rows were stored in file order: their row ids are their numbers in the file
        paths = ", ".join(f"{treepath_sql(sql_ident(n))} AS {sql_ident(n)}" for n in trees if n in read)
        con.execute(
            f'CREATE OR REPLACE TEMP VIEW "{staged}" AS SELECT rowid AS {ROW_COLUMN}, '
            f'* {f"REPLACE ({paths}) " if paths else ""}FROM "{stage}"'
        )
        if ips:
            made = ip_view(con, kql, staged, with_ips, ips)
        hit_rows: set[int] = set()
        for part in _chunks(conditions):
            source = with_ips if any(IP_PREFIX in c for _, c in part) else staged
            part, sql = _translate_chunk(kql, source, part, results)
            if not part:
                continue
            flags = [f"{ROW_COLUMN}_m{i}" for i in range(len(part))]
            # each row's flags read once: the numbers of the conditions it meets, unnested
            numbers = ", ".join(f"CASE WHEN {f} THEN {i} END" for i, f in enumerate(flags))
            pairs = (
                f"SELECT q, r FROM (SELECT {ROW_COLUMN} AS r, unnest([{numbers}]) AS q FROM ({sql}) "
                f"WHERE {' OR '.join(flags)}) WHERE q IS NOT NULL"
            )
            for i, found in hit_lists(con, pairs):
                results[part[i][0]] = found
                hit_rows.update(found)
        details: dict[int, dict[str, Any]] = {}
        if kept and hit_rows:
            names = ", ".join(map(sql_ident, kept))
            for row in con.execute(
                f'SELECT rowid, {names} FROM "{stage}" WHERE rowid IN (SELECT unnest(?))',
                [sorted(hit_rows)],
            ).fetchall():
                details[row[0]] = dict(zip(kept, row[1:], strict=True))
    finally:
        con.execute(f'DROP VIEW IF EXISTS "{with_ips}"')
        for name in made:
            con.execute(f'DROP TABLE IF EXISTS "{name}"')
        con.execute(f'DROP VIEW IF EXISTS "{staged}"')
        con.execute(f'DROP TABLE IF EXISTS "{stage}"')
        con.execute(f'DROP VIEW IF EXISTS "{text_view}"')
        con.execute(f'DROP VIEW IF EXISTS "{typed_view}"')
    return ExportScan(plan.table, int(rows), results, details)


def _raw_column(name: str) -> str:
    """A scan's column: the raw value in the file of column `name`."""
    return f"{ROW_COLUMN}_raw_{name}"


def _lazy_columns(plan: ExportPlan, names: Sequence[str]) -> dict[str, tuple[str, str]]:
    """For each of `names` present in the file: (SQL of its typed value, SQL of its value's
    check), both over its raw value under :func:`_raw_column`, to evaluate on some rows only.
    A column whose raw value's SQL is not found alone in them is left out (evaluated on all)."""
    lazy: dict[str, tuple[str, str]] = {}
    position = {name: i for i, name in enumerate(TABLES[plan.table])}
    for name in names:
        raw = plan.raw.get(name)
        typed, check = plan.select[position[name]], plan.column_checks.get(name, "true")
        if raw is None or any(other in typed or other in check for other in plan.raw.values() if other != raw):
            continue
        hidden = sql_ident(_raw_column(name))
        lazy[name] = (typed.replace(raw, hidden), check.replace(raw, hidden))
    return lazy


def ips_read(ips: IpCalls) -> set[str]:
    """The columns the hoisted IP parses read."""
    return {column for _, column in ips.values()}


def _in_pass(condition: str) -> bool:
    """Whether a condition can be evaluated in the file's pass: it reads no hoisted IP parse, no
    treepath() and no function duckdb-kql writes as a subquery (a plan of projections only)."""
    return not (
        IP_PREFIX in condition or TREE_PREFIX in condition or _SUBQUERY_FUNCTIONS_RE.search(condition)
    )


def _pass_column(index: int) -> str:
    """A scan's column: whether the row meets the condition of query `index` (evaluated in the pass)."""
    return f"{ROW_COLUMN}_pass{index}"


def _pass_flags(kql: Any, rows: str, conditions: list[tuple[int, str]]) -> tuple[dict[int, str], str]:
    """({query index: its flag column} for the conditions evaluated in the pass over `rows`, SQL
    of `rows` with those flags). A condition the engine cannot translate is left out: its query's
    error is found with the others (:func:`_translate_chunk`)."""
    chosen = [(i, c) for i, c in conditions if _in_pass(c)]
    while chosen:
        assignments = ", ".join(f"{_pass_column(i)} = ({c})" for i, c in chosen)
        try:
            return {i: _pass_column(i) for i, _ in chosen}, str(kql.to_sql(f"{rows} | extend {assignments}"))
        except kql.KqlError:
            runs = _each_alone(kql, rows, chosen)
            if len(runs) == len(chosen):  # each translates alone, not together: not expected
                raise
            chosen = runs
    return {}, ""


def _each_alone(
    kql: Any, rows: str, conditions: list[tuple[int, str]], refused: Callable[[int, Exception], None] | None = None
) -> list[tuple[int, str]]:
    """The conditions the engine translates alone over `rows`; each one it cannot is given to
    `refused` (query index, the engine's error)."""
    kept = []
    for index, condition in conditions:
        try:
            kql.to_sql(f"{rows} | where {condition}")
            kept.append((index, condition))
        except kql.KqlError as error:
            if refused is not None:
                refused(index, error)
    return kept


def _stage_sql(
    schema: Mapping[str, str],
    read: set[str],
    kept: list[str],
    keywords: Mapping[str, int],
    trees: Mapping[str, str],
    plain: tuple[str, str],
    passed: Mapping[int, str],
    text_view: str,
    pass_sql: str,
    lazy: Mapping[str, tuple[str, str]] | None = None,
) -> str:
    """SQL of the rows a scan stores from its pass: the kept columns, the flags of the conditions
    evaluated in the pass (`passed`, over `pass_sql`), and what the other conditions `read`;
    `plain` names the flags of the row's checks (those of the columns the conditions read, those
    of the other kept columns), stored as one under the first name. With `lazy` (given when every
    condition is evaluated in the pass: see :func:`_lazy_columns`), a kept column no condition
    reads is stored, and checked, on the rows some flag holds only, null on the others: the
    other rows' values are neither converted nor written."""
    hit = " OR ".join(map(sql_ident, passed.values())) or "false"
    checked, kept_checked = map(sql_ident, plain)
    if lazy is None:
        kept_rows = kept_checked
    else:
        lazy_checks = " AND ".join(f"({check})" for _, check in lazy.values()) or "true"
        # a CASE, not NOT .. OR ..: DuckDB evaluates a CASE branch on its rows only
        kept_rows = f"CASE WHEN {hit} THEN coalesce({lazy_checks}, false) ELSE true END"

    def value(name: str) -> str:
        if lazy is None or name in read:
            return sql_ident(name)
        typed = lazy[name][0] if name in lazy else sql_ident(name)
        return f"CASE WHEN {hit} THEN {typed} END AS {sql_ident(name)}"

    stored = [
        *(value(n) for n in schema if n in read or n in kept),
        *map(
            sql_ident,
            [
                *(text_column(n) for n in schema if needs_text(schema[n]) and text_column(n) in read),
                *(_star_column(i) for i in keywords.values() if _star_column(i) in read),
                *(n for n in trees if n in read),  # the argument: its treepath() is computed below
                *passed.values(),
            ],
        ),
        f"{checked} AND {kept_rows} AS {checked}",
    ]
    source = f"({pass_sql})" if passed else f'"{text_view}"'
    return f"SELECT {', '.join(stored)} FROM {source}"


def _scan_text_sql(
    con: Any,
    kql: Any,
    typed_view: str,
    schema: Mapping[str, str],
    keywords: Mapping[str, int],
    trees: Mapping[str, str],
) -> str:
    """SQL over the typed rows adding the non-string columns' text forms, the arguments of
    ``treepath()`` calls (by their hidden columns' names) and, per full-row search keyword,
    whether the row's text holds it.

    One pass of one regular expression over the text as it is (an alternation of every
    keyword, each of its characters matched by every character DuckDB's lower() maps to it)
    picks the rows that may hold a keyword; only those are lower-cased and searched for each
    keyword, as the loaded engine searches. The pattern may pick more rows than hold a keyword
    (RE2 widens a class such as ``[sS]`` to Unicode case folding inside an alternation), never
    fewer. Where lower() is not one character to one character, every row is lower-cased."""
    texts = ", ".join(
        [
            *(f"{text_column(n)} = tostring({n})" for n, k in schema.items() if needs_text(k)),
            *(f"{name} = {argument}" for name, argument in trees.items()),
        ]
    )
    with_texts = str(kql.to_sql(f"{typed_view} | extend {texts}" if texts else typed_view))
    if not keywords:
        return with_texts
    patterns = fold_patterns(con, keywords)
    text = joined_text_sql(schema, list(schema), made_by_json=True, lowered=patterns is None)
    if patterns is None:
        patterns = {k: re2_literal(k) for k in keywords}
        lowered = ROWTEXT_COLUMN
    else:
        lowered = f"lower({ROWTEXT_COLUMN})"
    found = f"{ROW_COLUMN}_star"
    stars = "".join(
        f", CASE WHEN {found} THEN contains({lowered}, {sql_text(k)}) ELSE false END AS {_star_column(i)}"
        for k, i in keywords.items()
    )
    any_keyword = sql_text("|".join(patterns.values()))
    return (
        f"SELECT *{stars} FROM (SELECT *, regexp_matches({ROWTEXT_COLUMN}, {any_keyword}) AS {found} "
        f"FROM (SELECT *, {text} AS {ROWTEXT_COLUMN} FROM ({with_texts})))"
    )


def _translate_chunk(
    kql: Any, staged: str, part: list[tuple[int, str]], results: list[list[int] | ReplayQueryError]
) -> tuple[list[tuple[int, str]], str]:
    """(the conditions of `part` the engine runs, the SQL giving each row's flag per
    condition). A condition the engine cannot translate is found by translating each alone,
    and its query's result becomes the error."""
    while part:
        flags = [f"{ROW_COLUMN}_m{i}" for i in range(len(part))]
        assignments = ", ".join(f"{f} = ({c})" for f, (_, c) in zip(flags, part, strict=True))
        try:
            sql = kql.to_sql(f"{staged} | extend {assignments} | project {ROW_COLUMN}, {', '.join(flags)}")
            return part, str(sql)
        except kql.KqlError:

            def refused(index: int, error: Exception) -> None:
                results[index] = engine_refusal(error)

            kept = _each_alone(kql, staged, part, refused)
            if len(kept) == len(part):  # each runs alone, not together: not expected
                raise
            part = kept
    return [], ""
