"""Replay engine: probes of every construct our target emits, loaders, Python API and CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from replay_support import require_engine, shared_path

AA = "AzureActivity\n| where "


@pytest.fixture(scope="module")
def engine():
    require_engine()
    from sigma_azure_aks.replay.engine import Engine

    eng = Engine()
    upn = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
    eng.load(
        "AzureActivity",
        [
            {
                "EventDataId": "0",
                "OperationNameValue": "MICROSOFT.A/WRITE",
                "Caller": "Bob@X.com",
                "CallerIpAddress": "10.1.2.3",
                "Properties_d": {"message": "Delete Device", "n": 5, "s": "5", "z": None},
                "Claims_d": {upn: "bob@x.com"},
                "HTTPRequest": '{"method":"PUT"}',
                "TimeGenerated": "2021-04-28T14:45:53.6Z",
            },
            {
                "EventDataId": "1",
                "OperationNameValue": "microsoft.b/delete",
                "CallerIpAddress": "2001:db8::1",
                "Properties_d": {"message": "line1\nline2", "z": "v"},
            },
            {"EventDataId": "2", "OperationNameValue": "", "Caller": "", "CallerIpAddress": "x"},
        ],
    )
    return eng


# (KQL condition, rows the real Kusto returns) -- probed against the engine
PROBES = [
    ('OperationNameValue =~ "microsoft.a/write"', [0]),
    ('OperationNameValue == "microsoft.a/write"', []),
    ('OperationNameValue == "MICROSOFT.A/WRITE"', [0]),
    ('OperationNameValue in~ ("microsoft.a/write", "MICROSOFT.B/DELETE")', [0, 1]),
    ('OperationNameValue in ("microsoft.a/write", "microsoft.b/delete")', [1]),
    ('OperationNameValue startswith "micro"', [0, 1]),
    ('OperationNameValue startswith_cs "micro"', [1]),
    ('OperationNameValue endswith "WRITE"', [0]),
    ('OperationNameValue endswith_cs "write"', []),
    ('OperationNameValue contains "A/W"', [0]),
    ('OperationNameValue contains_cs "a/w"', []),
    ('OperationNameValue contains "%"', []),
    ('OperationNameValue contains "_"', []),
    ('OperationNameValue matches regex "(?is)^micro.*write$"', [0]),
    ('OperationNameValue matches regex "(?s)^micro.*write$"', []),
    ('tostring(Properties_d.message) matches regex "(?m)^line2$"', [1]),
    ('tostring(Properties_d.message) matches regex "^line2$"', []),
    ("isempty(Caller)", [1, 2]),
    ("isnotempty(Caller)", [0]),
    ("isnotnull(Caller)", [0, 1, 2]),
    ("isnotnull(Properties_d.message)", [0, 1]),
    ("isnotnull(Properties_d.z)", [1]),  # a JSON null member is null (bridged)
    ("isempty(tostring(Properties_d.message))", [2]),
    ('tostring(Properties_d.message) =~ "delete device"', [0]),
    ('tostring(Claims_d["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"]) =~ "BOB@x.com"', [0]),
    ('tostring(parse_json(HTTPRequest).method) =~ "put"', [0]),
    ("toreal(Properties_d.n) == 5", [0]),
    ("toreal(Properties_d.s) == 5", [0]),
    ("toreal(Properties_d.n) > 4", [0]),
    ('not(OperationNameValue =~ "microsoft.a/write")', [1, 2]),
    ('ipv4_is_in_range(CallerIpAddress, "10.0.0.0/8")', [0]),
    ('ipv4_is_in_range(CallerIpAddress, "10.1.2.3/32")', [0]),
    ('ipv6_is_in_range(CallerIpAddress, "2001:db8::/32")', [1]),
    ('ipv6_is_in_range(CallerIpAddress, "::ffff:10.0.0.0/104")', [0]),
    ('* contains "bob@"', [0]),
    ('* contains_cs "BOB@"', []),
    ('* contains "delete device"', [0]),
    ('* contains "2021-04-28T14:45:53"', [0]),
    ('* contains "\\"method\\""', [0]),
    ("true", [0, 1, 2]),
]


@pytest.mark.parametrize(("condition", "expected"), PROBES)
def test_probe(engine, condition: str, expected: list[int]) -> None:
    assert engine.matches(AA + condition) == expected


@pytest.mark.slow
def test_matches_many_equals_matches(engine) -> None:
    queries = [AA + c for c, _ in PROBES]
    assert engine.matches_many(queries) == [engine.matches(q) for q in queries]


@pytest.mark.parametrize(
    "condition",
    [
        '* has "x"',
        "Caller * 2 == 1",
        'ipv4_is_in_range(CallerIpAddress, "nonsense")',
        "unknown_function(Caller)",
    ],
)
def test_refuses_what_it_cannot_answer(engine, condition: str) -> None:
    from sigma_azure_aks.replay.engine import ReplayQueryError

    with pytest.raises(ReplayQueryError):
        engine.matches(AA + condition)


def test_refusal_is_per_query(engine) -> None:
    from sigma_azure_aks.replay.engine import ReplayQueryError

    ok, bad = engine.matches_many([AA + "true", AA + '* has "x"'])
    assert ok == [0, 1, 2] and isinstance(bad, ReplayQueryError)


def test_ipv6_not_in_range_is_null_for_non_addresses(engine) -> None:
    assert engine.matches(AA + 'not(ipv6_is_in_range(CallerIpAddress, "2001:db8::/32"))') == [0]


# ---- loaders -----------------------------------------------------------------------------------------
def test_csv_and_jsonl_exports_load_identically() -> None:
    from sigma_azure_aks.replay.loaders import read_events

    csv_events = read_events([shared_path("samples", "azureactivity_training_lab.csv")])
    jsonl_events = read_events([shared_path("samples", "azureactivity_training_lab.jsonl")])
    assert len(csv_events) == len(jsonl_events) == 23
    for a, b in zip(csv_events, jsonl_events, strict=True):
        assert a.table == b.table == "AzureActivity"
        assert a.event_id == b.event_id
        assert a.row["Properties_d"] == b.row["Properties_d"]
        assert a.row["TimeGenerated"] == b.row["TimeGenerated"]
        assert isinstance(a.row["Claims_d"], dict)


def test_raw_activity_records_map_through_the_field_map(tmp_path: Path) -> None:
    from sigma_azure_aks.replay.loaders import read_events

    shapes = json.loads(shared_path("samples", "activity_log_raw_shapes.json").read_text())
    hub = tmp_path / "hub.json"
    hub.write_text(json.dumps(shapes["event_hub_resource_log_schema"]))
    storage = tmp_path / "pt1h.json"
    storage.write_text(json.dumps(shapes["storage_pt1h_line_resource_log_schema"]) + "\n")
    rest = tmp_path / "rest.json"
    rest.write_text(json.dumps([shapes["rest_api_schema_administrative_event"]]))
    hub_event, storage_event, rest_event = read_events([hub, storage, rest])
    row = hub_event.row
    assert row["OperationNameValue"] == "microsoft.support/supporttickets/write"
    assert row["ActivityStatusValue"] == "Success"
    assert row["ActivitySubstatusValue"] == "Succeeded.Created"
    assert row["CallerIpAddress"] == "111.111.111.11"
    assert "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn" in row["Claims_d"]
    assert row["Authorization_d"]["action"] == "microsoft.support/supporttickets/write"
    assert hub_event.event_id == 1  # no eventDataId: the record number
    assert storage_event.row["CategoryValue"] == "ResourceHealth"  # properties.eventCategory
    rest_row = rest_event.row
    assert rest_row["OperationNameValue"] == "Microsoft.Network/networkSecurityGroups/write"
    assert rest_row["ActivityStatusValue"] == "Succeeded"
    assert rest_row["CategoryValue"] == "Administrative"
    assert rest_event.event_id == rest_row["EventDataId"]
    assert isinstance(rest_row.get("HTTPRequest", "{}"), str)


def test_kube_audit_records_become_aks_rows() -> None:
    from sigma_azure_aks.replay.loaders import read_events

    events = read_events([shared_path("samples", "aks_kube_audit_records.json")])
    assert [e.table for e in events] == ["AKSAudit", "AKSAuditAdmin"]
    assert events[0].event_id == "10e60f03-0635-429b-b324-315166f249cc"
    assert events[0].row["Verb"] == "update"
    assert events[0].row["User"]["username"] == "aksService"


@pytest.mark.parametrize("content", ["", "just text\nmore", '{"a": 1}', "[1, 2]", "x,y\n1,2\n"])
def test_unknown_input_is_a_clear_error(tmp_path: Path, content: str) -> None:
    from sigma_azure_aks.replay.loaders import EventsFormatError, read_events

    path = tmp_path / "events.txt"
    path.write_text(content)
    with pytest.raises(EventsFormatError, match="events.txt"):
        read_events([path])


# ---- Python API and CLI ------------------------------------------------------------------------------
RULE = """
title: NSG write
id: 11111111-2222-4333-8444-555555555555
logsource: {product: azure, service: activitylogs}
detection:
  sel: {operationName: 'Microsoft.Network/networkSecurityGroups/write'}
  condition: sel
