"""Behaviour: our KQL, executed on AzureActivity rows, matches what the Sigma rule means.

Every operator row of docs/mapping.md, with rules written inline and rows made by hand, plus the 35
SigmaHQ activitylogs rules on the real training-lab export (CSV and JSON lines agree).
"""

from __future__ import annotations

import pytest
from replay_support import activity_rule, fired, require_engine, shared_path

pytestmark = pytest.mark.usefixtures("_engine")


@pytest.fixture
def _engine() -> None:
    require_engine()


def row(event_id: str, **columns: object) -> dict[str, object]:
    return {"$table": "AzureActivity", "EventDataId": event_id, **columns}


def check(detection: str, rows: list[dict], match: set[str], condition: str = "sel") -> None:
    got = fired(activity_rule(detection, condition), rows)
    assert got == match, f"expected {sorted(match)}, got {sorted(got)}"


def test_inner_wildcard_is_whole_value_and_case_insensitive() -> None:
    rows = [
        row("m1", OperationNameValue="MICROSOFT.NETWORK/NSG/WRITE"),
        row("m2", OperationNameValue="microsoft.compute/write"),
        row("n1", OperationNameValue="xMicrosoft.network/write"),
        row("n2", OperationNameValue="Microsoft.network/writes"),
        row("n3", OperationNameValue="Microsoft/write"),
    ]
    check("sel:\n  operationName: 'Microsoft.*/write'", rows, {"m1", "m2"})


def test_list_with_inner_wildcards_any_value_matches_as_glob() -> None:
    rows = [
        row("m1", OperationNameValue="a1b"),
        row("m2", OperationNameValue="C22D"),
        row("n1", OperationNameValue="ba1b"),
        row("n2", OperationNameValue="a1bc"),
    ]
    check("sel:\n  operationName:\n    - 'a*b'\n    - 'c*d'", rows, {"m1", "m2"})


def test_single_wildcard_is_exactly_one_character() -> None:
    rows = [
        row("m1", OperationNameValue="microsoft.a/write"),
        row("m2", OperationNameValue="MICROSOFT.%/WRITE"),
        row("n1", OperationNameValue="microsoft.ab/write"),
        row("n2", OperationNameValue="microsoft./write"),
    ]
    check("sel:\n  operationName: 'Microsoft.?/write'", rows, {"m1", "m2"})


def test_escaped_wildcards_are_literal() -> None:
    rows = [row("m1", OperationNameValue="a*b?"), row("n1", OperationNameValue="axby")]
    check("sel:\n  operationName: 'a\\*b\\?'", rows, {"m1"})


def test_keywords_anywhere_case_insensitive() -> None:
    rows = [
        row("m1", OperationNameValue="MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE"),
        row("m2", Properties_d={"message": "microsoft.authorization/roleassignments/write"}),
        row("m3", Caller="x microsoft.authorization/roleAssignments/Write y"),
        row("n1", OperationNameValue="MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/DELETE"),
    ]
    check(
        "keywords:\n  - 'Microsoft.Authorization/roleAssignments/write'",
        rows,
        {"m1", "m2", "m3"},
        condition="keywords",
    )


def test_dotted_fields_are_member_access() -> None:
    upn = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
    rows = [
        row(
            "m1",
            Properties_d={"message": "delete DEVICE"},
            Claims_d={upn: "Bob@Contoso.com"},
            HTTPRequest='{"method":"PUT"}',
        ),
        row(
            "n1",
            Properties_d={"message": "Delete device x"},
            Claims_d={upn: "Bob@Contoso.com"},
            HTTPRequest='{"method":"PUT"}',
        ),
        row(
            "n2",
            Properties_d={"message": "Delete device"},
            Claims_d={"upn": "bob@contoso.com"},
            HTTPRequest='{"method":"PUT"}',
        ),
        row(
            "n3",
            Properties_d={"message": "Delete device"},
            Claims_d={upn: "bob@contoso.com"},
            HTTPRequest='{"method":"GET"}',
        ),
    ]
    detection = f"""
    sel:
      properties.message: 'Delete device'
      identity.claims.{upn}: 'bob@contoso.com'
      httpRequest.method: put
    """
    check(detection, rows, {"m1"})


