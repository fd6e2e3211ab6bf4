"""Every input format of every source replays to the same hits, generated from the declarations.

For each registered source with row markers or a raw record reader, the same generated events
(values drawn for each column from its declared type) are written as a CSV export (the portal's
headers and datetimes), a JSON array, JSON lines, and as raw records by each reader's own inverse
(`RawRecordReader.write`). Queries on every column then match the same events in each format,
through the loaders and, for the files the engine reads itself, through the export scan. A source
or an input format registered tomorrow is drawn the same way.
"""

from __future__ import annotations

import csv
import json
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from replay_support import require_engine

from sigma_azure_aks.replay.columns import converter
from sigma_azure_aks.replay.loaders import read_events
from sigma_azure_aks.replay.rows import read_datetime
from sigma_azure_aks.sources import Source, all_sources

ROWS = 24
WORDS = ["alpha", "Beta", "alpha beta", "x,y", 'say "hi"', "line1\nline2", "", "ünï", "42", "ALPHA"]
DYNAMICS = [None, {"k": "alpha"}, {"k": "Beta", "n": 5}, ["alpha", "x"], {"k": {"deep": "alpha"}}, []]
NUMBERS = {"long": [0, 1, 5, -3, 2**40], "int": [0, 1, 5, -3], "real": [0.5, 1.5, -2.25, 3.0]}
START = datetime(2021, 4, 28, 11, 0)

SOURCES = [source for source in all_sources() if source.row_markers or source.raw_records]


def _value(kind: str, rng: random.Random) -> Any:
    if kind == "string":
        return rng.choice(WORDS)
    if kind == "dynamic":
        return rng.choice(DYNAMICS)
    if kind == "datetime":
        if rng.random() < 0.1:
            return None
        moment = START + timedelta(milliseconds=rng.randrange(0, 4 * 3600 * 1000))
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if kind in NUMBERS:
        return rng.choice([*NUMBERS[kind], None])
    if kind == "bool":
        return rng.choice([True, False, None])
    raise AssertionError(f"no values for the type {kind}")


def generated_rows(source: Source) -> list[dict[str, Any]]:
    rng = random.Random(source.table)
    return [
        {
            column: source.table if column == "Type" else _value(kind, rng)
            for column, kind in source.schema.items()
        }
        for _ in range(ROWS)
    ]


# ---- writers of each format ------------------------------------------------------------------------
def _portal(value: str | None) -> str:
    """The portal's CSV datetime: `4/28/2021, 2:32:14.029 PM` (UTC, said in the header)."""
    if value is None:
        return ""
    moment = read_datetime(value)
    assert moment is not None
    hour = moment.hour % 12 or 12
    ampm = "AM" if moment.hour < 12 else "PM"
    return f"{moment.month}/{moment.day}/{moment.year}, {hour}:{moment:%M:%S}.{moment.microsecond // 1000:03d} {ampm}"


def _csv_cell(kind: str, value: Any) -> str:
    if value is None:
        return ""
    if kind == "dynamic":
        return json.dumps(value, ensure_ascii=False)
    if kind == "datetime":
        return _portal(value)
    if kind == "bool":
        return "TRUE" if value else "FALSE"
    return str(value)


def write_csv(path: Path, source: Source, rows: list[dict[str, Any]]) -> None:
    columns = list(source.schema)
    header = [f"{c} [UTC]" if source.schema[c] == "datetime" else c for c in columns]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([_csv_cell(source.schema[c], row[c]) for c in columns])


