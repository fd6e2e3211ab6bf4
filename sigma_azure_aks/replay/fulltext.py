"""Full-row keyword search (``* contains "x"``), which duckdb-kql refuses.

Rewritten to a disjunction over every column of the table as defined in
:mod:`sigma_azure_aks.sources`: string columns as they are, datetime columns through ``tostring()``
(Kusto's ISO form, ``2021-04-28T14:45:53.6000000Z``), dynamic columns through ``tostring()``,
i.e. their compact JSON text (keys match too, and a ``"`` inside a value reads as ``\\"``). A match
never spans two columns. On a loaded table, ``* contains "x"`` (a literal without escapes) is
answered faster and alike from those same text forms joined by a separator (``\\x1f``; a keyword
holding it is searched per column) and lower-cased as DuckDB's ILIKE lower-cases: the columns
loaded as one combination code per row are joined and searched once per combination (see
:class:`FullText`), the others per row. A scan (:mod:`.scan`) first picks the rows that may hold a
keyword with one regular expression (:func:`fold_patterns`).

Nothing here imports DuckDB at import time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..sources import TABLES
from .sql import COMBO_COLUMN, ROW_COLUMN, ROWTEXT_COLUMN, needs_text, sql_ident, text_column

FULLTEXT_SEPARATOR = "\x1f"
StarHook = Callable[[str, str], str]  # (table, keyword) -> KQL for `* contains "keyword"`
# per load of a table: (first row, rows, columns sent as one combination code, first code)
Segment = tuple[int, int, tuple[str, ...], int]


def star_search(table: str, operator: str, literal: str, hook: StarHook | None) -> str:
    """`* op "x"`: the hook's search of the joined text (FullText.star_sql) when that is exact, else the
    per-column disjunction. Exact for `contains` on a literal (escapes decoded) without the
    separator: a match then never covers a separator, so it lies inside one column's text."""
    if hook is not None and operator == "contains" and re.fullmatch(r'"(?:[^"\\]|\\.)*"', literal):
        try:
            keyword = str(json.loads(literal))
        except ValueError:
            keyword = FULLTEXT_SEPARATOR  # not JSON-decodable: the disjunction reads it
        if FULLTEXT_SEPARATOR not in keyword:
            return hook(table, keyword)
    return star_disjunction(table, operator, literal)


_LITERAL_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def text_literal(value: str) -> str:
    """A KQL string literal duckdb-kql reads as exactly `value` (raw characters, no \\u escapes)."""
    return '"' + "".join(_LITERAL_ESCAPES.get(c, c) for c in value) + '"'


def star_disjunction(table: str, operator: str, literal: str) -> str:
    parts = []
    for column, kind in TABLES[table].items():
        # Non-string columns are searched in their Kusto string form, kept beside them at load.
        # Dynamic columns: string operators read a dynamic value as its JSON text (tostring()).
        operand = column if kind in {"string", "dynamic"} else text_column(column)
        parts.append(f"{operand} {operator} {literal}")
    return "(" + " or ".join(parts) + ")"


def _json_text_sql(column: str) -> str:
    """``value ->> '$'`` of a JSON value made by DuckDB's ``json()``: a string's text, null for
    null, else the JSON text, which ``json()`` wrote as ``->>`` writes it (a value cast to JSON
    keeps its own text, which may differ); only strings are parsed."""
    text = f"CAST({column} AS VARCHAR)"
    return (
        f"CASE WHEN starts_with({text}, '\"') THEN {column} ->> '$' "
        f"WHEN {text} = 'null' THEN NULL ELSE {text} END"
    )


