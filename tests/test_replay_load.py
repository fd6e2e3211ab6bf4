"""An export's load computes the columns the file lacks (one constant each) rather than storing a
value a row for them; a later load into the same table stores them first. Every value and every
hit stays what the loaders give."""

from __future__ import annotations

import json
from pathlib import Path

from replay_support import require_engine

AA = "AzureActivity\n| where "
QUERIES = [
    AA + 'Caller == ""',
    AA + 'Caller =~ "BOB@x.com"',
    AA + "isnull(TimeGenerated)",
    AA + 'Type == "AzureActivity"',
    AA + "isempty(Properties_d)",
    AA + 'tostring(Properties_d.message) == "Delete"',
    AA + 'OperationNameValue endswith "/write" and isnotempty(Caller)',
    AA + '* contains "carol"',
]


def _lines(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _values(engine) -> list[tuple]:
    from sigma_azure_aks.replay.sql import ROW_COLUMN
    from sigma_azure_aks.sources import TABLES

    columns = ", ".join(f'"{c}"' for c in TABLES["AzureActivity"])
    return engine.con.execute(f'SELECT {ROW_COLUMN}, {columns} FROM "AzureActivity" ORDER BY 1').fetchall()


def test_columns_an_export_lacks_are_computed_until_a_later_load_fills_them(tmp_path: Path) -> None:
    require_engine()
    from sigma_azure_aks.replay.engine import Engine
    from sigma_azure_aks.replay.loaders import read_events

    narrow = _lines(  # no Caller, Properties_d, TimeGenerated or Type
        tmp_path / "narrow.jsonl",
        [
            {"$table": "AzureActivity", "EventDataId": f"n{i}", "OperationNameValue": "X/WRITE"}
            for i in range(3)
        ],
    )
    wide = _lines(
        tmp_path / "wide.jsonl",
        [
            {
                "$table": "AzureActivity",
                "Type": "AzureActivity",
                "EventDataId": f"w{i}",
                "OperationNameValue": "X/WRITE",
                "Caller": ["bob@x.com", ""][i % 2],
                "Properties_d": {"message": "Delete"},
                "TimeGenerated": "2024-05-01T10:00:00.1234567Z",
            }
            for i in range(2)
        ],
    )
    later = [{"EventDataId": "p0", "Caller": "carol", "OperationNameValue": "X/WRITE"}]

    fast = Engine()
    assert fast.load_export(narrow) == ("AzureActivity", 3)
    assert {"Caller", "Properties_d", "TimeGenerated", "Type"} <= set(fast._constant_columns["AzureActivity"])
    slow = Engine()
    slow.load("AzureActivity", [event.row for event in read_events([narrow])])
    assert _values(fast) == _values(slow)
    assert fast.matches_many(QUERIES) == slow.matches_many(QUERIES)

    # a second export stores them, each earlier row holding its constant; then rows from Python
    assert fast.load_export(wide) == ("AzureActivity", 5)
    assert not fast._constant_columns["AzureActivity"]
    fast.load("AzureActivity", later)
    slow.load("AzureActivity", [event.row for event in read_events([wide])])
    slow.load("AzureActivity", later)
    assert _values(fast) == _values(slow)
    hits = fast.matches_many(QUERIES)
    assert hits == slow.matches_many(QUERIES)
    assert hits[0] == [0, 1, 2, 4] and hits[1] == [3] and hits[7] == [5]


def test_a_table_created_empty_takes_any_load_after(tmp_path: Path) -> None:
    """A correlation's tables exist before any load (empty, nothing computed); an export loaded
    after stores every column, as before."""
    require_engine()
    from sigma_azure_aks.replay.engine import Engine

    engine = Engine()
    engine._create("AzureActivity")
    path = _lines(tmp_path / "e.jsonl", [{"$table": "AzureActivity", "EventDataId": "a", "Caller": "bob"}])
    assert engine.load_export(path) == ("AzureActivity", 1)
    assert engine.matches(AA + 'Caller == "bob" and OperationNameValue == ""') == [0]
