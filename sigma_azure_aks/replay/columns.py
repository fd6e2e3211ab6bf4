"""Python values loaded into the engine: each column converted to its DuckDB form, dictionary-
encoded, and inserted column-wise (:func:`insert_columns`).

Kusto string columns never hold null: an absent string is stored as ``""``.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import Any

from ..sources import TABLES
from .rows import read_datetime
from .sql import COMBO_COLUMN, ROW_COLUMN, SQL_TYPES


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


_BOOLS = {"true": True, "false": False}  # Log Analytics exports write TRUE/FALSE (CSV) or true/false


def _to_bool(value: Any) -> bool | None:
    """A bool column's value: a JSON boolean, or its text in any case; '' (an empty CSV cell) null."""
    if value is None or value == "" or isinstance(value, bool):
        return value if value != "" else None
    if isinstance(value, str) and value.strip().lower() in _BOOLS:
        return _BOOLS[value.strip().lower()]
    raise ValueError(f"not a bool: {value!r}")


def converter(kind: str) -> Any:
    if kind == "string":
        return _to_string
    if kind == "dynamic":
        return _to_dynamic
    if kind == "datetime":
        return read_datetime
    if kind in {"real"}:
        return lambda v: None if v in (None, "") else float(v)
    if kind in {"long", "int"}:
        return lambda v: None if v in (None, "") else int(v)
    if kind == "bool":
        return _to_bool
    return lambda v: v


PLAIN: list[int] = []  # codes of a column sent as it is, one value per row


def encode(values: Sequence[Any] | None, convert: Any, count: int) -> tuple[list[Any], list[int] | None]:
    """(distinct converted values, codes) for a column; codes None: one value for every row;
    codes PLAIN: the values are the converted column itself (mostly distinct strings).

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
            return list(values), PLAIN
    else:
        firsts = dict(zip(keys, values, strict=True))  # equal keys convert alike
        distinct = [convert(firsts[key]) for key in index]
    index = dict(zip(index, range(len(index)), strict=True))
    return distinct, list(map(index.__getitem__, keys))


def combinations(
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


def insert_columns(
    con: Any, table: str, start: int, columns: Mapping[str, Sequence[Any]], count: int, combo_base: int
) -> tuple[tuple[str, ...], int]:
    """Insert `count` rows given column-wise (column -> values; absent columns are empty) into
    `table`, numbered from `start`; returns (the columns sent as one combination code per row,
    the number of combinations, coded from `combo_base`).

    No per-row dicts, and each column is dictionary-encoded (a value repeated across rows, such
    as a shared claims object, is converted once). Columns with few distinct values travel
    together as one code per row for their combination of values; DuckDB reads each per-row list
    once."""
    if not count:
        return (), 0
    schema = TABLES[table]
    names = list(schema)
    params: list[Any] = []
    unnests: list[str] = []
    select_sql = [f"CAST(range AS BIGINT) + {start} AS {ROW_COLUMN}"]

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    def per_row(values: list[Any]) -> str:
        unnests.append(f"unnest({param(values)}) AS u{len(unnests)}")
        return f"u{len(unnests) - 1}"

    encoded = {n: encode(columns.get(n), converter(schema[n]), count) for n in names}
    few, combo_codes, combo_rows = combinations(encoded, names, count)
    combo_index = dict.fromkeys(combo_rows)  # a row of each combination, in code order
    combo_ref = per_row(combo_codes) if combo_index else ""
    combo_position = {n: i for i, n in enumerate(few)} if combo_index else {}
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
            kind = SQL_TYPES.get(schema[name], "VARCHAR")
            combo_sql.append(f'CAST(unnest(${len(combo_params)}) AS {kind}) AS "k{i}"')
        con.execute(f'CREATE OR REPLACE TEMP TABLE "{combos}" AS SELECT {", ".join(combo_sql)}', combo_params)
    for name in names:
        kind = SQL_TYPES.get(schema[name], "VARCHAR")
        distinct, codes = encoded[name]
        if codes is None:
            select_sql.append(f'CAST({param(distinct[0])} AS {kind}) AS "{name}"')
        elif name in combo_position:
            select_sql.append(f'c."k{combo_position[name]}" AS "{name}"')
        elif codes is PLAIN:
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
    con.execute(
        f'INSERT INTO "{table}" ({names_sql}) SELECT {", ".join(select_sql)} FROM {source}',
        params,
    )
    if combo_index:
        con.execute(f'DROP TABLE "{combos}"')
    return tuple(combo_position), len(combo_index)