def joined_text_sql(
    schema: Mapping[str, str], columns: Sequence[str], made_by_json: bool = False, lowered: bool = True
) -> str:
    """SQL of the full-row search text of `columns`: each one's text form (what `contains` reads
    of it), joined by the separator, lower-cased as DuckDB's ILIKE lower-cases unless not
    `lowered`. `made_by_json`: the dynamic values were made by ``json()`` (see
    :func:`_json_text_sql`)."""
    forms = []
    for name in columns:
        if schema[name] == "string":
            forms.append(sql_ident(name))
        elif schema[name] == "dynamic":  # what duckdb-kql's string operators read of JSON
            column = sql_ident(name)
            text = _json_text_sql(column) if made_by_json else f"{column} ->> '$'"
            forms.append(f"coalesce({text}, '')")
        else:
            forms.append(sql_ident(text_column(name)))
    if not forms:
        return "CAST(NULL AS VARCHAR)"
    joined = f"concat_ws(chr({ord(FULLTEXT_SEPARATOR)}), {', '.join(forms)})"
    return f"lower({joined})" if lowered else joined


def re2_literal(text: str) -> str:
    """A regular expression (RE2, as DuckDB runs it) matching exactly `text`: letters and digits
    as they are, every other character by its code point."""
    return "".join(c if c.isascii() and c.isalnum() else f"\\x{{{ord(c):X}}}" for c in text)


_LOWER_SOURCES: dict[str, dict[str, list[str]] | None] = {}  # DuckDB version -> its lower() inverted


def _lower_sources(con: Any) -> dict[str, list[str]] | None:
    """Every character lower() changes, by what it makes of it: {lower-cased: [characters]}; None
    when lower() makes some character into more or fewer than one character. Read once per
    DuckDB version from DuckDB itself, over every code point."""
    import duckdb

    version = duckdb.__version__
    if version not in _LOWER_SOURCES:
        rows = con.execute(
            "SELECT cp, lower(chr(CAST(cp AS INTEGER))) FROM range(1, 1114112) AS t(cp) "
            "WHERE (cp < 55296 OR cp > 57343) AND lower(chr(CAST(cp AS INTEGER))) <> chr(CAST(cp AS INTEGER))"
        ).fetchall()
        sources: dict[str, list[str]] | None = {}
        for code, lowered in rows:
            if len(lowered) != 1:
                sources = None
                break
            sources.setdefault(lowered, []).append(chr(code))  # type: ignore[union-attr]
        _LOWER_SOURCES[version] = sources
    return _LOWER_SOURCES[version]


def fold_patterns(con: Any, keywords: Iterable[str]) -> dict[str, str] | None:
    """For each lower-cased keyword, a regular expression (RE2) that matches a text wherever the
    text lower-cased holds the keyword: each character of it matched by every character lower()
    maps to it (itself included when lower() keeps it). None when lower() is not one character
    to one character, or a character of a keyword is nothing's lower case."""
    sources = _lower_sources(con)
    if sources is None:
        return None
    changed = {c for found in sources.values() for c in found}
    patterns = {}
    for keyword in keywords:
        parts = []
        for char in keyword:
            chars = ([] if char in changed else [char]) + sources.get(char, [])
            if not chars:
                return None
            if len(chars) == 1:
                parts.append(re2_literal(chars[0]))
            else:
                parts.append("[" + "".join(re2_literal(c) for c in chars) + "]")
        patterns[keyword] = "".join(parts)
    return patterns


def lower(con: Any, text: str) -> str:
    """`text` lower-cased as DuckDB's lower() (and so its ILIKE) lower-cases."""
    return str(con.execute("SELECT lower(?)", [text]).fetchone()[0])  # type: ignore[index]


def reads_text_columns(text: str) -> bool:
    """Whether KQL text (the per-column disjunction) reads the non-string columns' text forms."""
    return f"{ROW_COLUMN}_text_" in text


