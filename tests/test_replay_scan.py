"""The one-pass scan's plan: IP parses computed once per distinct address, the other conditions
evaluated in the pass over the file; the answers stay the loaded engine's."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from replay_support import require_engine

AA = "AzureActivity\n| where "


def test_ip_parses_of_a_column_are_hoisted_and_nothing_else() -> None:
    from sigma_azure_aks.replay.ipmap import hoist_ip_calls, ip_column

    condition = (
        '(parse_ipv4(CallerIpAddress) >= 1 and parse_ipv6( CallerIpAddress ) == "x") '
        'or Caller == "parse_ipv4(Caller)" or parse_ipv4(tostring(Properties_d.ip)) > 0 '
        "or parse_ipv4(NotAColumn) > 0"
    )
    text, calls = hoist_ip_calls(condition, {"CallerIpAddress", "Caller", "Properties_d"})
    v4, v6 = ip_column("parse_ipv4", "CallerIpAddress"), ip_column("parse_ipv6", "CallerIpAddress")
    assert calls == {v4: ("parse_ipv4", "CallerIpAddress"), v6: ("parse_ipv6", "CallerIpAddress")}
    assert text == (
        f'({v4} >= 1 and {v6} == "x") or Caller == "parse_ipv4(Caller)" '
        "or parse_ipv4(tostring(Properties_d.ip)) > 0 or parse_ipv4(NotAColumn) > 0"
    )


_ADDRESSES = [
    "10.1.2.3",
    "10.1.2.3",  # repeated: one parse, every row answered
    " 10.9.9.9 ",
    "10.1.2.3/8",
    "192.168.0.300",
    "2001:db8::1",
    "2001:DB8:0:0:0:0:0:2",
    "::ffff:10.0.0.1",
    "fe80::1%eth0",
    "junk",
    "",
    "172.16.5.4",
]


def _write_export(path: Path, count: int) -> None:
    names = ["$table", "EventDataId", "OperationNameValue", "Caller", "CallerIpAddress", "Properties_d"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for i in range(count):
            address = _ADDRESSES[i % len(_ADDRESSES)]
            properties = {"ip": _ADDRESSES[(i * 5) % len(_ADDRESSES)], "message": f"m{i % 3}"}
            operation = "MICROSOFT.KEYVAULT/VAULTS/WRITE" if i % 2 else "MICROSOFT.A/DELETE"
            writer.writerow(
                ["AzureActivity", f"id-{i}", operation, f"c{i % 4}@x.com", address, json.dumps(properties)]
            )


_CONDITIONS = [
    'ipv4_is_in_range(CallerIpAddress, "10.0.0.0/8")',
    'not(ipv4_is_in_range(CallerIpAddress, "10.0.0.0/8"))',
    'ipv6_is_in_range(CallerIpAddress, "2001:db8::/32")',
    'not(coalesce(ipv6_is_in_range(CallerIpAddress, "::ffff:0:0/96"), false))',
    'ipv4_is_in_range(CallerIpAddress, "172.16.0.0/12") or * contains "m2"',
    'ipv4_is_in_range(tostring(Properties_d.ip), "10.0.0.0/8")',  # not a column: not hoisted
    'OperationNameValue in~ ("microsoft.keyvault/vaults/write", "x/y") and '
    '(not(coalesce(ipv4_is_in_range(CallerIpAddress, "10.0.0.0/8"), false) or '
    'coalesce(ipv6_is_in_range(CallerIpAddress, "2001:db8::/32"), false)))',
    'tostring(Properties_d.message) =~ "M1"',
    '* contains "c3@x"',
    "true",
]


@pytest.mark.slow
def test_scan_answers_ip_ranges_and_in_pass_conditions_as_the_loaded_engine(tmp_path: Path) -> None:
    """Hoisted IP parses (a repeated address, odd and unparsable ones, negations, beside a
    full-row search), a parse that is not hoisted, and conditions evaluated in the pass: the
    rows the engine finds on the rows the loaders read, in file order."""
    require_engine()
    from sigma_azure_aks.replay.engine import Engine
    from sigma_azure_aks.replay.loaders import read_events

    path = tmp_path / "export.csv"
    _write_export(path, 240)
    queries = [AA + c for c in _CONDITIONS]
    engine = Engine("256MB")
    scan = engine.scan_export(path, queries, ["EventDataId"])
    events = read_events([path])
    loaded = Engine()
    loaded.load("AzureActivity", [e.row for e in events])
    expected = loaded.matches_many(queries)
    assert scan is not None and scan.rows == 240
    assert scan.matches == expected
    assert all(rows for rows in expected)  # each condition finds rows here
    assert 0 in expected[0] and 1 in expected[0] and 10 not in expected[0] + expected[1]  # "" is null
    for rows in scan.matches:
        assert all(scan.details[row]["EventDataId"] == f"id-{row}" for row in rows)  # type: ignore[union-attr]
    # the scan leaves the connection's planner as it found it
    (setting,) = engine.con.execute("SELECT current_setting('disabled_optimizers')").fetchone()
    assert not setting
    engine.close()


@pytest.mark.parametrize("threads", [1, 2])
def test_in_pass_flags_keep_file_order(tmp_path: Path, threads: int) -> None:
    """Conditions evaluated in the pass, with `in~` lists long enough for DuckDB's planner to make
    joins of them elsewhere, on a file read in parallel: each hit is its row in the file."""
    require_engine()
    from sigma_azure_aks.replay.engine import Engine

    operations = [f"MICROSOFT.P{k}/THINGS/WRITE" for k in range(30)]
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("$table,EventDataId,OperationNameValue,Properties_d\n")
        for i in range(150_000):
            handle.write(f'AzureActivity,id-{i},{operations[(i * 7) % 30]},"{{""k"": {i % 5}}}"\n')
    chosen = operations[3:17]
    queries = [
        AA + "OperationNameValue in~ (" + ", ".join(json.dumps(o.lower()) for o in chosen) + ")",
        AA + "toint(Properties_d.k) == 3",
    ]
    engine = Engine()
    engine.con.execute(f"SET threads = {threads}")
    scan = engine.scan_export(path, queries, ["EventDataId"])
    assert scan is not None
    assert scan.matches[0] == [i for i in range(150_000) if operations[(i * 7) % 30] in chosen]
    assert scan.matches[1] == [i for i in range(150_000) if i % 5 == 3]
    engine.close()


def _write_signins(path: Path, count: int) -> None:
    """SigninLogs JSON lines of every column kind, with absent keys, nulls and booleans written as
    JSON booleans or as text in any case."""
    flags = [True, False, None, "True", "false", "TRUE"]
    with path.open("w", encoding="utf-8") as handle:
        for i in range(count):
            row: dict = {
                "$table": "SigninLogs",
                "TimeGenerated": f"2024-05-01T{i % 24:02d}:{i % 60:02d}:07.1234567Z",
                "Id": f"id-{i}",
                "ResultType": ["0", "50126", "50074"][i % 3],
                "UserPrincipalName": f"user{i % 7}@contoso.com",
                "AppDisplayName": ["Azure Portal", "Microsoft Teams"][i % 2],
                "IsInteractive": flags[i % len(flags)],
                "DurationMs": i * 10 if i % 5 else None,
                "Status": {"errorCode": [0, 50126, 50074][i % 3]},
                "IPAddress": f"10.0.{i % 4}.{i % 250}",
            }
            if i % 11 == 0:
                del row["AppDisplayName"]  # an absent key reads as the column's empty value
            handle.write(json.dumps(row) + "\n")


_SIGNIN_CONDITIONS = [
    'ResultType == "50126"',
    "IsInteractive == true",
    'tostring(IsInteractive) =~ "false"',
    "isnull(IsInteractive)",
    "DurationMs > 500",
    "toint(Status.errorCode) == 50074",
    'AppDisplayName == ""',
    '* contains "user3@"',
    'ipv4_is_in_range(IPAddress, "10.0.2.0/24")',
]


@pytest.mark.parametrize("conditions", [_SIGNIN_CONDITIONS[:1], _SIGNIN_CONDITIONS])
def test_scan_of_json_lines_with_booleans_answers_as_the_loaded_engine(tmp_path: Path, conditions: list) -> None:
    """A SigninLogs JSON-lines export (a boolean column among every kind) is scanned natively, and
    each query's rows, in file order, and the kept columns of its hits are the loaded engine's on
    the rows the loaders read."""
    require_engine()
    from sigma_azure_aks.replay.engine import Engine
    from sigma_azure_aks.replay.loaders import kept_columns, read_events

    path = tmp_path / "signins.jsonl"
    _write_signins(path, 600)
    queries = [f"SigninLogs\n| where {c}" for c in conditions]
    kept = list(kept_columns("SigninLogs"))
    scan = Engine().scan_export(path, queries, kept)
    loaded = Engine()
    loaded.load("SigninLogs", [e.row for e in read_events([path])])
    expected = loaded.matches_many(queries)
    assert scan is not None and scan.rows == 600
    assert scan.matches == expected
    assert all(rows for rows in expected)  # each condition finds rows here
    hits = sorted({row for rows in expected for row in rows})  # type: ignore[union-attr]
    assert {row: scan.details[row] for row in hits} == loaded.fetch("SigninLogs", hits, kept)


def test_scan_of_json_lines_with_an_unusual_boolean(tmp_path: Path) -> None:
    """A boolean written as text other than true/false (which DuckDB reads its own way): a file
    where a query reads that column goes to the loaders; where none does, it is scanned, with
    the loaded engine's answers."""
    require_engine()
    from sigma_azure_aks.replay.engine import Engine
    from sigma_azure_aks.replay.loaders import read_events

    path = tmp_path / "signins.jsonl"
    _write_signins(path, 30)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"$table": "SigninLogs", "Id": "odd", "IsInteractive": "yes"}) + "\n")
    assert Engine().scan_export(path, ["SigninLogs\n| where IsInteractive == true"], ["Id"]) is None
    queries = ['SigninLogs\n| where ResultType == "0"', 'SigninLogs\n| where ResultType == ""']
    scan = Engine().scan_export(path, queries, ["Id"])
    loaded = Engine()
    loaded.load("SigninLogs", [e.row for e in read_events([path])])
    assert scan is not None and scan.matches == loaded.matches_many(queries)
    assert scan.matches[1] == [30]