def test_nested_property_path() -> None:
    rows = [
        row("m1", Properties_d={"eventProperties": {"cause": "UserInitiated"}}),
        row("n1", Properties_d={"eventProperties": {"cause": "Platform"}}),
        row("n2", Properties_d={"cause": "UserInitiated"}),
    ]
    check("sel:\n  properties.eventProperties.cause: userinitiated", rows, {"m1"})


def test_null_is_absent_or_empty() -> None:
    rows = [
        row("m1"),
        row("m2", Caller="", Properties_d={"message": ""}),
        row("m3", Properties_d={"other": 1}),
        row("n1", Caller="someone", Properties_d={"message": "x"}),
        row("n2", Caller="", Properties_d={"message": "x"}),
    ]
    check("sel:\n  caller: null\n  properties.message: null", rows, {"m1", "m2", "m3"})


def test_exists() -> None:
    """On a dynamic member, exists is presence: a present "" or JSON null exists (Sigma v2.1.0)."""
    rows = [
        row("m1", Properties_d={"message": "x"}),
        row("m2", Properties_d={"message": ""}),
        row("m3", Properties_d={"message": None}),
        row("n1", Properties_d={"other": "x"}),
        row("n2"),
    ]
    check("sel:\n  properties.message|exists: true", rows, {"m1", "m2", "m3"})
    check("sel:\n  properties.message|exists: false", rows, {"n1", "n2"})


def test_lone_star_is_the_exact_complement_of_null() -> None:
    """`null` means absent or empty (docs/mapping.md); `*` means the field has a value: never both."""
    rows = [
        row("m1", Properties_d={"message": "x"}),
        row("n0", Properties_d={"message": ""}),
        row("n1", Properties_d={"message": None}),
        row("n2", Properties_d={"other": "x"}),
        row("n3"),
    ]
    check("sel:\n  properties.message: '*'", rows, {"m1"})
    check("sel:\n  properties.message: null", rows, {"n0", "n1", "n2", "n3"})


def test_cased_is_case_sensitive() -> None:
    rows = [
        row("m1", OperationNameValue="Microsoft.A/write"),
        row("n1", OperationNameValue="MICROSOFT.A/WRITE"),
    ]
    check("sel:\n  operationName|cased: 'Microsoft.A/write'", rows, {"m1"})
    rows = [
        row("m1", OperationNameValue="Microsoft.A/write"),
        row("n1", OperationNameValue="MICROSOFT.A/write"),
    ]
    check("sel:\n  operationName|cased|startswith: 'Micro'", rows, {"m1"})


def test_fieldref_compares_two_fields() -> None:
    rows = [
        row("m1", CallerIpAddress="10.0.0.1", Properties_d={"ip": "10.0.0.1"}),
        row(
            "m2",
            Caller="ADMIN@x.com",
            Properties_d={"ip": "1.1.1.1", "user": "admin@x.com"},
            CallerIpAddress="1.1.1.1",
        ),
        row("n1", CallerIpAddress="10.0.0.1", Properties_d={"ip": "10.0.0.2"}),
    ]
    check("sel:\n  callerIpAddress|fieldref: properties.ip", rows, {"m1", "m2"})