"""


NSG_ROWS = [
    {
        "$table": "AzureActivity",
        "EventDataId": "e1",
        "OperationNameValue": "MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/WRITE",
    },
    {
        "$table": "AzureActivity",
        "EventDataId": "e2",
        "OperationNameValue": "MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/DELETE",
    },
]


@pytest.mark.parametrize("scan", [False, True])
def test_api_with_yaml_and_rows(scan: bool) -> None:
    """Rows only: read by the loaders either way (scan=True scans files only)."""
    require_engine()
    from sigma_azure_aks.replay import replay

    assert dict(replay(RULE, NSG_ROWS, scan=scan)) == {"11111111-2222-4333-8444-555555555555": ["e1"]}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sigma_azure_aks.commands", "replay", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_cli_json_and_text(tmp_path: Path) -> None:
    require_engine()
    corpus = shared_path("corpus", "sigmahq", "activitylogs")
    events = shared_path("samples", "azureactivity_training_lab.csv")
    done = _cli(str(corpus), "--events", str(events), "--format", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert len(result) == 35
    assert len(result["459a2970-bb84-4e6a-a32e-ff0fbd99448d"]) == 6
    text = _cli(str(corpus), "--events", str(events))
    assert text.returncode == 0
    assert "MICROSOFT.KEYVAULT/VAULTS/DELETE" in text.stdout
    assert "35 rules converted, 0 failed" in text.stderr


def test_cli_reports_failed_rules_and_runs_the_others(tmp_path: Path) -> None:
    require_engine()
    (tmp_path / "good.yml").write_text(RULE)
    (tmp_path / "bad.yml").write_text(RULE.replace("operationName", "noSuchField").replace("1111-", "1112-"))
    events = tmp_path / "events.jsonl"
    events.write_text(
        json.dumps(
            {
                "$table": "AzureActivity",
                "EventDataId": "e1",
                "OperationNameValue": "Microsoft.Network/networkSecurityGroups/write",
            }
        )
        + "\n"
    )
    done = _cli(str(tmp_path / "good.yml"), str(tmp_path / "bad.yml"), "--events", str(events), "-f", "json")
    assert done.returncode == 1
    assert json.loads(done.stdout) == {"11111111-2222-4333-8444-555555555555": ["e1"]}
    assert "noSuchField" in done.stderr


def test_cli_bad_events_file_is_usage_error(tmp_path: Path) -> None:
    require_engine()
    (tmp_path / "r.yml").write_text(RULE)
    (tmp_path / "e.txt").write_text("hello")
    done = _cli(str(tmp_path / "r.yml"), "--events", str(tmp_path / "e.txt"))
    assert done.returncode == 2 and "e.txt" in done.stderr


def test_missing_engine_gives_install_hint_and_exit_3(tmp_path: Path) -> None:
    (tmp_path / "r.yml").write_text(RULE)
    (tmp_path / "e.json").write_text("[]")
    code = (
        "import sys; sys.modules['duckdb_kql'] = None; from sigma_azure_aks.commands import main; "
        f"sys.exit(main(['replay', {str(tmp_path / 'r.yml')!r}, '--events', {str(tmp_path / 'e.json')!r}]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3
    assert "pip install 'pySigma-pipeline-azure[replay]'" in done.stderr


def test_package_import_is_light() -> None:
    code = "import sys, sigma_azure_aks.replay; print('duckdb' in sys.modules, 'duckdb_kql' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False False"


@pytest.mark.slow
def test_full_row_search_answers_as_the_per_column_disjunction() -> None:
    """`* contains` read from the joined text (combinations of few-valued columns once, the rest
    per row, over several loads) returns the rows the per-column disjunction returns, under not()
    too; a keyword holding the separator is searched per column."""
    require_engine()
    from sigma_azure_aks.replay.engine import Engine
    from sigma_azure_aks.replay.fulltext import star_disjunction

    shapes = [
        {
            "Caller": "Bob@X.com on behalf of ops",
            "Properties_d": {"message": "Delete Device", "n": 5},
            "Level": "Informational",
        },
        {
            "Caller": "ÅSA@x.com (an Åland user)",
            "Properties_d": {"m": 'say "hi"\nİstanbul'},
            "Claims_d": ["a", None],
        },
        {"Caller": "", "Properties_d": None, "HTTPRequest": '{"method":"PUT"}', "_BilledSize": 1.5},
        {
            "Caller": "sep\x1fin, a caller holding the separator",
            "Properties_d": "plain text",
            "Level": "Error",
        },
    ]
    rows = [
        {
            **shapes[i % 4],
            "EventDataId": f"id-{i}",
            "TimeGenerated": f"2021-04-{1 + i % 28:02d}T14:{i % 60:02d}:00Z",
        }
        for i in range(1200)
    ]
    names = {k for r in rows for k in r}
    eng = Engine()
    eng.load_columns("AzureActivity", {k: [r.get(k) for r in rows[:600]] for k in names}, 600)
    eng.load("AzureActivity", rows[600:610])
    eng.load_columns("AzureActivity", {k: [r.get(k) for r in rows[610:]] for k in names}, 590)
    assert any(columns for _, _, columns, _ in eng.fulltext.segments("AzureActivity"))  # combinations in use
    keywords = [
        "bob@x",
        "DELETE DEVICE",
        "åsa",
        "İstanbul",
        "istanbul",
        '\\"hi\\"',
        "t14:05",
        "id-1",
        "1.5",
        "informational",
        "",
        "p\x1fi",
        "sep",
        '"method"',
        "2021-04-03T14",
        "ne\nİ",
    ]
    for keyword in keywords:
        literal = json.dumps(keyword, ensure_ascii=False)
        slow = star_disjunction("AzureActivity", "contains", literal)
        for fast_q, slow_q in [
            (f"* contains {literal}", slow),
            (f"not(* contains {literal})", f"not({slow})"),
        ]:
            assert eng.matches(AA + fast_q) == eng.matches(AA + slow_q), keyword


# ---- native load of Log Analytics exports ------------------------------------------------------
def _all_columns(eng) -> list[tuple]:
    from sigma_azure_aks.replay.sql import ROW_COLUMN
    from sigma_azure_aks.sources import TABLES

    columns = ", ".join(f'"{c}"' for c in TABLES["AzureActivity"])
    return eng.con.execute(f'SELECT {ROW_COLUMN}, {columns} FROM "AzureActivity" ORDER BY 1').fetchall()


def _corpus_queries() -> list[str]:
    from sigma_azure_aks.replay.api import convert

    converted, failures = convert(shared_path("corpus", "sigmahq", "activitylogs"))
    assert not failures and len(converted) == 35
    return [c.query for c in converted]


def _loaded_by_the_loaders(path: Path):
    """(the file's events as the loaders read them, an engine holding them)."""
    from sigma_azure_aks.replay.engine import Engine
    from sigma_azure_aks.replay.loaders import read_events

    events = read_events([path])
    engine = Engine()
    engine.load(events[0].table, [e.row for e in events])
    return events, engine


def _both_loads(path: Path):
    """(engine loaded through the loaders, engine loaded natively) from one export file."""
    from sigma_azure_aks.replay.engine import Engine

    events, slow = _loaded_by_the_loaders(path)
    fast = Engine()
    assert fast.load_export(path) == (events[0].table, len(events))
    return slow, fast


@pytest.mark.slow
@pytest.mark.parametrize("name", ["azureactivity_training_lab.csv", "azureactivity_training_lab.jsonl"])
def test_native_export_load_equals_the_loaders(name: str) -> None:
    """DuckDB reading the real export itself gives every column value and every corpus rule's
    hits the loaders and Engine.load give."""
    require_engine()
    queries = _corpus_queries()
    slow, fast = _both_loads(shared_path("samples", name))
    assert len(_all_columns(fast)) == 23
    assert _all_columns(fast) == _all_columns(slow)
    assert fast.matches_many(queries) == slow.matches_many(queries)


_UPN = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
_EXPORT_SHAPES = [
    {
        "OperationNameValue": "MICROSOFT.A/WRITE",
        "Caller": "Bob@X.com",
        "CallerIpAddress": "10.1.2.3",
        "Properties": 'line1\r\nline2 of a multi-line "text" value',
        "Properties_d": {"message": "Delete Device", "n": 5, "s": "5", "z": None},
        "Claims_d": {_UPN: "bob@x.com"},
        "HTTPRequest": '{"method":"PUT"}',
        "TimeGenerated": "2021-04-28T14:45:53.6Z",
        "_BilledSize": 1.5,
    },
    {
        "OperationNameValue": "microsoft.b/delete",
        "CallerIpAddress": "2001:db8::1",
        "Properties_d": {"message": "line1\nline2", "z": "v"},
        "TimeGenerated": "4/28/2021, 2:32:14.029 PM",
        "EventSubmissionTimestamp": "2021-04-28T16:45:53.1234567+02:00",
        "Level": 4,
        "_IsBillable": True,
    },
    {
        "OperationNameValue": "",
        "Caller": "",
        "CallerIpAddress": "x",
        "Properties_d": "",
        "Authorization_d": "  ",
        "TimeGenerated": "",
    },
    {
        "OperationNameValue": "MICROSOFT.KEYVAULT/VAULTS/DELETE",
        "Caller": "ÅSA@x.com (an Åland user)",
        "Properties_d": {"m": 'say "hi"\nİstanbul', "list": [1, 2.5, None, True]},
        "Claims_d": '{"a": "\\u00e9t\\u00e9", "b": [ ]}',
        "TimeGenerated": "4/28/2021, 2:32:14 AM",
    },
]


def _export_rows(count: int) -> list[dict]:
    return [
        {
            "$table": "AzureActivity",
            **_EXPORT_SHAPES[i % 4],
            "EventDataId": f"id-{i}",
            "Type": "AzureActivity",
        }
        for i in range(count)
    ]


def _write_csv(path: Path, rows: list[dict]) -> None:
    import csv

    names = list(dict.fromkeys(k for r in rows for k in r))
    header = [f"{n} [UTC]" if n in {"TimeGenerated", "EventSubmissionTimestamp"} else n for n in names]
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)  # CR LF line ends, as the portal writes
        writer.writerow(header)
        for row in rows:
            values = [row.get(n) for n in names]
            writer.writerow(["" if v is None else v if isinstance(v, str) else json.dumps(v) for v in values])


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_native_export_load_equals_the_loaders_on_edge_rows(tmp_path: Path, kind: str) -> None:
    """Dynamic values as objects and as JSON text (escapes, empty, blank), CR LF inside a CSV
    field, the portal's and ISO datetimes with offsets and 7 digits, unicode; enough rows for
    columns combined: same values, same hits for the corpus rules and full-row searches."""
    require_engine()
    rows = _export_rows(300)
    path = tmp_path / f"export.{kind}"
    if kind == "csv":
        _write_csv(path, rows)
    else:
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    slow, fast = _both_loads(path)
    assert any(columns for _, _, columns, _ in fast.fulltext.segments("AzureActivity"))  # combinations in use
    assert _all_columns(fast) == _all_columns(slow)
    queries = _corpus_queries() + [
        AA + f"* contains {json.dumps(k, ensure_ascii=False)}"
        for k in ["bob@x", "istanbul", "line1\nline2", "\\u00e9", "été", "2021-04-28t02:32:14", '"method"']
    ]
    fast_hits = fast.matches_many(queries)
    assert fast_hits == slow.matches_many(queries)
    assert any(fast_hits[35:])


