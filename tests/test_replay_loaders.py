"""Loaders that never crash and never guess: each bad input, its exit code and its one-line message
(`sigma-azure-aks replay`, in process)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from replay_support import activity_rule, require_engine, shared_path

# `operationName` reads OperationNameValue only; keywords read every column (full-row search).
BY_OPERATION = activity_rule("sel:\n    operationName: MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE")
BY_KEYWORD = activity_rule("keywords:\n    - 'virtualMachines'", condition="keywords")
RULE_ID = "5d0c1b3a-0000-4000-8000-000000000001"


def _rows() -> list[dict[str, Any]]:
    path = shared_path("samples", "azureactivity_training_lab.jsonl")
    lines = path.read_text(encoding="utf-8").split("\n")
    return [json.loads(line) for line in lines if line.strip()][:3]


def _csv_text(rows: list[dict[str, Any]]) -> str:
    names = list(dict.fromkeys(k for row in rows for k in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, names, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: v if isinstance(v, str) else json.dumps(v) for k, v in row.items()})
    return out.getvalue()


def _run(
    tmp_path: Path, rule: str, events: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, Any, list[str]]:
    require_engine()
    from sigma_azure_aks.commands import main

    rule_path = tmp_path / "rule.yml"
    rule_path.write_text(rule, encoding="utf-8")
    code = main(["replay", str(rule_path), "--events", str(events), "-f", "json"])
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if "Warning" not in line]
    return code, json.loads(out) if out.strip() else None, lines


def _vm_write_ids(rows: list[dict[str, Any]]) -> list[str]:
    return [
        r["EventDataId"]
        for r in rows
        if r["OperationNameValue"].upper() == "MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE"
    ]


def test_json_lines_split_on_newline_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A raw U+2028 inside a string is valid JSON: the row reads, and its rule fires."""
    rows = _rows()
    rows[0]["Caller"] = "first\u2028second\u2029third\x85fourth"
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    assert "\u2028" in path.read_text(encoding="utf-8")
    code, found, _ = _run(tmp_path, BY_OPERATION, path, capsys)
    assert code == 0
    assert found == {RULE_ID: _vm_write_ids(rows)}


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("TimeGenerated", "yesterday at noon", "column TimeGenerated: 'yesterday at noon' is not a datetime"),
        ("Properties_d", "{not json", "column Properties_d: '{not json' is not JSON"),
        ("_BilledSize", "12 bytes", "column _BilledSize: '12 bytes' is not a real"),
    ],
)
def test_a_value_that_does_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, column: str, value: str, message: str
) -> None:
    """In a column no rule reads: the run goes on. In a column a rule reads: one error line naming
    the file, the row and the column, exit 2."""
    rows = _rows()
    rows[1][column] = value
    path = tmp_path / f"events.{kind}"
    if kind == "csv":
        path.write_text(_csv_text(rows), encoding="utf-8")
    else:
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    code, found, lines = _run(tmp_path, BY_OPERATION, path, capsys)
    assert code == 0, lines
    assert found == {RULE_ID: _vm_write_ids(rows)}
    code, found, lines = _run(tmp_path, BY_KEYWORD, path, capsys)
    assert code == 2
    where = "row 2" if kind == "csv" else "line 2"
    assert lines[-1].startswith(f"error: {path}: {where}: {message}"), lines
    assert len([line for line in lines if line.startswith("error:")]) == 1


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (lambda text: text[: text.rindex(",")], "row 3 ends before column"),  # the last field cut off
        (lambda text: text.rstrip("\n")[:-3] + ',"cut', "row 3: "),  # inside a quoted value
    ],
)
def test_a_cut_csv_row_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cut: Any, message: str
) -> None:
    rows = _rows()
    path = tmp_path / "events.csv"
    path.write_text(cut(_csv_text(rows)), encoding="utf-8")
    code, found, lines = _run(tmp_path, BY_OPERATION, path, capsys)
    assert code == 2 and found is None
    [line] = lines
    assert line.startswith(f"error: {path}: {message}"), line
    assert "cut row" in line


def test_the_engine_spill_folder_goes_with_the_engine() -> None:
    require_engine()
    import gc

    from sigma_azure_aks.replay.engine import Engine

    closed, dropped = Engine("100MB"), Engine("100MB")
    folders = [
        Path(e.con.execute("SELECT current_setting('temp_directory')").fetchone()[0])
        for e in (closed, dropped)
    ]
    assert all(f.is_dir() for f in folders)
    closed.close()
    del dropped
    gc.collect()
    assert not any(f.exists() for f in folders)