@pytest.mark.parametrize(
    ("cidr", "inside", "outside"),
    [
        (
            "10.0.0.0/8",
            ["10.0.0.0", "10.255.255.255", "10.1.2.3"],
            ["11.0.0.0", "9.255.255.255", "10.1.2", "x", ""],
        ),
        ("192.168.1.0/24", ["192.168.1.7"], ["192.168.2.7", "2001:db8::1"]),
        (
            "2001:db8::/32",
            ["2001:db8::1", "2001:DB8:0:0::5", "2001:db8:ffff::"],
            ["2001:db9::1", "10.0.0.1", "::1"],
        ),
        ("fe80::/10", ["fe80::1", "febf::1"], ["fec0::1"]),
    ],
)
def test_cidr_v4_and_v6(cidr: str, inside: list[str], outside: list[str]) -> None:
    rows = [row(f"m{i}", CallerIpAddress=ip) for i, ip in enumerate(inside)]
    rows += [row(f"n{i}", CallerIpAddress=ip) for i, ip in enumerate(outside)]
    check(f"sel:\n  callerIpAddress|cidr: '{cidr}'", rows, {f"m{i}" for i in range(len(inside))})


def test_numbers_in_lists_compare_as_numbers() -> None:
    rows = [
        row("m1", Properties_d={"statusCode": 200}),
        row("m2", Properties_d={"statusCode": "404"}),
        row("m3", Properties_d={"statusCode": 200.0}),
        row("n1", Properties_d={"statusCode": 2000}),
        row("n2", Properties_d={"statusCode": "x"}),
        row("n3"),
    ]
    check("sel:\n  properties.statusCode:\n    - 200\n    - 404", rows, {"m1", "m2", "m3"})


def test_numeric_comparison() -> None:
    rows = [
        row("m1", Properties_d={"n": 11}),
        row("m2", Properties_d={"n": "50"}),
        row("n1", Properties_d={"n": 10}),
    ]
    check("sel:\n  properties.n|gt: 10", rows, {"m1", "m2"})


@pytest.mark.parametrize("rule_value", ["Success", "Succeeded", "success"])
def test_status_spellings_both_ways(rule_value: str) -> None:
    rows = [
        row("m1", ActivityStatusValue="Success"),
        row("m2", ActivityStatusValue="Succeeded"),
        row("m3", ActivityStatusValue="SUCCEEDED"),
        row("n1", ActivityStatusValue="Failure"),
        row("n2", ActivityStatusValue="Start"),
    ]
    check(f"sel:\n  resultType: {rule_value}", rows, {"m1", "m2", "m3"})


def test_status_failure_spellings() -> None:
    rows = [
        row("m1", ActivityStatusValue="Failed"),
        row("m2", ActivityStatusValue="Failure"),
        row("n1", ActivityStatusValue="Success"),
    ]
    check("sel:\n  status.value: Failure", rows, {"m1", "m2"})


@pytest.mark.parametrize(
    "value",
    [
        'say "hi"',
        "back\\slash",
        "C:\\Windows\\*",
        "100%",
        "a_b",
        "line1\nline2",
        "it's",
        "pipe | where true",
        "ünïcödé ✓",
        "tab\there",
    ],
)
def test_values_with_special_characters_match_literally(value: str) -> None:
    import json

    literal = value.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")
    rows = [row("m1", Properties_d={"message": value}), row("m2", Properties_d={"message": value.upper()})]
    decoys = ["", "x", value + "x", value.replace("%", "x").replace("_", "x").replace("\\", "/")]
    rows += [row(f"n{i}", Properties_d={"message": d}) for i, d in enumerate(decoys) if d != value]
    # JSON is YAML: the rule value is exactly `literal`.
    detection = f"sel:\n  properties.message: {json.dumps(literal)}"
    expected = {"m1"} | ({"m2"} if value.upper().lower() == value.lower() else set())
    check(detection, rows, expected)


def test_like_metacharacters_in_contains() -> None:
    rows = [row("m1", Caller="50%_off"), row("n1", Caller="50x_off"), row("n2", Caller="50%xoff")]
    check("sel:\n  caller|contains: '%_'", rows, {"m1"})


