"""Entra ID and Microsoft 365 sources: exact queries, warnings, refusals, the SigmaHQ corpus counts,
and behaviour on real sample rows and adversarial rows through replay."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from replay_support import require_engine, shared_path
from sigma.collection import SigmaCollection
from sigma.types import SigmaString

from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.pipelines.arrays import structure_regex
from sigma_azure_aks.pipelines.values import FieldValueWarning

RULE_ID = "11111111-2222-4333-8444-555555555555"


def rule(service: str, detection: str, condition: str = "sel", product: str = "azure") -> str:
    body = "\n".join("    " + line for line in detection.strip("\n").splitlines())
    return (
        f"title: t\nid: {RULE_ID}\nlogsource:\n    product: {product}\n    service: {service}\n"
        f"detection:\n{body}\n    condition: {condition}\n"
    )


def convert(text: str) -> str:
    (query,) = SentinelBackend().convert(SigmaCollection.from_yaml(text))
    return query


def where(text: str) -> str:
    return convert(text).split("\n| where ", 1)[1]


# ---- exact queries --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "detection, expected",
    [
        ("sel: {Status: Success}", 'ResultType == "0"'),
        ("sel: {Status: failure}", 'ResultType != "0"'),
        ("sel: {properties.status: Success}", 'ResultType == "0"'),
        (
            "sel: {Status|contains: MFA Denied}",
            'tostring(Status.failureReason) contains "MFA Denied" or tostring(Status.additionalDetails) contains '
            '"MFA Denied"',
        ),
        ("sel: {ResultType: 50053}", 'ResultType == "50053"'),
        ("sel: {resultType: 50053}", 'ResultType == "50053"'),
        (
            "sel: {DeviceDetail.trusttype: ''}",
            '(isnotnull(DeviceDetail.trustType) and tostring(DeviceDetail.trustType) == "")',
        ),
        ("sel: {properties.deviceDetail.isCompliant: 'false'}", 'tostring(DeviceDetail.isCompliant) =~ "false"'),
        ("sel: {ClientApp: IMAP, Username: a@b.c}", 'ClientAppUsed =~ "IMAP" and UserPrincipalName =~ "a@b.c"'),
        ("sel: {callerIpAddress: 1.2.3.4}", 'IPAddress =~ "1.2.3.4"'),
    ],
)
def test_signinlogs_queries(detection: str, expected: str) -> None:
    assert where(rule("signinlogs", detection)) == expected


def test_status_success_under_not_keeps_its_meaning() -> None:
    query = where(rule("signinlogs", "sel: {AppId: x}\nf: {Status: Success}", "sel and not f"))
    assert query == 'AppId =~ "x" and (not(ResultType == "0"))'


@pytest.mark.parametrize(
    "detection, expected",
    [
        ("sel: {properties.message: Add user}", 'OperationName =~ "Add user"'),
        ("sel: {operationName: Add user}", 'OperationName =~ "Add user"'),
        ("sel: {Status: Success}", 'Result =~ "success"'),
        ("sel: {Status: Admin registered}", 'ResultReason =~ "Admin registered"'),
        ("sel: {properties.result: failure}", 'Result =~ "failure"'),
        ("sel: {InitiatedBy.user.userPrincipalName: a@b.c}", 'tostring(InitiatedBy.user.userPrincipalName) =~ "a@b.c"'),
    ],
)
def test_auditlogs_queries(detection: str, expected: str) -> None:
    assert where(rule("auditlogs", detection)) == expected


def test_riskdetection_and_office_queries() -> None:
    assert where(rule("riskdetection", "sel: {riskEventType: passwordSpray}")) == 'RiskEventType =~ "passwordSpray"'
    office = rule("audit", "sel: {Workload: Exchange, ObjectId: x}", product="m365")
    assert where(office) == 'OfficeWorkload =~ "Exchange" and OfficeObjectId =~ "x"'


def test_both_dialects_give_the_same_query() -> None:
    legacy = rule("signinlogs", "sel: {userAgent|contains: axios, AuthenticationRequirement: singleFactorAuthentication}")
    hub = rule(
        "signinlogs",
        "sel: {properties.userAgent|contains: axios, properties.authenticationRequirement: singleFactorAuthentication}",
    )
    assert where(legacy) == where(hub)


# ---- warnings and refusals ------------------------------------------------------------------------
def _warnings_of(text: str) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        convert(text)
    return [str(w.message) for w in caught if issubclass(w.category, FieldValueWarning)]


def test_value_outside_a_documented_enumeration_warns() -> None:
    (message,) = _warnings_of(rule("signinlogs", "sel: {properties.message: Device Code}"))
    assert "'Device Code' never matches" in message and "deviceCode" in message and "rule 't'" in message
    assert _warnings_of(rule("signinlogs", "sel: {properties.message: ROPC}")) == []


def test_misspelled_field_warns_and_reads_the_column() -> None:
    (message,) = _warnings_of(rule("signinlogs", "sel: {Resultdescription: x}"))
    assert "'Resultdescription' is not spelled as any SigninLogs field" in message


@pytest.mark.parametrize(
    "service, product, detection, reason",
    [
        ("pim", "azure", "sel: {riskEventType: staleSignInAlertIncident}", "beta endpoint"),
        ("threat_management", "m365", "sel: {eventSource: x}", "SecurityAlert"),
        ("audit", "m365", "sel: {Directionality: Inbound}", "EmailEvents"),
        ("auditlogs", "azure", "sel: {ActivityType: x}", "OperationName"),
        ("signinlogs", "azure", "sel: {ActivityDetails: Sign-ins}", "leave the condition out"),
        ("auditlogs", "azure", "sel: {TargetResources.nope: x}", "names no member of TargetResources"),
    ],
)
def test_refusals_name_the_reason(service: str, product: str, detection: str, reason: str) -> None:
    with pytest.raises(Exception, match=re.escape(reason)):
        convert(rule(service, detection, product=product))


# ---- the SigmaHQ corpus -----------------------------------------------------------------------------
TARGETS = {"auditlogs": 39, "signinlogs": 17, "riskdetection": 19, "m365_audit": 4, "pim": 0}


@pytest.mark.parametrize("folder, minimum", TARGETS.items())
def test_sigmahq_corpus_counts(folder: str, minimum: int) -> None:
    path = shared_path("corpus", "sigmahq", folder)
    converted, refused = 0, []
    for file in sorted(path.glob("*.yml")):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                convert(file.read_text(encoding="utf-8"))
            converted += 1
        except Exception as error:  # noqa: BLE001 - a refusal is counted with its message
            refused.append(str(error))
    assert converted >= minimum
    assert all("rule '" in message for message in refused)
    if folder == "pim":
        assert len(refused) == 7 and all("Privileged Identity Management" in m for m in refused)


# ---- structures: the pattern against an oracle --------------------------------------------------
def _members(structure: Any, path: tuple[str, ...]) -> list[Any]:
    """Values at `path` in an array of objects (the oracle: what the rule means)."""
    values = []
    for element in structure:
        value = element.get(path[0]) if isinstance(element, dict) else None
        if len(path) == 1:
            values.append(value)
        elif isinstance(value, list):
            values += [inner.get(path[1]) for inner in value if isinstance(inner, dict)]
    return values


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)
_INNER = st.fixed_dictionaries({"displayName": _TEXT, "newValue": _TEXT})
_ELEMENT = st.fixed_dictionaries(
    {"displayName": _TEXT, "type": _TEXT, "modifiedProperties": st.lists(_INNER, max_size=3)}
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ELEMENT, max_size=3), _TEXT, st.sampled_from([("displayName",), ("type",),
                                                               ("modifiedProperties", "displayName"),
                                                               ("modifiedProperties", "newValue")]))
def test_structure_pattern_matches_exactly_the_member(structure, value, path) -> None:
    literal = "".join("\\" + c if c in "*?\\" else c for c in value)  # the value as plain text, not a pattern
    pattern = structure_regex("array", path, SigmaString(literal)).replace("(?is)", "")
    expected = any(isinstance(v, str) and v.lower() == value.lower() for v in _members(structure, path))
    for separators in ((",", ":"), (", ", ": ")):
        text = json.dumps(structure, ensure_ascii=False, separators=separators)
        found = re.search(pattern, text, re.IGNORECASE | re.DOTALL) is not None
        assert found == expected, (text, pattern)


# ---- replay on real and adversarial rows ---------------------------------------------------------
def _rows(name: str) -> list[dict[str, Any]]:
    path = shared_path("samples", "entra", name)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _fired(text: str, rows: list[dict[str, Any]]) -> list[Any]:
    from sigma_azure_aks.replay import replay

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = replay(text, rows)
    assert not result.failures, result.failures
    (ids,) = result.values()
    return ids


def test_status_success_on_real_sign_ins() -> None:
    require_engine()
    rows = _rows("signinlogs_export.jsonl")
    expected = [r["Id"] for r in rows if r.get("ResultType") == "0"]
    assert expected and _fired(rule("signinlogs", "sel: {Status: Success}"), rows) == expected
    failed = [r["Id"] for r in rows if r.get("ResultType") not in (None, "0")]
    assert failed and _fired(rule("signinlogs", "sel: {Status: Failure}"), rows) == failed
    assert _fired(rule("signinlogs", "sel: {ResultType: 50057}"), rows) == [
        r["Id"] for r in rows if r.get("ResultType") == "50057"
    ]


def test_target_resources_on_real_audit_rows() -> None:
    require_engine()
    rows = _rows("auditlogs_export.jsonl")
    expected = [r["Id"] for r in rows if "KeyDescription" in _members(r.get("TargetResources", []),
                                                                      ("modifiedProperties", "displayName"))]
    assert expected
    detection = "sel: {TargetResources.modifiedProperties.displayName: KeyDescription}"
    assert _fired(rule("auditlogs", detection), rows) == expected
    # the same name on the target itself is another member: no match
    assert _fired(rule("auditlogs", "sel: {TargetResources.displayName: KeyDescription}"), rows) == []


SIGN_IN = {"$table": "SigninLogs", "TimeGenerated": "2024-01-01T00:00:00Z"}
AUDIT = {"$table": "AuditLogs", "TimeGenerated": "2024-01-01T00:00:00Z"}


def test_adversarial_sign_in_rows() -> None:
    require_engine()
    rows = [
        {**SIGN_IN, "Id": "ok", "ResultType": "0", "Status": {"errorCode": 0}},
        {**SIGN_IN, "Id": "denied", "ResultType": "500121",
         "Status": {"errorCode": 500121, "additionalDetails": "MFA denied; user declined the authentication"}},
        {**SIGN_IN, "Id": "text-success", "ResultType": "50126", "Status": {"failureReason": "Success"}},
        {**SIGN_IN, "Id": "number-ish", "ResultType": "050053"},
        {**SIGN_IN, "Id": "lockout", "ResultType": "50053"},
    ]
    assert _fired(rule("signinlogs", "sel: {Status: Success}"), rows) == ["ok"]
    assert _fired(rule("signinlogs", "sel: {Status|contains: MFA Denied}"), rows) == ["denied"]
    assert _fired(rule("signinlogs", "sel: {ResultType: 50053}"), rows) == ["lockout"]


def test_adversarial_audit_rows() -> None:
    require_engine()
    inner_text = json.dumps([{"displayName": "StrongAuthenticationRequirement", "newValue": "x"}])
    rows = [
        {**AUDIT, "Id": "hit", "TargetResources": [
            {"displayName": "u", "modifiedProperties": [
                {"displayName": "StrongAuthenticationRequirement", "newValue": '[{"State":0}]'}]}]},
        {**AUDIT, "Id": "outer-name", "TargetResources": [
            {"displayName": "StrongAuthenticationRequirement", "modifiedProperties": []}]},
        {**AUDIT, "Id": "inside-a-string", "TargetResources": [
            {"displayName": "u", "modifiedProperties": [{"displayName": "other", "newValue": inner_text}]}]},
        {**AUDIT, "Id": "laps", "AdditionalDetails": [
            {"key": "AdditionalInfo", "value": "Successfully recovered local credential by device id x"}]},
        {**AUDIT, "Id": "laps-key-only", "AdditionalDetails": [
            {"key": "Successfully recovered local credential by device id", "value": "AdditionalInfo"}]},
    ]
    mfa = "sel: {TargetResources.ModifiedProperties.DisplayName: StrongAuthenticationRequirement}"
    assert _fired(rule("auditlogs", mfa), rows) == ["hit"]
    state = "sel: {TargetResources.modifiedProperties.newValue|contains: 'State\":0'}"
    assert _fired(rule("auditlogs", state), rows) == ["hit"]
    laps = "sel: {additionalDetails.additionalInfo|contains: Successfully recovered local credential}"
    assert _fired(rule("auditlogs", laps), rows) == ["laps"]


def test_raw_diagnostic_records_become_rows(tmp_path: Path) -> None:
    from sigma_azure_aks.replay.loaders import read_events

    records = {
        "records": [
            {"time": "2024-01-01T00:00:00Z", "category": "SignInLogs", "operationName": "Sign-in activity",
             "resultType": "50053", "callerIpAddress": "1.2.3.4",
             "properties": {"id": "s1", "userPrincipalName": "a@b.c", "status": {"errorCode": 50053},
                            "deviceDetail": {"trustType": ""}, "authenticationDetails": [{"x": 1}]}},
            {"time": "2024-01-01T00:00:00Z", "category": "AuditLogs", "operationName": "Add user",
             "properties": {"id": "a1", "category": "UserManagement", "result": "success",
                            "targetResources": [{"type": "User"}]}},
            {"time": "2024-01-01T00:00:00Z", "category": "UserRiskEvents",
             "properties": {"id": "r1", "riskEventType": "passwordSpray"}},
        ]
    }
    path = tmp_path / "records.json"
    path.write_text(json.dumps(records))
    sign_in, audit, risk = read_events([path])
    assert (sign_in.table, sign_in.event_id) == ("SigninLogs", "s1")
    assert sign_in.row["ResultType"] == "50053" and sign_in.row["IPAddress"] == "1.2.3.4"
    assert sign_in.row["Status"] == {"errorCode": 50053}
    assert isinstance(sign_in.row["AuthenticationDetails"], str)  # a string column: JSON text
    assert (audit.table, audit.event_id, audit.row["Category"]) == ("AuditLogs", "a1", "UserManagement")
    assert audit.row["TargetResources"] == [{"type": "User"}]
    assert (risk.table, risk.event_id, risk.row["RiskEventType"]) == ("AADUserRiskEvents", "r1", "passwordSpray")


def test_office_rows_are_named_by_office_id() -> None:
    require_engine()
    rows = _rows("officeactivity_export.jsonl")
    rules = rule("audit", "sel: {Operation: [New-InboxRule, Set-InboxRule]}", product="m365")
    expected = [r["OfficeId"] for r in rows if r.get("Operation") in ("New-InboxRule", "Set-InboxRule")]
    assert expected and _fired(rules, rows) == expected




def test_union_pipeline_searches_every_sign_in_table() -> None:
    from sigma_azure_aks.batch import resolve_pipelines

    backend = SentinelBackend(processing_pipeline=resolve_pipelines(("azure_signinlogs_all",)))
    (query,) = backend.convert(SigmaCollection.from_yaml(rule("signinlogs", "sel: {Status: Success}")))
    head, condition = query.split("\n| where ")
    assert head.startswith("union isfuzzy=true SigninLogs,")
    for table in ("AADNonInteractiveUserSignInLogs", "AADServicePrincipalSignInLogs", "AADManagedIdentitySignInLogs"):
        assert table in head
    assert "Status = todynamic(Status)" in head and condition == 'ResultType == "0"'


def test_union_is_refused_by_replay_with_the_reason() -> None:
    require_engine()
    from sigma_azure_aks.batch import resolve_pipelines
    from sigma_azure_aks.replay import replay

    rows = [{**SIGN_IN, "Id": "interactive", "ResultType": "50053"}]
    result = replay(rule("signinlogs", "sel: {ResultType: 50053}"), rows, resolve_pipelines(("azure_signinlogs_all",)))
    (failure,) = result.failures
    assert "union of tables" in failure


# ---- two Sigma fields, one column: a selection that can never match is refused ----------------------
CONTRADICTION = (
    "selection 'sel' requires OperationName to equal both 'Update user' (field 'OperationName') and "
    "'Add user' (field 'properties.message'), but in AuditLogs both fields are the column OperationName"
)


def test_two_fields_of_one_column_with_different_values_are_refused() -> None:
    text = rule("auditlogs", "sel:\n    OperationName: Update user\n    properties.message: Add user")
    with pytest.raises(Exception, match=re.escape(CONTRADICTION)):
        convert(text)


@pytest.mark.parametrize(
    "detection, condition",
    [
        # the same value in another case: one requirement, written twice
        ("sel:\n    OperationName: Update user\n    properties.message: update USER", "sel"),
        # alternatives, not requirements
        ("sel:\n    OperationName: Update user\n    properties.message:\n        - Add user\n        - Update user", "sel"),
        ("sel:\n    - OperationName: Update user\n    - properties.message: Add user", "sel"),
        ("sel:\n    OperationName: Update user\nother:\n    properties.message: Add user", "sel or other"),
        # a modifier: not an equality
        ("sel:\n    OperationName: Update user\n    properties.message|contains: Add", "sel"),
    ],
)
def test_compatible_requirements_on_one_column_convert(detection: str, condition: str) -> None:
    assert convert(rule("auditlogs", detection, condition)).startswith("AuditLogs\n| where ")


def test_two_spellings_of_one_status_are_not_a_contradiction() -> None:
    text = rule("activitylogs", "sel:\n    resultType: Success\n    status: Succeeded")
    assert "ActivityStatusValue" in convert(text)