def test_native_load_declines_what_the_loaders_read_otherwise(tmp_path: Path) -> None:
    """Raw records, a JSON array, several tables in one file or a value the loaders refuse: None,
    nothing loaded, and the loaders' rows load after it from row 0."""
    require_engine()
    from sigma_azure_aks.replay.engine import Engine

    eng = Engine()
    raw = tmp_path / "raw.jsonl"
    raw.write_text(json.dumps({"operationName": "X/WRITE", "category": "Write", "time": "2021-04-28T14:45:53Z"}) + "\n")
    array = tmp_path / "array.json"
    array.write_text(json.dumps(_export_rows(2)))
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(
        json.dumps(_export_rows(1)[0]) + "\n" + json.dumps({"$table": "AKSAudit", "AuditId": "a"}) + "\n"
    )
    real_in_string = tmp_path / "real.jsonl"
    real_in_string.write_text(json.dumps({**_export_rows(1)[0], "Level": 4.0}) + "\n")
    bad = tmp_path / "bad.csv"
    _write_csv(bad, [{**_export_rows(1)[0], "Properties_d": "not json"}])
    for path in (raw, array, mixed, real_in_string, bad, tmp_path / "missing.csv"):
        assert eng.load_export(path) is None, path.name
    assert eng.row_counts.get("AzureActivity", 0) == 0
    assert eng.con.execute('SELECT count(*) FROM "AzureActivity"').fetchone() == (0,)
    eng.load("AzureActivity", [{"EventDataId": "x"}])
    assert eng.matches(AA + "true") == [0]