def test_all_modifier_requires_every_value() -> None:
    rows = [
        row("m1", OperationNameValue="MICROSOFT.NETWORK/NSG/WRITE"),
        row("n1", OperationNameValue="MICROSOFT.NETWORK/NSG/DELETE"),
        row("n2", OperationNameValue="MICROSOFT.COMPUTE/WRITE"),
    ]
    check("sel:\n  operationName|contains|all:\n    - network\n    - write", rows, {"m1"})


@pytest.mark.parametrize(
    ("modifiers", "pattern", "values", "match"),
    [
        (
            "re",
            "^Microsoft\\.Network/",
            ["Microsoft.Network/x", "MICROSOFT.NETWORK/x", "xMicrosoft.Network/"],
            {0},
        ),
        (
            "re|i",
            "^microsoft\\.network/",
            ["Microsoft.Network/x", "MICROSOFT.NETWORK/x", "x/microsoft.network/"],
            {0, 1},
        ),
        ("re|s", "a.b", ["a\nb", "axb", "ab"], {0, 1}),
        ("re", "a.b", ["a\nb", "axb"], {1}),
        ("re|m", "^b$", ["a\nb\nc", "abc"], {0}),
        ("re", "^b$", ["a\nb\nc", "b"], {1}),
        ("re|i|s", "^A.B$", ["a\nb", "AXB", "aXbc"], {0, 1}),
        ("re", "write", ["a/write/b", "WRITE"], {0}),
    ],
)
def test_regex_with_flags(modifiers: str, pattern: str, values: list[str], match: set[int]) -> None:
    import json

    rows = [row(f"e{i}", Properties_d={"message": v}) for i, v in enumerate(values)]
    check(f"sel:\n  properties.message|{modifiers}: {json.dumps(pattern)}", rows, {f"e{i}" for i in match})


def test_not_and_or_conditions() -> None:
    rows = [
        row("m1", OperationNameValue="A", Caller="x"),
        row("m2", OperationNameValue="B", Caller="y"),
        row("n1", OperationNameValue="A", Caller="admin"),
        row("n2", OperationNameValue="C", Caller="x"),
    ]
    detection = "sel_a:\n  operationName: a\nsel_b:\n  operationName: b\nfilter:\n  caller: admin"
    check(detection, rows, {"m1", "m2"}, condition="1 of sel_* and not filter")


def test_real_export_corpus_csv_and_jsonl_agree() -> None:
    from sigma_azure_aks.replay import replay

    corpus = shared_path("corpus", "sigmahq", "activitylogs")
    csv_result = replay(corpus, shared_path("samples", "azureactivity_training_lab.csv"))
    jsonl_result = replay(corpus, shared_path("samples", "azureactivity_training_lab.jsonl"))
    assert not csv_result.failures and not jsonl_result.failures
    assert len(csv_result) == 35
    assert dict(csv_result) == dict(jsonl_result)
    assert len(csv_result.events) == len(jsonl_result.events) == 23
    for a, b in zip(csv_result.events, jsonl_result.events, strict=True):
        assert a.event_id == b.event_id
    # The lab's six Key Vault deletions (Start and Success) fire the Key Vault rule.
    assert len(csv_result["459a2970-bb84-4e6a-a32e-ff0fbd99448d"]) == 6


def test_fieldref_needs_a_value_in_the_referenced_field() -> None:
    """An absent referenced field reads as "" in Kusto, which every string contains; it must not match."""
    rows = [
        row("m1", Caller="alice@x", Properties_d={"user": "alice"}),
        row("n1", Caller="alice@x", Properties_d={"other": "y"}),
        row("n2", Caller="alice@x", Properties_d={"user": "bob"}),
        row("n3"),
    ]
    check("sel:\n  caller|fieldref|contains: properties.user", rows, {"m1"})
    check("sel:\n  caller|fieldref|startswith: properties.user", rows, {"m1"})
    check("sel:\n  caller|fieldref|contains: properties.user", rows, {"n1", "n2", "n3"}, condition="not sel")