def test_json_lines_with_keys_differing_in_case_only_are_left_to_the_loaders(tmp_path: Path) -> None:
    """Keys that differ only in case are two columns to the loaders, one name to DuckDB: such a
    file is not scanned natively, and replay reads it with the loaders."""
    require_engine()
    from sigma_azure_aks.replay import replay
    from sigma_azure_aks.replay.engine import Engine

    path = tmp_path / "signins.jsonl"
    rows = [{"$table": "SigninLogs", "Id": "a", "ResultType": "1"}, {"$table": "SigninLogs", "ID": "b", "ResultType": "1"}]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    assert Engine().scan_export(path, ['SigninLogs\n| where ResultType == "1"'], ["Id"]) is None
    rule = tmp_path / "rule.yml"
    rule.write_text(
        "title: t\nid: 1d5f0a2e-3b4c-4d5e-8f60-7a8b9c0d1e2f\nlogsource: {product: azure, service: signinlogs}\n"
        "detection:\n    sel: {ResultType: '1'}\n    condition: sel\n",
        encoding="utf-8",
    )
    result = replay([rule], path, scan=True)
    assert result["1d5f0a2e-3b4c-4d5e-8f60-7a8b9c0d1e2f"] == ["a", 2]


@pytest.mark.parametrize(
    ("query", "folded"),
    [
        ('T\n| where a == "x"', 'T\n| where a == "x"'),  # one where: as it is
        (
            'Okta_CL\n| extend OktaTarget = parse_json(target_s)\n| where OktaTarget.id == "OktaTarget" or x.OktaTarget == 1',
            'Okta_CL\n| where (parse_json(target_s).id == "OktaTarget" or x.OktaTarget == 1)',
        ),
        (
            'AzureDiagnostics\n| where Category in ("a", "b")\n| extend event = parse_json(log_s)\n| where isnotempty(event)',
            'AzureDiagnostics\n| where (Category in ("a", "b")) and (isnotempty(parse_json(log_s)))',
        ),
        ("T\n| extend a = b + 1, c = a * 2\n| where c > 4", "T\n| where (((b + 1) * 2) > 4)"),
        ("T\n| project a\n| where a == 1", "T\n| project a\n| where a == 1"),  # not a preamble: left as is
    ],
)
def test_a_preamble_folds_into_the_condition(query: str, folded: str) -> None:
    """The export scan's form of a legacy route's query: the preamble's filters as conjuncts, the
    columns it adds replaced by their expressions (not a member of that name, not a string)."""
    from sigma_azure_aks.replay.kql_rewrite import fold_preamble

    assert fold_preamble(query) == folded


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)
_JSON_TYPES = ["NULL", "VARCHAR", "BOOLEAN", "BIGINT", "UBIGINT", "DOUBLE", "OBJECT", "ARRAY"]


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(_JSON_VALUES, min_size=1, max_size=12),
    padding=st.sampled_from(["", " ", "\n\t"]),
    kinds=st.lists(st.sampled_from(_JSON_TYPES), min_size=1, max_size=4, unique=True),
)
def test_a_json_type_read_from_its_first_character_is_json_types(values: list, padding: str, kinds: list) -> None:
    """The export plan's check of a JSON value's type (its first character, a parse for a number)
    answers as ``json_type() IN (...)`` on every value, SQL NULL and padded texts included."""
    duckdb = pytest.importorskip("duckdb", reason="replay engine (duckdb) not installed")
    from sigma_azure_aks.replay.exports import json_type_in

    texts = [None, *(padding + json.dumps(v) + padding for v in values)]
    fast, slow = json_type_in("v", kinds), "coalesce(json_type(v), 'NULL') IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"
    rows = duckdb.connect().execute(
        f"SELECT {fast}, {slow} FROM (SELECT CAST(unnest($1::VARCHAR[]) AS JSON) AS v)", [texts]
    ).fetchall()
    assert [a for a, _ in rows] == [b for _, b in rows]
