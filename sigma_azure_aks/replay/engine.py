"""The replay engine: KQL as our `sentinel` target writes it, run in-process on DuckDB.

`duckdb-kql` translates KQL to DuckDB SQL and refuses what it cannot translate. This module wraps
it behind a small interface (:class:`Engine`: ``load(table, rows)``, ``matches(query)``,
``matches_many(queries)``) and fills its gaps without changing what a query means:

* ``ipv4_is_in_range(a, "net/len")`` / ``ipv6_is_in_range(a, "net/len")``: refused by duckdb-kql.
  The range is always a literal in our queries, so it is resolved here with :mod:`ipaddress` into
  its first and last address, and the call is rewritten to a comparison of duckdb-kql's own
  ``parse_ipv4(a)`` (a long; null when `a` is not an IPv4 address) or ``parse_ipv6(a)`` (the full,
  fixed-width lower-case form, which orders like the address; ``""`` when not an address; an IPv4
  address reads as its IPv4-mapped form, as in Kusto) with those bounds. As in Kusto, the result is
  null (not false) when the address does not parse, which matters under ``not()``. An unparsable range is
  refused. (DuckDB's Python UDFs would need numpy; this needs nothing.)
* ``* contains "x"`` / ``* contains_cs "x"`` (full-row search): refused by duckdb-kql. Rewritten to a
  disjunction over every column of the table as defined in :mod:`sigma_azure_aks.tables`: string
  columns as they are, datetime columns through ``tostring()`` (Kusto's ISO form,
  ``2021-04-28T14:45:53.6000000Z``), dynamic columns through ``tostring()``, i.e. their compact JSON
  text (keys match too, and a ``"`` inside a value reads as ``\\"``). A match never spans two columns.
  On a loaded table, ``* contains "x"`` (a literal without escapes) is answered faster and alike
  from those same text forms joined by a separator (``\\x1f``; a keyword holding it is searched
  per column) and lower-cased as DuckDB's ILIKE lower-cases: the columns loaded as one combination
  code per row are joined and searched once per combination, the others per row.
* ``"\\u001f"``: duckdb-kql reads a ``\\uXXXX`` escape as ``uXXXX``; such string literals are
  rewritten with the raw characters, which it reads right.
* ``isnotnull(<member access>)``: duckdb-kql reads a JSON ``null`` member as not null; Kusto reads
  it as null. Rewritten to ``(isnotnull(m) and gettype(m) != "null")``.

Kusto string columns never hold null: :meth:`Engine.load` stores an absent string as ``""``.
"""

from __future__ import annotations

import ipaddress
import json
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from pathlib import Path
from typing import Any

from ..sources import TABLES

ROW_COLUMN = "__replay_row"
# Full-row search (`* contains "x"`), read from text built on first need: each column's text form
# (what `contains` reads of it), lower-cased as DuckDB's ILIKE lower-cases, joined by a separator.
# Columns loaded as one code per row for their combination of values (see Engine.load_columns) are
# joined once per combination in a side table; the others per row in a hidden column.
ROWTEXT_COLUMN = f"{ROW_COLUMN}_rowtext"
COMBO_COLUMN = f"{ROW_COLUMN}_combo"
FULLTEXT_SEPARATOR = "\x1f"
StarHook = Callable[[str, str], str]  # (table, keyword) -> KQL for `* contains "keyword"`
EXTRA_HINT = "pip install 'pySigma-pipeline-azure[replay]'"

_SQL_TYPES = {
    "string": "VARCHAR",
    "dynamic": "JSON",
    "datetime": "TIMESTAMP",
    "real": "DOUBLE",
    "long": "BIGINT",
    "int": "INTEGER",
    "bool": "BOOLEAN",
}


class EngineMissingError(ImportError):
    """The optional replay engine (duckdb-kql with DuckDB) is not installed."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "the replay engine needs duckdb-kql and DuckDB: "
            + EXTRA_HINT
            + (f" ({detail})" if detail else "")
        )


class ReplayQueryError(ValueError):
    """A query the engine cannot run faithfully; it is refused rather than answered wrong."""


def _import_engine() -> Any:
    try:
        import duckdb  # noqa: F401
        import duckdb_kql
    except ImportError as error:
        raise EngineMissingError(str(error)) from error
    return duckdb_kql


# ---- KQL rewriting -------------------------------------------------------------------------------
_TOKEN = re.compile(
    r'(?P<str>@?"(?:[^"\\]|\\.)*"|@?\'(?:[^\'\\]|\\.)*\')'
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<ws>\s+)"
    r"|(?P<punct>.)",
    re.S,
)
_STAR_OPERATORS = {"contains", "contains_cs"}


def _tokens(text: str) -> list[tuple[str, str]]:
    return [(m.lastgroup or "", m.group(0)) for m in _TOKEN.finditer(text)]


def _skip_ws(tokens: list[tuple[str, str]], i: int) -> int:
    while i < len(tokens) and tokens[i][0] == "ws":
        i += 1
    return i


def _text_column(column: str) -> str:
    """The hidden column holding a non-string column's Kusto string form (``tostring()``)."""
    return f"{ROW_COLUMN}_text_{column}"


def _needs_text(kind: str) -> bool:
    return kind not in {"string", "dynamic"}


_PLAIN: list[int] = []  # codes of a column sent as it is, one value per row


def _encode(values: Sequence[Any] | None, convert: Any, count: int) -> tuple[list[Any], list[int] | None]:
    """(distinct converted values, codes) for a column; codes None: one value for every row;
    codes _PLAIN: the values are the converted column itself (mostly distinct strings).

    Strings, None and at most one numeric type are keyed by value; containers (dicts and lists,
    with None) by identity, so a shared object is converted once; anything else by (type, value),
    which keeps ``1``, ``1.0`` and ``True`` apart (they convert differently)."""
    if values is None:
        return [convert(None)], None
    if len(values) != count:
        raise ValueError(f"{len(values)} values for {count} rows")
    types = set(map(type, values))
    if types <= {str, int, float, bool, type(None)} and len(types & {int, float, bool}) <= 1:
        keys: Sequence[Any] = values  # no two of these types hold equal values
    elif types <= {dict, list, type(None)}:
        keys = list(map(id, values))
    else:
        keys = [id(v) if isinstance(v, (dict, list)) else (type(v), v) for v in values]
    index = dict.fromkeys(keys)
    if types == {str} and convert is _to_string:  # strings are their own string form
        distinct = list(index)
        if len(distinct) * 2 > count:
            return list(values), _PLAIN
    else:
        firsts = dict(zip(keys, values, strict=True))  # equal keys convert alike
        distinct = [convert(firsts[key]) for key in index]
    index = dict(zip(index, range(len(index)), strict=True))
    return distinct, list(map(index.__getitem__, keys))