# ---- one-pass scan of exports ----------------------------------------------------------------------
_SCAN_KEYWORDS = [
    "bob@x",
    "istanbul",
    "line1\nline2",
    "\\u00e9",
    "été",
    "2021-04-28t02:32:14",
    '"method"',
    "",
    "a.b(c)*[d]|e+?",
    "p\x1fi",
    "delete device",
]


def _star_queries() -> list[str]:
    queries = []
    for keyword in _SCAN_KEYWORDS:
        literal = json.dumps(keyword, ensure_ascii=False)
        queries += [AA + f"* contains {literal}", AA + f"not(* contains {literal})"]
    return queries


def _scan_and_load(path: Path, queries: list[str]):
    """(scan of the file, hits of the same queries on the file loaded through the loaders)."""
    from sigma_azure_aks.replay.engine import Engine
    from sigma_azure_aks.replay.loaders import kept_columns

    events, loaded = _loaded_by_the_loaders(path)
    scan = Engine().scan_export(path, queries, kept_columns)
    assert scan is not None and scan.table == events[0].table and scan.rows == len(events)
    hits = loaded.matches_many(queries)
    for rows in hits:  # the kept columns of every hit are the loaders' values
        for row in rows:  # type: ignore[union-attr]
            assert scan.details[row]["EventDataId"] == events[row].row["EventDataId"]
            assert scan.details[row]["Caller"] == events[row].row.get("Caller", "")
    return scan, hits