def write_json(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")


def write_records(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text(json.dumps({"records": records}, ensure_ascii=False), encoding="utf-8")


# ---- queries on every column -------------------------------------------------------------------------
def column_queries(source: Source, columns: list[str]) -> list[str]:
    table = source.table
    queries = []
    for column in columns:
        kind = source.schema[column]
        where = f"{table}\n| where "
        if kind == "string":
            queries += [f'{where}{column} =~ "alpha" or {column} contains "beta" or isempty({column})']
        elif kind == "dynamic":
            queries += [f'{where}tostring({column}) contains "alpha"']
        elif kind == "datetime":
            queries += [f"{where}{column} > datetime(2021-04-28T13:00:00Z)"]
        elif kind in NUMBERS:
            queries += [f"{where}{column} > 1"]
        elif kind == "bool":
            queries += [f"{where}{column} == true"]
    return queries


def queried_columns(source: Source) -> list[str]:
    """Every column that is not a string, and of the string columns those that name and show a row
    with a few others (a query costs a translation per engine)."""
    strings = [c for c, kind in source.schema.items() if kind == "string" and c != "Type"]
    named = {*source.row_markers, *source.kept_columns()}
    others = random.Random(source.table).sample(
        [c for c in strings if c not in named], k=min(6, len(strings))
    )
    return [
        c
        for c, kind in source.schema.items()
        if (kind != "string" and c != "Type") or c in named or c in others
    ]


def loaded_rows(path: Path, source: Source) -> list[dict[str, Any]]:
    """The rows read from a file, each value as the engine loads it (its column's conversion)."""
    events = read_events([path])
    assert {event.table for event in events} == {source.table}, path.name
    return [
        {column: converter(kind)(event.row.get(column)) for column, kind in source.schema.items()}
        for event in events
    ]


def _hits(results: list[Any]) -> list[Any]:
    return [str(r) if isinstance(r, Exception) else r for r in results]


def loaded_hits(path: Path, table: str, queries: list[str]) -> list[Any]:
    from sigma_azure_aks.replay.engine import Engine

    events = read_events([path])
    assert {event.table for event in events} == {table}, path.name
    engine = Engine()
    engine.load(table, [event.row for event in events])
    return _hits(engine.matches_many(queries))


def scanned_hits(path: Path, queries: list[str]) -> list[Any] | None:
    from sigma_azure_aks.replay.engine import Engine

    outcome = Engine().scan_export(path, queries)
    return None if outcome is None else _hits(outcome.matches)


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.table)
def test_every_input_format_replays_to_the_same_hits(tmp_path: Path, source: Source) -> None:
    """The loaders read every format into the same rows; the engine's hits on them equal the export
    scan's hits on the CSV and JSON lines files; each raw record kind reads back the rows' values
    on the columns it carries, which are at least those a replay report shows."""
    require_engine()
    rows = generated_rows(source)
    files = {
        "json": tmp_path / "export.json",
        "csv": tmp_path / "export.csv",
        "jsonl": tmp_path / "export.jsonl",
    }
    write_json(files["json"], rows)
    write_csv(files["csv"], source, rows)
    write_jsonl(files["jsonl"], rows)
    expected_rows = loaded_rows(files["json"], source)
    for name in ("csv", "jsonl"):
        assert loaded_rows(files[name], source) == expected_rows, name
    queries = column_queries(source, queried_columns(source))
    expected = loaded_hits(files["json"], source.table, queries)
    assert sum(bool(hits) for hits in expected if isinstance(hits, list)) * 2 >= len(queries), "too few hits"
    for name in ("csv", "jsonl"):
        scanned = scanned_hits(files[name], queries)
        assert scanned is None or scanned == expected, f"{name} scanned"
    for number, reader in enumerate(source.raw_records):
        if reader.write is None:  # no inverse written: the kind is tested on its samples
            continue
        kind_rows, kind_expected_rows, kind_expected = rows, expected_rows, expected
        if reader.fixed:  # the rows of this kind hold what the kind fixes (the connector's own columns)
            kind_rows = [{**row, **reader.fixed} for row in rows]
            kind_path = tmp_path / f"kind-{number}.json"
            write_json(kind_path, kind_rows)
            kind_expected_rows = loaded_rows(kind_path, source)
            kind_expected = loaded_hits(kind_path, source.table, queries)
        path = tmp_path / f"records-{number}.json"
        write_records(path, [reader.write(row) for row in kind_rows])
        read = loaded_rows(path, source)
        # the columns a record of this kind carries: those it gives back as they were written
        carried = [
            c for c in source.schema if all(r[c] == e[c] for r, e in zip(read, kind_expected_rows, strict=True))
        ]
        assert set(reader.fixed) <= set(carried), reader.description
        assert set(source.kept_columns()) <= set(carried), (
            reader.description,
            set(source.kept_columns()) - set(carried),
        )
        raw_queries = column_queries(source, [c for c in queried_columns(source) if c in carried])
        assert loaded_hits(path, source.table, raw_queries) == [
            hits for query, hits in zip(queries, kind_expected, strict=True) if query in raw_queries
        ], reader.description
        assert scanned_hits(path, raw_queries) is None  # raw records are for the readers, never scanned


# ---- legacy routes: the preamble before the rule's `where` runs in the export scan too ---------------
JSON_TEXTS = ['{"k": "alpha"}', '[{"id": "1", "displayName": "Alpha Beta"}]', '{"k": {"deep": "Beta"}, "n": 5}',
              "[]", "{}", "null", '"alpha"', "not json", '{"k": "\\u00e9lan alpha"}']
PREAMBLE_SOURCES = [source for source in all_sources() if source.preamble]


def preamble_rows(source: Source) -> list[dict[str, Any]]:
    """Generated rows where the string columns the preamble reads hold its own literals (a legacy
    route's filter values) or JSON texts (what it parses), now and then."""
    from sigma_azure_aks.replay.kql_rewrite import identifiers, kql_tokens

    read = identifiers(source.preamble) & {c for c, kind in source.schema.items() if kind == "string"}
    literals = [json.loads(text) for kind, text in kql_tokens(source.preamble) if kind == "str" and text[0] == '"']
    rng = random.Random(source.table + " preamble")
    rows = generated_rows(source) + generated_rows(source)
    for row in rows:
        for column in sorted(read - {"Type"}):
            if rng.random() < 0.8:
                row[column] = rng.choice(literals if literals and rng.random() < 0.6 else JSON_TEXTS)
    return rows


def preamble_queries(source: Source) -> list[str]:
    """Queries as the route writes them (the preamble in place of the table) on every queried
    column and on each column the preamble adds: its text, a member, its presence."""
    conditions = [query.split("\n| where ", 1)[1] for query in column_queries(source, queried_columns(source))]
    for column, kind in source.preamble_columns.items():
        conditions += [f'tostring({column}) contains "alpha"', f'{column}.k =~ "alpha"', f"isnotempty({column})"]
        if kind == "dynamic":
            conditions += [f'{column}[0].displayName has "beta"', f'tostring({column}.k.deep) == "Beta"']
    return [f"{source.preamble}\n| where {condition}" for condition in conditions]


@pytest.mark.parametrize("source", PREAMBLE_SOURCES, ids=lambda s: s.table)
def test_a_legacy_routes_preamble_runs_in_the_export_scan(tmp_path: Path, source: Source) -> None:
    """A query whose route writes a preamble (filters and parsed columns before the rule's `where`:
    Okta_CL's target array, AzureDiagnostics' AKS events) matches the same rows when the export
    is scanned in one pass (CSV and JSON lines) as when it is loaded; none is refused."""
    require_engine()
    rows = preamble_rows(source)
    queries = preamble_queries(source)
    files = {"json": tmp_path / "export.json", "csv": tmp_path / "export.csv", "jsonl": tmp_path / "export.jsonl"}
    write_json(files["json"], rows)
    write_csv(files["csv"], source, rows)
    write_jsonl(files["jsonl"], rows)
    expected = loaded_hits(files["json"], source.table, queries)
    assert all(isinstance(hits, list) for hits in expected), expected
    assert sum(bool(hits) for hits in expected) * 2 >= len(queries), "too few hits"
    assert any(hits and len(hits) < len(rows) for hits in expected[-5:]), "the parsed column tells rows apart"
    for name in ("csv", "jsonl"):
        scanned = scanned_hits(files[name], queries)
        assert scanned == expected, name