class FullText:
    """The full-row search of the tables loaded in one database: per table, its loads
    (:data:`Segment`), the joined text built on first need, and the keywords searched so far."""

    def __init__(self, con: Any, kql: Any) -> None:
        self.con = con
        self._kql = kql
        self._segments: dict[str, list[Segment]] = {}
        self._combo_counts: dict[str, int] = {}
        self._star_keys: dict[str, dict[str, int]] = {}
        self._ready: set[str] = set()

    def add_table(self, table: str) -> None:
        """`table` was created (empty)."""
        self._segments.setdefault(table, [])

    def segments(self, table: str) -> list[Segment]:
        """The loads of `table`, in order."""
        return list(self._segments.get(table, []))

    def combo_base(self, table: str) -> int:
        """The first combination code of the next load of `table`."""
        return self._combo_counts.get(table, 0)

    def add_segment(self, table: str, start: int, count: int, combo: tuple[str, ...], combos: int) -> None:
        """`count` rows from `start` were loaded, `combo` columns as `combos` codes from
        :meth:`combo_base`; the joined text is built again on next need."""
        base = self.combo_base(table)
        self._segments.setdefault(table, []).append((start, count, combo, base))
        self._combo_counts[table] = base + combos
        self._ready.discard(table)

    def ensure(self, table: str) -> None:
        """Fill, once per load, each non-string column's Kusto string form (``tostring()``, by the
        engine's own translation) and the lower-cased joined text the full-row search reads."""
        if table in self._ready or table not in self._segments:
            return
        schema = TABLES[table]
        texts = [n for n in schema if needs_text(schema[n])]
        if texts:
            project = ", ".join([ROW_COLUMN, *(f"{text_column(n)} = tostring({n})" for n in texts)])
            assignments = ", ".join(f'"{text_column(n)}" = s."{text_column(n)}"' for n in texts)
            self.con.execute(
                f'UPDATE "{table}" SET {assignments} FROM ({self._kql.to_sql(f"{table} | project {project}")}) '
                f'AS s WHERE "{table}".{ROW_COLUMN} = s.{ROW_COLUMN}'
            )

        def joined(columns: list[str]) -> str:
            return joined_text_sql(schema, columns)

        combos = f"{table}__replay_combos"
        self.con.execute(f'CREATE OR REPLACE TABLE "{combos}" (combo BIGINT, text VARCHAR)')
        self.con.execute(f'CREATE OR REPLACE TABLE "{table}__replay_star" (k BIGINT, combo BIGINT)')
        self._star_keys[table] = {}
        for start, count, combo_columns, _ in self._segments.get(table, []):
            rows = f"{ROW_COLUMN} >= {start} AND {ROW_COLUMN} < {start + count}"
            rest = [n for n in schema if n not in combo_columns]
            self.con.execute(f'UPDATE "{table}" SET {ROWTEXT_COLUMN} = {joined(rest)} WHERE {rows}')
            if combo_columns:
                self.con.execute(
                    f'INSERT INTO "{combos}" SELECT {COMBO_COLUMN}, {joined(list(combo_columns))} '
                    f'FROM "{table}" WHERE {ROW_COLUMN} IN (SELECT min({ROW_COLUMN}) FROM "{table}" '
                    f"WHERE {rows} GROUP BY {COMBO_COLUMN})"
                )
        self._ready.add(table)

    def star_sql(self, table: str, keyword: str) -> str:
        """KQL for `* contains "keyword"` on a loaded table: the combinations whose joined text
        holds the lower-cased keyword, or the row's own joined text holds it. DuckDB's ILIKE is
        LIKE on both sides lower-cased by lower(); the keyword is lower-cased by the same."""
        self.ensure(table)
        lowered = lower(self.con, keyword)
        keys = self._star_keys[table]
        if lowered not in keys:
            keys[lowered] = len(keys)
            self.con.execute(
                f'INSERT INTO "{table}__replay_star" SELECT ?, combo FROM "{table}__replay_combos" '
                "WHERE contains(text, ?)",
                [keys[lowered], lowered],
            )
        return (
            f"({COMBO_COLUMN} in ({table}__replay_star | where k == {keys[lowered]} | project combo)"
            f" or {ROWTEXT_COLUMN} contains_cs {text_literal(lowered)})"
        )