@pytest.mark.slow
@pytest.mark.parametrize("name", ["azureactivity_training_lab.csv", "azureactivity_training_lab.jsonl"])
def test_scan_equals_the_loaded_engine_on_the_real_export(name: str) -> None:
    """One pass over the real export running all 35 corpus rules finds the rows the engine finds
    on the rows the loaders read."""
    require_engine()
    queries = _corpus_queries() + _star_queries()
    scan, hits = _scan_and_load(shared_path("samples", name), queries)
    assert scan.matches == hits
    assert sum(map(len, scan.matches[:35])) == 6  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_scan_equals_the_loaded_engine_on_edge_rows(tmp_path: Path, kind: str) -> None:
    """The edge rows of the native load (JSON text with escapes, CR LF in a field, the portal's
    datetimes, unicode): the corpus rules and full-row searches, negated too, with keywords
    holding regular-expression characters, the separator, a newline, or nothing."""
    require_engine()
    rows = _export_rows(300)
    rows[7] = {**rows[7], "Caller": "x A.B(C)*[D]|E+? y", "Resource": "grouP\x1fIn"}
    path = tmp_path / f"export.{kind}"
    if kind == "csv":
        _write_csv(path, rows)
    else:
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    queries = _corpus_queries() + _star_queries()
    scan, hits = _scan_and_load(path, queries)
    assert scan.matches == hits
    found = {k for k, rows in zip(_SCAN_KEYWORDS, hits[35::2], strict=True) if rows}
    # what the rows hold (a JSON line keeps CR LF; JSON text keeps escapes): the test finds it
    absent = {"\\u00e9"} | ({"line1\nline2"} if kind == "jsonl" else set())
    assert found == set(_SCAN_KEYWORDS) - absent
    assert hits[35 + 2 * _SCAN_KEYWORDS.index("a.b(c)*[d]|e+?")] == [7]