def _combinations(
    encoded: Mapping[str, tuple[list[Any], list[int] | None]], names: list[str], count: int
) -> tuple[list[str], list[int], list[int]]:
    """Which columns travel as one code per row for their combination of values: the few-valued
    columns with long values first (those whose text a full-row search reads once per
    combination), each kept while combinations stay few. Returns (columns, code per row, first
    row of each combination)."""

    def length(name: str) -> float:
        distinct = encoded[name][0]
        return sum(len(v) for v in distinct if isinstance(v, str)) / max(len(distinct), 1)

    candidates = [n for n in names if encoded[n][1] and len(encoded[n][0]) * 64 <= count]
    candidates = sorted((n for n in candidates if length(n) >= 16), key=length, reverse=True)
    chosen: list[str] = []
    current: list[int] | None = None
    for name in candidates:
        codes: list[int] = encoded[name][1]  # type: ignore[assignment]
        width = len(encoded[name][0])
        keys = (
            codes
            if current is None
            else list(map(operator.add, map(operator.mul, current, repeat(width)), codes))
        )
        index = dict.fromkeys(keys)
        if len(index) * 8 > count:
            continue
        index = dict(zip(index, range(len(index)), strict=True))
        current = list(map(index.__getitem__, keys))
        chosen.append(name)
    if current is None or len(chosen) < 2:
        return [], [], []
    firsts = dict(zip(reversed(current), range(count - 1, -1, -1), strict=True))  # the first row wins
    return chosen, current, [firsts[code] for code in range(len(firsts))]


def _re2_literal(text: str) -> str:
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
        for code, lower in rows:
            if len(lower) != 1:
                sources = None
                break
            sources.setdefault(lower, []).append(chr(code))  # type: ignore[union-attr]
        _LOWER_SOURCES[version] = sources
    return _LOWER_SOURCES[version]


def _fold_patterns(con: Any, keywords: Iterable[str]) -> dict[str, str] | None:
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
                parts.append(_re2_literal(chars[0]))
            else:
                parts.append("[" + "".join(_re2_literal(c) for c in chars) + "]")
        patterns[keyword] = "".join(parts)
    return patterns


def _hit_lists(con: Any, pairs_sql: str) -> list[tuple[int, list[int]]]:
    """(query, its rows in order) for each query with hits, from SQL of (q, r) pairs."""
    return con.execute(f"SELECT q, list(r ORDER BY r) FROM ({pairs_sql}) GROUP BY q").fetchall()


_SCAN_CHUNK = 32  # conditions evaluated per statement on a scan's stored rows
_ORDER_KEEPING = {"PROJECTION", "READ_CSV", "READ_CSV_AUTO", "READ_NDJSON_OBJECTS", "READ_JSON_OBJECTS"}


def _keeps_order(con: Any, sql: str) -> bool:
    """Whether DuckDB plans `sql` as scans and projections only, which store rows in the order
    the file holds them (a join, say, need not)."""
    (_, plan), *_ = con.execute(f"EXPLAIN (FORMAT JSON) {sql}").fetchall()

    def walk(node: Mapping[str, Any]) -> bool:
        return node.get("name") in _ORDER_KEEPING and all(walk(c) for c in node.get("children", []))

    return all(walk(node) for node in json.loads(plan))


def _star_column(number: int) -> str:
    """A scan's column: whether the row's full-row search text holds keyword `number`."""
    return f"{ROW_COLUMN}_star{number}"


def _json_text_sql(column: str) -> str:
    """``value ->> '$'`` of a JSON value made by DuckDB's ``json()``: a string's text, null for
    null, else the JSON text, which ``json()`` wrote as ``->>`` writes it (a value cast to JSON
    keeps its own text, which may differ); only strings are parsed."""
    text = f"CAST({column} AS VARCHAR)"
    return (
        f"CASE WHEN starts_with({text}, '\"') THEN {column} ->> '$' "
        f"WHEN {text} = 'null' THEN NULL ELSE {text} END"
    )


def _joined_text_sql(
    schema: Mapping[str, str], columns: Sequence[str], made_by_json: bool = False, lowered: bool = True
) -> str:
    """SQL of the full-row search text of `columns`: each one's text form (what `contains` reads
    of it), joined by the separator, lower-cased as DuckDB's ILIKE lower-cases unless not
    `lowered`. `made_by_json`: the dynamic values were made by ``json()`` (see
    :func:`_json_text_sql`)."""
    forms = []
    for name in columns:
        if schema[name] == "string":
            forms.append(_sql_ident(name))
        elif schema[name] == "dynamic":  # what duckdb-kql's string operators read of JSON
            column = _sql_ident(name)
            text = _json_text_sql(column) if made_by_json else f"{column} ->> '$'"
            forms.append(f"coalesce({text}, '')")
        else:
            forms.append(_sql_ident(_text_column(name)))
    if not forms:
        return "CAST(NULL AS VARCHAR)"
    joined = f"concat_ws(chr({ord(FULLTEXT_SEPARATOR)}), {', '.join(forms)})"
    return f"lower({joined})" if lowered else joined


def _star_search(table: str, operator: str, literal: str, hook: StarHook | None) -> str:
    """`* op "x"`: the hook's search of the joined text (Engine.sql) when that is exact, else the
    per-column disjunction. Exact for `contains` on a plain literal without the separator: a match
    then never covers a separator, so it lies inside one column's text."""
    if (
        hook is not None
        and operator == "contains"
        and re.fullmatch(r'"[^"\\]*"', literal)
        and FULLTEXT_SEPARATOR not in literal
    ):
        return hook(table, literal[1:-1])
    return _star_disjunction(table, operator, literal)


def _star_disjunction(table: str, operator: str, literal: str) -> str:
    parts = []
    for column, kind in TABLES[table].items():
        # Non-string columns are searched in their Kusto string form, kept beside them at load.
        # Dynamic columns: string operators read a dynamic value as its JSON text (tostring()).
        operand = column if kind in {"string", "dynamic"} else _text_column(column)
        parts.append(f"{operand} {operator} {literal}")
    return "(" + " or ".join(parts) + ")"


_IP_FUNCTIONS = {"ipv4_is_in_range": 4, "ipv6_is_in_range": 6}