@pytest.mark.slow
def test_scan_runs_ip_ranges_beside_the_other_rules_as_the_loaded_engine(tmp_path: Path) -> None:
    """Conditions with IP ranges (evaluated in statements of their own) and the others among
    them: the rows the loaded engine finds, negated too, for addresses of every kind."""
    require_engine()
    rows = _export_rows(200)
    addresses = ["10.1.2.3", "10.1.2.3/8", "2001:db8::1", "::ffff:10.0.0.1", "192.168.0.300", "junk", ""]
    for i, address in enumerate(addresses):
        rows[3 * i] = {**rows[3 * i], "CallerIpAddress": address}
    path = tmp_path / "export.csv"
    _write_csv(path, rows)
    ranges = [c for c, _ in PROBES if "_is_in_range" in c]
    queries = [AA + c for c in ranges] + _corpus_queries() + [AA + f"not({c})" for c in ranges]
    scan, hits = _scan_and_load(path, queries)
    assert scan.matches == hits
    inside, outside = hits[0], hits[len(queries) - len(ranges)]  # in 10.0.0.0/8, and not
    assert {0, 3} <= set(inside) and 6 not in inside  # 10.1.2.3 and 10.1.2.3/8; not 2001:db8::1
    assert 15 not in inside + outside and 18 not in inside + outside  # not an address: null


@pytest.mark.slow
def test_scan_keeps_file_order_on_a_parallel_read(tmp_path: Path) -> None:
    """A file large enough for DuckDB to read in parallel, and `in~` lists long enough for its
    planner to make joins of them: every hit's row number is its row in the file."""
    require_engine()
    from sigma_azure_aks.replay.engine import Engine

    operations = [f"MICROSOFT.P{k}/THINGS/WRITE" for k in range(40)]
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("$table,EventDataId,OperationNameValue,Caller,Properties\n")
        filler = "x" * 60
        for i in range(400_000):
            handle.write(f"AzureActivity,id-{i},{operations[(i * 7) % 40]},c{i % 13}@x.com,{filler}\n")
    lists = [operations[k : k + 12] for k in (0, 11, 23)]
    queries = [
        AA + "OperationNameValue in~ (" + ", ".join(json.dumps(o.lower()) for o in ops) + ")" for ops in lists
    ]
    queries.append(AA + 'Caller in ("c1@x.com", "c2@x.com", "c3@x.com", "c5@x.com", "c8@x.com", "c12@x.com")')
    scan = Engine().scan_export(path, queries, ["EventDataId"])
    assert scan is not None and scan.rows == 400_000
    for rows in scan.matches:
        assert rows and all(scan.details[row]["EventDataId"] == f"id-{row}" for row in rows)  # type: ignore[union-attr]
    expected = [[i for i in range(400_000) if operations[(i * 7) % 40] in ops] for ops in lists]
    assert scan.matches[:3] == expected


def test_scan_declines_what_the_native_load_declines(tmp_path: Path) -> None:
    require_engine()
    from sigma_azure_aks.replay.engine import Engine

    raw = tmp_path / "raw.jsonl"
    raw.write_text(json.dumps({"operationName": "X/WRITE", "category": "Write", "time": "2021-04-28T14:45:53Z"}) + "\n")
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(
        json.dumps(_export_rows(1)[0]) + "\n" + json.dumps({"$table": "AKSAudit", "AuditId": "a"}) + "\n"
    )
    bad = tmp_path / "bad.csv"
    _write_csv(bad, [*_export_rows(3), {**_export_rows(1)[0], "Properties_d": "not json"}])
    eng = Engine()
    for path in (raw, mixed, tmp_path / "missing.csv"):
        assert eng.scan_export(path, [AA + "true"]) is None, path.name
    # A value is read when a rule reads it: a full-row search reads them all.
    assert eng.scan_export(bad, [AA + "* contains 'x'"]) is None
    assert eng.scan_export(bad, [AA + 'Properties_d.message == "x"']) is None
    assert eng.row_counts == {}


@pytest.mark.slow
def test_replay_scan_equals_replay_on_mixed_inputs(tmp_path: Path) -> None:
    """replay(scan=True) over an export, raw records and rows gives the same ids and record
    numbers as replay(); scanned hits carry their summary columns."""
    require_engine()
    from sigma_azure_aks.replay import replay

    export = tmp_path / "export.csv"
    _write_csv(export, _export_rows(40))
    raw = tmp_path / "raw.jsonl"
    raw.write_text(
        json.dumps(
            {"operationName": "MICROSOFT.KEYVAULT/VAULTS/DELETE", "category": "Delete", "time": "2021-04-28T14:45:53Z"}
        )
        + "\n"
    )
    rows = [{"$table": "AzureActivity", "OperationNameValue": "Microsoft.KeyVault/vaults/delete"}]
    corpus = shared_path("corpus", "sigmahq", "activitylogs")
    inputs = [raw, export, *rows, export]
    plain = replay(corpus, inputs)
    scanned = replay(corpus, inputs, scan=True)
    assert dict(scanned) == dict(plain) and any(plain.values())
    assert scanned.event_count == plain.event_count == len(plain.events) == 82
    assert len(scanned.events) == 2
    for a, b in zip(scanned.hits, plain.hits, strict=True):
        assert [e.number for e in a.events] == [e.number for e in b.events]
        assert [e.row.get("Caller", "") for e in a.events] == [e.row.get("Caller", "") for e in b.events]