def _closing(tokens: list[tuple[str, str]], start: int) -> int:
    depth = 0
    for k in range(start, len(tokens)):
        if tokens[k][1] == "(":
            depth += 1
        elif tokens[k][1] == ")":
            depth -= 1
            if depth == 0:
                return k
    raise ReplayQueryError("unbalanced parentheses in query")


def _split_args(tokens: list[tuple[str, str]]) -> list[str]:
    args, current, depth = [], [], 0
    for kind, text in tokens:
        if kind == "punct" and text in "([":
            depth += 1
        elif kind == "punct" and text in ")]":
            depth -= 1
        if kind == "punct" and text == "," and depth == 0:
            args.append("".join(current).strip())
            current = []
            continue
        current.append(text)
    args.append("".join(current).strip())
    return args


def _string_value(literal: str) -> str:
    if not (literal.startswith('"') and literal.endswith('"')):
        raise ReplayQueryError(f"expected a string literal, got {literal!r}")
    try:
        value = json.loads(literal)
    except ValueError as error:
        raise ReplayQueryError(f"cannot read the string literal {literal!r}") from error
    return str(value)


def _ip_range_check(function: str, address: str, range_literal: str) -> str:
    version = _IP_FUNCTIONS[function]
    text = _string_value(range_literal)
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as error:
        raise ReplayQueryError(f"{function}: {text!r} is not an IP range") from error
    if network.version != version:
        raise ReplayQueryError(f"{function}: {text!r} is not an IPv{version} range")
    if version == 4:
        lo, hi = int(network.network_address), int(network.broadcast_address)
        return f"(parse_ipv4({address}) >= {lo} and parse_ipv4({address}) <= {hi})"
    lo_text, hi_text = network.network_address.exploded, network.broadcast_address.exploded
    parsed = f"parse_ipv6({address})"
    # Kusto's parse_ipv6 gives "" for a non-address, and ipv6_is_in_range null: keep it null.
    return f'iff(isempty({parsed}), bool(null), ({parsed} >= "{lo_text}" and {parsed} <= "{hi_text}"))'


_ENGINE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _engine_literal(literal: str) -> str:
    """A string literal as duckdb-kql reads it alike: it reads a `\\uXXXX` escape (which Kusto
    decodes, and our target writes for control and separator characters) as the letter u and
    the digits, but a raw character as that character. Such literals are written with the raw
    characters; every other literal is left as it is."""
    if not (literal.startswith('"') and "\\u" in literal):
        return literal
    value = _string_value(literal)
    return '"' + "".join(_ENGINE_ESCAPES.get(c, c) for c in value) + '"'


def rewrite_query(query: str, star_hook: StarHook | None = None) -> tuple[str, str]:
    """(table, KQL the engine runs faithfully). Raises ReplayQueryError for what it cannot.

    `star_hook` (the engine's) answers a full-row `contains` on a plain literal; without it,
    full-row searches become the per-column disjunction."""
    head, sep, _ = query.partition("|")
    table = head.strip()
    if not sep or table not in TABLES:
        raise ReplayQueryError(f"expected '<table> | where ...' on a known table, got {query[:60]!r}")
    tokens = _tokens(query)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        if kind == "punct" and text == "*":
            j = _skip_ws(tokens, i + 1)
            k = _skip_ws(tokens, j + 1)
            if j < len(tokens) and k < len(tokens) and tokens[j][0] == "ident" and tokens[k][0] == "str":
                operator = tokens[j][1]
                if operator not in _STAR_OPERATORS:
                    raise ReplayQueryError(f"full-row search '* {operator}' is not supported by replay")
                out.append(_star_search(table, operator, _engine_literal(tokens[k][1]), star_hook))
                i = k + 1
                continue
            raise ReplayQueryError("a '*' outside a full-row search is not supported by replay")
        if kind == "ident" and text in _IP_FUNCTIONS:
            j = _skip_ws(tokens, i + 1)
            if j < len(tokens) and tokens[j][1] == "(":
                k = _closing(tokens, j)
                args = _split_args(tokens[j + 1 : k])
                if len(args) != 2:
                    raise ReplayQueryError(f"{text}() takes two arguments here")
                address, _ = _rewrite_fragment(args[0], table)
                out.append(_ip_range_check(text, address, args[1]))
                i = k + 1
                continue
        if kind == "str":
            out.append(_engine_literal(text))
            i += 1
            continue
        if kind == "ident" and text == "isnotnull":
            j = _skip_ws(tokens, i + 1)
            if j < len(tokens) and tokens[j][1] == "(":
                k = _closing(tokens, j)
                inner = "".join(t for _, t in tokens[j + 1 : k])
                if re.fullmatch(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*", inner):
                    out.append(f"isnotnull({inner})")
                else:
                    inner_text, _ = _rewrite_fragment(inner, table)
                    out.append(f'(isnotnull({inner_text}) and gettype({inner_text}) != "null")')
                i = k + 1
                continue
        out.append(text)
        i += 1
    return table, "".join(out)


def _rewrite_fragment(fragment: str, table: str) -> tuple[str, str]:
    _, text = rewrite_query(f"{table} | {fragment}")
    return text.split("| ", 1)[1], table


# ---- values ----------------------------------------------------------------------------------------
def _to_datetime(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Python reads at most 6 fraction digits; Kusto writes 7.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as error:
        raise ValueError(f"not a datetime: {value!r}") from error
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _to_dynamic(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value.strip() == "":
            return None
        try:
            value = json.loads(value)
        except ValueError:
            pass  # a plain string is a dynamic string
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _to_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _converter(kind: str) -> Any:
    if kind == "string":
        return _to_string
    if kind == "dynamic":
        return _to_dynamic
    if kind == "datetime":
        return _to_datetime
    if kind in {"real"}:
        return lambda v: None if v in (None, "") else float(v)
    if kind in {"long", "int"}:
        return lambda v: None if v in (None, "") else int(v)
    return lambda v: v


class Engine:
    """An in-process KQL engine holding one DuckDB database of loaded tables."""

    def __init__(self) -> None:
        self._kql = _import_engine()
        self.con = self._kql.connect()
        self.row_counts: dict[str, int] = {}
        self._fulltext_ready: set[str] = set()
        # per table: (first row, rows, columns sent as one combination code, first code) per load
        self._segments: dict[str, list[tuple[int, int, tuple[str, ...], int]]] = {}
        self._combo_counts: dict[str, int] = {}
        self._star_keys: dict[str, dict[str, int]] = {}

    # ---- loading ----
    def load(self, table: str, rows: Iterable[Mapping[str, Any]]) -> int:
        """Append rows (column -> value) to `table`; columns not in the table are ignored.

        Returns the number of rows now in the table. Row numbers (0-based, in load order) are what
        :meth:`matches` returns.
        """
        schema = TABLES[table]
        names = list(schema)
        rows = list(rows)
        columns = {name: [row.get(name) for row in rows] for name in names}
        return self.load_columns(table, columns, len(rows))

    def _create(self, table: str) -> int:
        """The table, created on first load; returns its row count."""
        start = self.row_counts.get(table)
        if start is None:
            schema = TABLES[table]
            columns_sql = ", ".join(f'"{n}" {_SQL_TYPES.get(k, "VARCHAR")}' for n, k in schema.items())
            text_sql = "".join(f', "{_text_column(n)}" VARCHAR' for n, k in schema.items() if _needs_text(k))
            self.con.execute(
                f'CREATE TABLE IF NOT EXISTS "{table}" ({ROW_COLUMN} BIGINT, {columns_sql}{text_sql}, '
                f"{COMBO_COLUMN} BIGINT, {ROWTEXT_COLUMN} VARCHAR)"
            )
            start = self.row_counts[table] = 0
        return start

    def load_columns(self, table: str, columns: Mapping[str, Sequence[Any]], count: int) -> int:
        """Append `count` rows given column-wise (column -> values); absent columns are empty.

        The fast path for large inputs: no per-row dicts, and each column is dictionary-encoded
        (a value repeated across rows, such as a shared claims object, is converted once). Columns
        with few distinct values travel together as one code per row for their combination of
        values; DuckDB reads each per-row list once. Values are converted as in :meth:`load`.
        """
        schema = TABLES[table]
        names = list(schema)
        start = self._create(table)
        if count:
            params: list[Any] = []
            unnests: list[str] = []
            select_sql = [f"CAST(range AS BIGINT) + {start} AS {ROW_COLUMN}"]

            def param(value: Any) -> str:
                params.append(value)
                return f"${len(params)}"

            def per_row(values: list[Any]) -> str:
                unnests.append(f"unnest({param(values)}) AS u{len(unnests)}")
                return f"u{len(unnests) - 1}"

            encoded = {n: _encode(columns.get(n), _converter(schema[n]), count) for n in names}
            few, combo_codes, combo_rows = _combinations(encoded, names, count)
            combo_index = dict.fromkeys(combo_rows)  # a row of each combination, in code order
            combo_ref = per_row(combo_codes) if combo_index else ""
            combo_position = {n: i for i, n in enumerate(few)} if combo_index else {}
            combo_base = self._combo_counts.get(table, 0)
            self._segments.setdefault(table, []).append((start, count, tuple(combo_position), combo_base))
            self._combo_counts[table] = combo_base + len(combo_index)
            combos = f"{table}__replay_load"
            if combo_index:
                # The combinations as a small table joined once: DuckDB would re-read a long
                # constant list for every chunk of rows.
                combo_sql = ["unnest(range($1)) AS combo"]
                combo_params: list[Any] = [len(combo_index)]
                for i, name in enumerate(few):
                    distinct = encoded[name][0]
                    codes = encoded[name][1]
                    combo_params.append([distinct[codes[row]] for row in combo_rows])  # type: ignore[index]
                    kind = _SQL_TYPES.get(schema[name], "VARCHAR")
                    combo_sql.append(f'CAST(unnest(${len(combo_params)}) AS {kind}) AS "k{i}"')
                self.con.execute(
                    f'CREATE OR REPLACE TEMP TABLE "{combos}" AS SELECT {", ".join(combo_sql)}', combo_params
                )
            for name in names:
                kind = _SQL_TYPES.get(schema[name], "VARCHAR")
                distinct, codes = encoded[name]
                if codes is None:
                    select_sql.append(f'CAST({param(distinct[0])} AS {kind}) AS "{name}"')
                elif name in combo_position:
                    select_sql.append(f'c."k{combo_position[name]}" AS "{name}"')
                elif codes is _PLAIN:
                    select_sql.append(f'CAST({per_row(distinct)} AS {kind}) AS "{name}"')
                elif len(distinct) > 256:  # a long list of distinct values: as they are
                    select_sql.append(f'CAST({per_row([distinct[c] for c in codes])} AS {kind}) AS "{name}"')
                else:
                    ref = per_row(codes)
                    select_sql.append(f'(CAST({param(distinct)} AS {kind}[]))[{ref} + 1] AS "{name}"')
            select_sql.append(f"{combo_ref} + {combo_base}" if combo_index else "CAST(NULL AS BIGINT)")
            # unnest() calls in one select list zip their lists: the row number travels with them
            source = f"(SELECT unnest(range({count})) AS range{''.join(', ' + u for u in unnests)})"
            if combo_index:
                source += f' AS r JOIN "{combos}" AS c ON c.combo = r.{combo_ref}'
            names_sql = ", ".join(f'"{n}"' for n in [ROW_COLUMN, *names, COMBO_COLUMN])
            self.con.execute(
                f'INSERT INTO "{table}" ({names_sql}) SELECT {", ".join(select_sql)} FROM {source}',
                params,
            )
            if combo_index:
                self.con.execute(f'DROP TABLE "{combos}"')
        self.row_counts[table] = start + count
        self._fulltext_ready.discard(table)
        return start + count

    def _ensure_fulltext(self, table: str) -> None:
        """Fill, once per load, each non-string column's Kusto string form (``tostring()``, by the
        engine's own translation) and the lower-cased joined text the full-row search reads."""
        if table in self._fulltext_ready or table not in self.row_counts:
            return
        schema = TABLES[table]
        texts = [n for n in schema if _needs_text(schema[n])]
        if texts:
            project = ", ".join([ROW_COLUMN, *(f"{_text_column(n)} = tostring({n})" for n in texts)])
            assignments = ", ".join(f'"{_text_column(n)}" = s."{_text_column(n)}"' for n in texts)
            self.con.execute(
                f'UPDATE "{table}" SET {assignments} FROM ({self._kql.to_sql(f"{table} | project {project}")}) '
                f'AS s WHERE "{table}".{ROW_COLUMN} = s.{ROW_COLUMN}'
            )

        def joined(columns: list[str]) -> str:
            return _joined_text_sql(schema, columns)

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
        self._fulltext_ready.add(table)

    @staticmethod
    def _star_needs_text(text: str) -> bool:
        """The per-column disjunction reads the non-string columns' text forms."""
        return f"{ROW_COLUMN}_text_" in text

    def _lower(self, text: str) -> str:
        """`text` lower-cased as DuckDB's lower() (and so its ILIKE) lower-cases."""
        return str(self.con.execute("SELECT lower(?)", [text]).fetchone()[0])  # type: ignore[index]

    def _star_sql(self, table: str, keyword: str) -> str:
        """KQL for `* contains "keyword"` on a loaded table: the combinations whose joined text
        holds the lower-cased keyword, or the row's own joined text holds it. DuckDB's ILIKE is
        LIKE on both sides lower-cased by lower(); the keyword is lower-cased by the same."""
        self._ensure_fulltext(table)
        lowered = self._lower(keyword)
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
            f' or {ROWTEXT_COLUMN} contains_cs "{lowered}")'
        )

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
            return self._insert_export(self._export_plan(Path(path)))
        except (_NotNative, duckdb.Error):
            return None

    def _export_source(self, path: Path) -> tuple[str, dict[str, str], bool, dict[str, Any], str]:
        """(FROM clause, column -> SQL of its raw value, values are JSON, first row, SQL: row plain)."""
        try:
            with path.open("rb") as handle:
                head = handle.read(4096).decode("utf-8", errors="replace").lstrip("\ufeff").lstrip()
        except OSError as error:
            raise _NotNative from error
        if not head or head[0] == "[":
            raise _NotNative
        file = _sql_text(str(path))
        if head[0] == "{":
            first = _first_json_line(path)
            source = f"(SELECT json AS j FROM read_ndjson_objects({file}))"
            query = f"SELECT DISTINCT unnest(json_keys(j)) FROM {source} WHERE json_type(j) = 'OBJECT'"
            keys = [r[0] for r in self.con.execute(query).fetchall()]
            if any('"' in k or "\\" in k for k in keys):
                raise _NotNative
            raw = {k: "(j -> " + _sql_text("$." + _sql_ident(k)) + ")" for k in keys}
            return source, raw, True, first, "json_type(j) = 'OBJECT'"
        header, first = _csv_head(path)
        source = (
            f"read_csv({file}, header = true, all_varchar = true, delim = ',', quote = '\"', "
            "escape = '\"', strict_mode = true, null_padding = false, normalize_names = false)"
        )
        names = [r[0] for r in self.con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
        if names != header:  # DuckDB renamed a column (a duplicate, say): not read alike
            raise _NotNative
        return source, {k: _sql_ident(k) for k in names}, False, first, "true"

    def _export_plan(self, path: Path) -> _ExportPlan:
        """How the rows of an export file read as typed rows of their table, in SQL."""
        from .loaders import _table_of_row

        source, raw, as_json, first, row_ok = self._export_source(path)

        if "operationName" in raw or "records" in raw:  # raw activity-log records
            raise _NotNative
        mapped: dict[str, str] = {}
        for key, expr in raw.items():
            name = _HEADER_SUFFIX_RE.sub("", key)
            if name in mapped:
                raise _NotNative
            mapped[name] = expr
        table = _table_of_row({_HEADER_SUFFIX_RE.sub("", k): v for k, v in first.items()})
        if table is None:
            raise _NotNative

        def text(expr: str) -> str:  # a JSON value's text: strings as they are
            return f"({expr} ->> '$')" if as_json else expr

        def jtype(expr: str) -> str:
            return f"coalesce(json_type({expr}), 'NULL')"

        choices = [
            f"CASE WHEN {text(mapped[k])} IN ({', '.join(map(_sql_text, TABLES))}) THEN {text(mapped[k])} END"
            for k in ("$table", "Type")
            if k in mapped
        ]
        if not choices:
            raise _NotNative
        checks = [row_ok, f"coalesce({', '.join(choices)}) IS NOT DISTINCT FROM {_sql_text(table)}"]
        schema = TABLES[table]
        select: list[str] = []
        for name, kind in schema.items():
            expr = mapped.get(name)
            sql_kind = _SQL_TYPES.get(kind, "VARCHAR")
            if expr is None:
                if name == "Type":
                    select.append(_sql_text(table))
                else:
                    select.append("''" if kind == "string" else f"CAST(NULL AS {sql_kind})")
                continue
            value = text(expr)
            if kind == "string":
                if as_json:
                    checks.append(f"{jtype(expr)} IN ('NULL', 'VARCHAR', 'BOOLEAN', 'BIGINT', 'UBIGINT')")
                else:  # the loaders read a CSV with universal newlines: CR LF and CR are LF
                    value = (
                        f"CASE WHEN contains({value}, chr(13)) THEN replace(replace({value}, "
                        f"chr(13) || chr(10), chr(10)), chr(13), chr(10)) ELSE {value} END"
                    )
                select.append(f"coalesce({value}, '')")
            elif kind == "dynamic":
                if as_json:
                    select.append(
                        f"CASE {jtype(expr)} WHEN 'NULL' THEN NULL WHEN 'VARCHAR' THEN "
                        f"CASE WHEN {_blank(value)} THEN NULL ELSE json({value}) END ELSE json({expr}) END"
                    )
                else:
                    select.append(
                        f"CASE WHEN {value} IS NULL OR {_blank(value)} THEN NULL ELSE json({value}) END"
                    )
            elif kind == "datetime":
                if as_json:
                    checks.append(f"{jtype(expr)} IN ('NULL', 'VARCHAR')")
                select.append(_datetime_sql(value))
            elif kind in {"real", "long", "int"}:
                if as_json:
                    checks.append(f"{jtype(expr)} IN ('NULL', 'VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE')")
                select.append(
                    f"CASE WHEN {value} IS NULL OR {value} = '' THEN NULL ELSE CAST({value} AS {sql_kind}) END"
                )
            else:
                raise _NotNative
        return _ExportPlan(source, table, mapped, select, checks)

    def _insert_export(self, plan: _ExportPlan) -> tuple[str, int]:
        source, table, mapped, select = plan.source, plan.table, plan.raw, list(plan.select)
        schema = TABLES[table]
        combo = self._export_combinations(source, {n: mapped[n] for n in schema if n in mapped}, schema)
        start = self._create(table)
        quoted = f'"{table}"'
        new_rows = f"{ROW_COLUMN} IS NULL"
        # ROWTEXT_COLUMN (built on first need) carries each row's flag until the check;
        # COMBO_COLUMN a hash of the raw values of the combined columns until recoded below
        names = [*schema, ROWTEXT_COLUMN]
        select.append(f"CASE WHEN {plan.plain} THEN NULL ELSE 'x' END")
        if combo:
            names.append(COMBO_COLUMN)
            select.append(f"CAST(hash({', '.join(mapped[n] for n in combo)}) >> 1 AS BIGINT)")
        rows_sql = f"SELECT {', '.join(select)} FROM {source}"
        if not _keeps_order(self.con, rows_sql):  # row numbers follow the stored order
            raise _NotNative
        self.con.execute(f"INSERT INTO {quoted} ({', '.join(map(_sql_ident, names))}) {rows_sql}")
        try:
            count, bad = self.con.execute(
                f"SELECT count(*), count({ROWTEXT_COLUMN}) FROM {quoted} WHERE {new_rows}"
            ).fetchone()  # type: ignore[misc]
            if bad:
                raise _NotNative
            # rows are appended in file order, their row ids follow it
            self.con.execute(
                f"UPDATE {quoted} SET {ROW_COLUMN} = rowid - (SELECT min(rowid) FROM {quoted} "
                f"WHERE {new_rows}) + {start} WHERE {new_rows}"
            )
        except BaseException:
            self.con.execute(f"DELETE FROM {quoted} WHERE {new_rows}")
            raise
        base = self._combo_counts.get(table, 0)
        if combo:
            combo = self._recode_combinations(quoted, combo, start, base)
        combos = 0
        if combo:
            combos = int(
                self.con.execute(  # type: ignore[index]
                    f"SELECT count(DISTINCT {COMBO_COLUMN}) FROM {quoted} WHERE {ROW_COLUMN} >= {start}"
                ).fetchone()[0]
            )
        self._segments.setdefault(table, []).append((start, count, combo, base))
        self._combo_counts[table] = base + combos
        self.row_counts[table] = start + count
        self._fulltext_ready.discard(table)
        return table, start + count

    def _export_combinations(
        self, source: str, raw: Mapping[str, str], schema: Mapping[str, str]
    ) -> tuple[str, ...]:
        """The columns to load as one combination code per row (as :meth:`load_columns` picks
        them: few-valued string and dynamic columns with long values, longest first, each kept
        while combinations stay few), judged on the first rows of the file."""
        candidates = [n for n in raw if schema[n] in {"string", "dynamic"}]
        if len(candidates) < 2:
            return ()
        sample = f'"{ROW_COLUMN}_sample"'
        hashes = ", ".join(f"hash({raw[n]}) AS h{i}" for i, n in enumerate(candidates))
        lengths = ", ".join(f"length(CAST({raw[n]} AS VARCHAR)) AS l{i}" for i, n in enumerate(candidates))
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {sample} AS SELECT {hashes}, {lengths} FROM "
            f"(SELECT * FROM {source} LIMIT {_COMBO_SAMPLE})"
        )
        try:
            stats = ", ".join(f"count(DISTINCT h{i}), coalesce(avg(l{i}), 0)" for i in range(len(candidates)))
            row = self.con.execute(f"SELECT count(*), {stats} FROM {sample}").fetchone()
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
                (distinct,) = self.con.execute(
                    f"SELECT count(DISTINCT hash({keys})) FROM {sample}"
                ).fetchone()  # type: ignore[misc]
                if distinct * 8 <= rows:
                    chosen.append(i)
        finally:
            self.con.execute(f"DROP TABLE IF EXISTS {sample}")
        return tuple(candidates[i] for i in chosen) if len(chosen) >= 2 else ()

    def _recode_combinations(
        self, quoted: str, combo: tuple[str, ...], start: int, base: int
    ) -> tuple[str, ...]:
        """The rows' hash of their combination as dense codes from `base`, in order of first row;
        () with no codes when two combinations share a hash (then no row reads a side table)."""
        rows = f"{ROW_COLUMN} >= {start}"
        columns = ", ".join(_sql_ident(n) for n in combo)
        codes, pairs = self.con.execute(
            f"SELECT count(DISTINCT {COMBO_COLUMN}), count(DISTINCT ({COMBO_COLUMN}, {columns})) "
            f"FROM {quoted} WHERE {rows}"
        ).fetchone()  # type: ignore[misc]
        if codes != pairs:
            self.con.execute(f"UPDATE {quoted} SET {COMBO_COLUMN} = NULL WHERE {rows}")
            return ()
        self.con.execute(
            f"UPDATE {quoted} SET {COMBO_COLUMN} = m.code FROM (SELECT {COMBO_COLUMN} AS h, "
            f"CAST(row_number() OVER (ORDER BY min({ROW_COLUMN})) - 1 + {base} AS BIGINT) AS code "
            f"FROM {quoted} WHERE {rows} GROUP BY {COMBO_COLUMN}) AS m "
            f"WHERE {quoted}.{COMBO_COLUMN} = m.h AND {quoted}.{rows}"
        )
        return combo

    def scan_export(
        self,
        path: str | Path,
        queries: Sequence[str],
        columns: Callable[[str], Sequence[str]] | Sequence[str] = (),
    ) -> ExportScan | None:
        """Run `queries` on a Log Analytics export file in one pass over it, loading nothing: each
        row is read from the file, typed as :meth:`load_export` types it, and every query's
        condition evaluated on it in that same pass; only which queries each row matched is
        kept, with `columns` of the rows some query matched. Row numbers are 0-based in file
        order. A query on another table matches nothing here; a query the engine cannot run
        gives its ReplayQueryError. `columns` may be a function of the file's table. Returns None,
        having run nothing, when the file is not such an export (see :meth:`load_export`): read
        it with the loaders."""
        import duckdb

        try:
            plan = self._export_plan(Path(path))
        except (_NotNative, duckdb.Error):
            return None
        return self._scan(plan, queries, columns)

    def _scan(
        self,
        plan: _ExportPlan,
        queries: Sequence[str],
        columns: Callable[[str], Sequence[str]] | Sequence[str],
    ) -> ExportScan | None:
        """Stage 1, one pass over the file: the columns the conditions read, whether the row
        holds each full-row search keyword, and the kept columns, stored in file order (a plan of
        scans and projections only, checked). Stage 2: the conditions on those rows, in chunks,
        each row's number carried as a value."""
        import duckdb

        results: list[list[int] | ReplayQueryError] = []
        conditions: list[tuple[int, str]] = []
        keywords: dict[str, int] = {}  # full-row search keywords, lower-cased -> number

        def star(table: str, keyword: str) -> str:
            return f"({_star_column(keywords.setdefault(self._lower(keyword), len(keywords)))} == true)"

        for index, query in enumerate(queries):
            try:
                table, condition = self._scan_condition(query, star)
            except ReplayQueryError as error:
                results.append(error)
                continue
            results.append([])
            if table == plan.table:
                conditions.append((index, condition))  # translated with its chunk
            else:  # checked alone: it matches nothing here, but may not run at all
                try:
                    self._kql.to_sql(f"{table} | where {condition}")
                except self._kql.KqlError as error:
                    results[index] = ReplayQueryError(f"the replay engine cannot run this query: {error}")
        schema = TABLES[plan.table]
        kept = list(columns(plan.table) if callable(columns) else columns)
        if any(c not in schema for c in kept):
            raise ValueError(f"not columns of {plan.table}: {[c for c in kept if c not in schema]}")
        read = {value for _, condition in conditions for kind, value in _tokens(condition) if kind == "ident"}
        typed_view, text_view = f"{ROW_COLUMN}_scan_rows", f"{ROW_COLUMN}_scan_text"
        stage, staged = f"{ROW_COLUMN}_scan", f"{ROW_COLUMN}_scan_numbered"
        plain = f"{ROW_COLUMN}_plain"
        try:
            typed = ", ".join(
                f"{sql} AS {_sql_ident(name)}" for name, sql in zip(schema, plan.select, strict=True)
            )
            self.con.execute(
                f'CREATE OR REPLACE TEMP VIEW "{typed_view}" AS SELECT {typed}, {plan.plain} AS {plain} '
                f"FROM {plan.source}"
            )
            self.con.execute(
                f'CREATE OR REPLACE TEMP VIEW "{text_view}" AS {self._scan_text_sql(typed_view, schema, keywords)}'
            )
            stored = [
                *(n for n in schema if n in read or n in kept),
                *(_text_column(n) for n in schema if _needs_text(schema[n]) and _text_column(n) in read),
                *(_star_column(i) for i in keywords.values()),
                plain,
            ]
            stage_sql = f'SELECT {", ".join(map(_sql_ident, stored))} FROM "{text_view}"'
            try:  # the file read: a value that does not read (JSON text, a datetime) is not native
                if not _keeps_order(self.con, stage_sql):
                    return None
                self.con.execute(f'CREATE OR REPLACE TEMP TABLE "{stage}" AS {stage_sql}')
            except duckdb.Error:
                return None
            rows, bad = self.con.execute(
                f'SELECT count(*), count(*) FILTER (WHERE NOT {plain}) FROM "{stage}"'
            ).fetchone()  # type: ignore[misc]
            if bad:
                return None
            # the rows were stored in file order: their row ids are their numbers in the file
            self.con.execute(
                f'CREATE OR REPLACE TEMP VIEW "{staged}" AS SELECT rowid AS {ROW_COLUMN}, * FROM "{stage}"'
            )
            hit_rows: set[int] = set()
            for chunk in range(0, len(conditions), _SCAN_CHUNK):
                part = conditions[chunk : chunk + _SCAN_CHUNK]
                part, sql = self._translate_chunk(staged, part, results)
                if not part:
                    continue
                flags = [f"{ROW_COLUMN}_m{i}" for i in range(len(part))]
                # each row's flags read once: the numbers of the conditions it meets, unnested
                numbers = ", ".join(f"CASE WHEN {f} THEN {i} END" for i, f in enumerate(flags))
                pairs = (
                    f"SELECT q, r FROM (SELECT {ROW_COLUMN} AS r, unnest([{numbers}]) AS q FROM ({sql}) "
                    f"WHERE {' OR '.join(flags)}) WHERE q IS NOT NULL"
                )
                for i, found in _hit_lists(self.con, pairs):
                    results[part[i][0]] = found
                    hit_rows.update(found)
            details: dict[int, dict[str, Any]] = {}
            if kept and hit_rows:
                names = ", ".join(map(_sql_ident, kept))
                for row in self.con.execute(
                    f'SELECT rowid, {names} FROM "{stage}" WHERE rowid IN (SELECT unnest(?))',
                    [sorted(hit_rows)],
                ).fetchall():
                    details[row[0]] = dict(zip(kept, row[1:], strict=True))
        finally:
            self.con.execute(f'DROP VIEW IF EXISTS "{staged}"')
            self.con.execute(f'DROP TABLE IF EXISTS "{stage}"')
            self.con.execute(f'DROP VIEW IF EXISTS "{text_view}"')
            self.con.execute(f'DROP VIEW IF EXISTS "{typed_view}"')
        return ExportScan(plan.table, int(rows), results, details)

    def _scan_text_sql(self, typed_view: str, schema: Mapping[str, str], keywords: Mapping[str, int]) -> str:
        """SQL over the typed rows adding the non-string columns' text forms and, per full-row
        search keyword, whether the row's text holds it.

        One pass of one regular expression over the text as it is (an alternation of every
        keyword, each of its characters matched by every character DuckDB's lower() maps to it)
        picks the rows that may hold a keyword; only those are lower-cased and searched for each
        keyword, as the loaded engine searches. The pattern may pick more rows than hold a keyword
        (RE2 widens a class such as ``[sS]`` to Unicode case folding inside an alternation), never
        fewer. Where lower() is not one character to one character, every row is lower-cased."""
        texts = ", ".join(f"{_text_column(n)} = tostring({n})" for n, k in schema.items() if _needs_text(k))
        with_texts = str(self._kql.to_sql(f"{typed_view} | extend {texts}" if texts else typed_view))
        if not keywords:
            return with_texts
        patterns = _fold_patterns(self.con, keywords)
        text = _joined_text_sql(schema, list(schema), made_by_json=True, lowered=patterns is None)
        if patterns is None:
            patterns = {k: _re2_literal(k) for k in keywords}
            lowered = ROWTEXT_COLUMN
        else:
            lowered = f"lower({ROWTEXT_COLUMN})"
        found = f"{ROW_COLUMN}_star"
        stars = "".join(
            f", CASE WHEN {found} THEN contains({lowered}, {_sql_text(k)}) ELSE false END AS {_star_column(i)}"
            for k, i in keywords.items()
        )
        any_keyword = _sql_text("|".join(patterns.values()))
        return (
            f"SELECT *{stars} FROM (SELECT *, regexp_matches({ROWTEXT_COLUMN}, {any_keyword}) AS {found} "
            f"FROM (SELECT *, {text} AS {ROWTEXT_COLUMN} FROM ({with_texts})))"
        )

    def _translate_chunk(
        self, staged: str, part: list[tuple[int, str]], results: list[list[int] | ReplayQueryError]
    ) -> tuple[list[tuple[int, str]], str]:
        """(the conditions of `part` the engine runs, the SQL giving each row's flag per
        condition). A condition the engine cannot translate is found by translating each alone,
        and its query's result becomes the error."""
        while part:
            flags = [f"{ROW_COLUMN}_m{i}" for i in range(len(part))]
            assignments = ", ".join(f"{f} = ({c})" for f, (_, c) in zip(flags, part, strict=True))
            try:
                sql = self._kql.to_sql(
                    f"{staged} | extend {assignments} | project {ROW_COLUMN}, {', '.join(flags)}"
                )
                return part, str(sql)
            except self._kql.KqlError:
                kept = []
                for index, condition in part:
                    try:
                        self._kql.to_sql(f"{staged} | where {condition}")
                        kept.append((index, condition))
                    except self._kql.KqlError as error:
                        results[index] = ReplayQueryError(f"the replay engine cannot run this query: {error}")
                if len(kept) == len(part):  # each runs alone, not together: not expected
                    raise
                part = kept
        return [], ""

    def _scan_condition(self, query: str, star_hook: StarHook) -> tuple[str, str]:
        """(table, the query's where condition as the engine runs it); translated with the
        others of its chunk (:meth:`_translate_chunk`)."""
        table, text = rewrite_query(query, star_hook)
        tokens = _tokens(text)
        pipes = [i for i, (kind, value) in enumerate(tokens) if kind == "punct" and value == "|"]
        where = _skip_ws(tokens, pipes[0] + 1) if len(pipes) == 1 else len(tokens)
        if where >= len(tokens) or tokens[where] != ("ident", "where"):
            raise ReplayQueryError(f"replay runs '<table> | where ...' queries, got {query[:60]!r}")
        return table, "".join(value for _, value in tokens[where + 1 :]).strip()

    # ---- queries ----
    def sql(self, query: str) -> str:
        """The DuckDB SQL for a KQL query of ours, gaps bridged; raises ReplayQueryError."""
        table, _ = rewrite_query(query)
        # Nothing loaded: any faithful form will do (the per-column disjunction).
        _, text = rewrite_query(query, self._star_sql if table in self.row_counts else None)
        if self._star_needs_text(text):
            self._ensure_fulltext(table)
        try:
            return str(self._kql.to_sql(text))
        except self._kql.KqlError as error:
            raise ReplayQueryError(f"the replay engine cannot run this query: {error}") from error

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
        for index, rows in _hit_lists(self.con, union):
            results[index] = rows
        return results

    def fetch(self, table: str, row_ids: Sequence[int], columns: Sequence[str]) -> dict[int, dict[str, Any]]:
        """Selected columns of some rows, for reports."""
        if not row_ids or table not in self.row_counts:
            return {}
        cols = ", ".join(f'"{c}"' for c in columns)
        rows = self.con.execute(
            f'SELECT {ROW_COLUMN}, {cols} FROM "{table}" WHERE {ROW_COLUMN} IN (SELECT unnest(?))',
            [list(row_ids)],
        ).fetchall()
        return {r[0]: dict(zip(columns, r[1:], strict=True)) for r in rows}

    def close(self) -> None:
        self.con.close()


# ---- native load of Log Analytics exports ------------------------------------------------------
_RAW_RECORD_KEYS = {"operationName", "time", "eventTimestamp", "resourceId", "records", "category"}
_HEADER_SUFFIX_RE = re.compile(r"\s*\[[A-Za-z]+\]$")  # as loaders: "TimeGenerated [UTC]"


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _datetime_sql(text: str) -> str:
    """A datetime column's text as the loaders and :func:`_to_datetime` read it: the portal's
    `4/28/2021, 2:32:14.029 PM` (UTC), or ISO; an offset or `Z` converted to UTC; '' null."""
    us = r"^\d{1,2}/\d{1,2}/\d{4}, \d{1,2}:\d{2}:\d{2}(\.\d{1,6})? [AP]M$"
    return (
        f"CASE WHEN {text} IS NULL OR {text} = '' THEN NULL "
        f"WHEN regexp_matches(trim({text}), '{us}') THEN "
        f"strptime(trim({text}), ['%m/%d/%Y, %I:%M:%S.%f %p', '%m/%d/%Y, %I:%M:%S %p']) "
        f"WHEN regexp_matches(trim({text}), '(Z|[+-]\\d{{2}}:?\\d{{2}})$') "
        f"THEN CAST(trim({text}) AS TIMESTAMPTZ) AT TIME ZONE 'UTC' "
        f"ELSE CAST(trim({text}) AS TIMESTAMP) END"
    )


def _blank(text: str) -> str:
    return f"regexp_matches({text}, '^\\s*$')"


_COMBO_SAMPLE = 2_000  # rows of an export judged for combinations


@dataclass(frozen=True)
class ExportScan:
    """What :meth:`Engine.scan_export` found in a file: its table and row count, per query the
    row numbers it matched (or why it was refused), and the kept columns of the matched rows."""

    table: str
    rows: int
    matches: list[list[int] | ReplayQueryError]
    details: dict[int, dict[str, Any]]


@dataclass(frozen=True)
class _ExportPlan:
    """An export file read as rows of `table`: `select` holds, per column of the table in schema
    order, the SQL of its typed value over `source`; `checks` the SQL conditions that a row is
    plain (read alike by the loaders); `raw` the SQL of each present column's raw value."""

    source: str
    table: str
    raw: Mapping[str, str]
    select: Sequence[str]
    checks: Sequence[str]

    @property
    def plain(self) -> str:
        """SQL: the row passes every check (false, not null, when one is null)."""
        return f"coalesce({' AND '.join(f'({c})' for c in self.checks)}, false)"


class _NotNative(Exception):
    """The file is not a plain export the native path reads exactly as the loaders do."""


def _csv_head(path: Path) -> tuple[list[str], dict[str, Any]]:
    """The CSV's column names and first row as the loaders read them."""
    import csv

    with path.open(encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        row = next(reader, None)
    if row is None or len(row) > len(header):
        raise _NotNative
    return header, dict(zip(header, row, strict=False))


def _first_json_line(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8-sig") as handle:
        for line in handle:
            if line.strip():
                try:
                    record = json.loads(line)
                except ValueError as error:
                    raise _NotNative from error
                if not isinstance(record, dict):
                    raise _NotNative
                return record
    raise _NotNative