def test_escaped_control_characters_match_as_kusto_reads_them(tmp_path: Path) -> None:
    """Our target writes control and separator characters as `\\uXXXX`, which duckdb-kql would
    read as the letter u and digits: replay matches them as the characters they stand for,
    loaded and scanned."""
    require_engine()
    from sigma_azure_aks.kql import string_literal
    from sigma_azure_aks.replay.engine import Engine

    values = ["a\x1fb", "x\x7fy", "l\u2028m", "n\u0085o", "tab\there", "nul\x00l"]
    rows = [{"$table": "AzureActivity", "EventDataId": f"e{i}", "Caller": v} for i, v in enumerate(values)]
    rows.append({"$table": "AzureActivity", "EventDataId": "plain", "Caller": "ab u001f xy"})
    path = tmp_path / "export.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    queries = [AA + f"Caller == {string_literal(v)}" for v in values]
    queries += [AA + f"* contains {string_literal(v[1:])}" for v in values]
    assert all("\\u" in q for q in queries[:4])
    loaded = Engine()
    loaded.load("AzureActivity", rows)
    expected = [[i] for i in range(len(values))] * 2
    assert loaded.matches_many(queries) == expected
    scan = Engine().scan_export(path, queries)
    assert scan is not None and scan.matches == expected


_FOLD_ALPHABET = 'aAiIkKsSzZ09/._-*?()[]|\\" \n\x1féÉİıKſσΣςßẞǅǄ'


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@example(keywords=["0", "S"], text="ſ")  # RE2 widened the alternation `0|[sS]` to match ſ
@example(keywords=["k", "i"], text="\u212a \u0130")  # Kelvin sign and İ lower-case into ASCII
@given(
    st.lists(st.text(alphabet=_FOLD_ALPHABET, max_size=12), min_size=1, max_size=4),
    st.text(alphabet=_FOLD_ALPHABET, max_size=40),
)
def test_fold_patterns_match_where_the_lower_cased_text_holds_the_keyword(keywords, text) -> None:
    """The scan picks the rows to lower-case and search with one pattern over the text as it is:
    it must pick every row whose lower-cased text holds a keyword. Each keyword's own pattern
    matches exactly there; the alternation of them may pick more (RE2 widens `[sS]` to match `ſ`
    inside an alternation), never fewer."""
    require_engine()
    import duckdb

    from sigma_azure_aks.replay.fulltext import fold_patterns

    con = duckdb.connect()
    lowered = [con.execute("SELECT lower(?)", [k]).fetchone()[0] for k in keywords]
    lowered_text = con.execute("SELECT lower(?)", [text]).fetchone()[0]
    patterns = fold_patterns(con, lowered)
    assert patterns is not None
    for keyword in lowered:
        (got,) = con.execute("SELECT regexp_matches(?, ?)", [text, patterns[keyword]]).fetchone()
        assert got == (keyword in lowered_text), (keyword, text, patterns[keyword])
    (picked,) = con.execute("SELECT regexp_matches(?, ?)", [text, "|".join(patterns.values())]).fetchone()
    if any(keyword in lowered_text for keyword in lowered):
        assert picked, (lowered, text)


def test_a_plan_that_may_reorder_rows_is_not_stored_by_row_order(tmp_path: Path) -> None:
    """Rows are numbered by the order they are stored in only when the plan reading them from
    the file is scans and projections."""
    require_engine()
    import duckdb

    from sigma_azure_aks.replay.sql import keeps_order

    path = tmp_path / "rows.csv"
    path.write_text("a,b\nx,1\ny,2\n")
    con = duckdb.connect()
    source = f"read_csv('{path}', all_varchar = true)"
    assert keeps_order(con, f"SELECT lower(a) AS a, b || 'z' AS b FROM {source}")
    assert not keeps_order(con, f"SELECT a, row_number() OVER () FROM {source}")
    assert not keeps_order(con, f"SELECT a FROM {source} WHERE b IN (SELECT b FROM {source})")
    assert not keeps_order(con, f"SELECT a FROM {source} ORDER BY b")


def test_scan_refuses_per_query_on_its_table_and_on_others(tmp_path: Path) -> None:
    """A query the engine cannot run is refused alone, in its chunk or on another table; the
    queries beside it still run."""
    require_engine()
    from sigma_azure_aks.replay.engine import Engine, ReplayQueryError

    path = tmp_path / "export.csv"
    _write_csv(path, _export_rows(8))
    queries = [
        AA + "true",
        AA + "unknown_function(Caller)",
        AA + '* has "x"',
        "AKSAudit\n| where unknown_function(Verb)",
        'AKSAudit\n| where Verb == "get"',
        AA + 'OperationNameValue =~ "microsoft.b/delete"',
    ]
    scan = Engine().scan_export(path, queries)
    assert scan is not None
    ok, bad_here, bad_star, bad_there, other_table, some = scan.matches
    assert ok == list(range(8)) and other_table == [] and some == [1, 5]
    assert all(isinstance(r, ReplayQueryError) for r in (bad_here, bad_star, bad_there))
