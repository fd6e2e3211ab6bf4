"""Google Cloud audit logs on GCPAuditLogs: every field spelling SigmaHQ writes (the LogEntry's own
paths with and without the Pub/Sub `data.`, the Elastic `gcp.audit.*` names, the columns), members of
the AuditLog objects and of the `authorizationInfo` elements (Sigma's meaning for case, booleans,
absent and empty), the refusals with their reason, the analytics profile, Microsoft's parser on every
query, and replay of the SigmaHQ rules on the samples as Sentinel rows and as raw Cloud Logging
LogEntry objects (the same hits, and Sigma's meaning read in Python on the LogEntry objects)."""

from __future__ import annotations

import fnmatch
import json
import re
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from replay_support import require_engine, shared_path
from sigma.collection import SigmaCollection
from sigma_helpers import convert_quietly, source_rule
from sigma_helpers import where as condition_of

from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.replay.rows import read_datetime
from sigma_azure_aks.sources import source_for_pipeline
from sigma_azure_aks.sources.gcp_audit import (
    AUTHORIZATION_MEMBERS,
    ELASTIC_NAMES,
    LOG_ENTRY_COLUMNS,
    SCHEMA,
    log_entry,
    log_entry_row,
)

RULE_ID = "11111111-2222-4333-8444-555555555555"
REFUSED = {"gcp_breakglass_container_workload_deployed.yml": "has no `resource` member"}


def rule(detection: str, condition: str = "sel") -> str:
    return source_rule("gcp", "gcp.audit", detection, condition, RULE_ID)


convert = convert_quietly


def where(detection: str) -> str:
    return condition_of(convert(rule(detection)), "GCPAuditLogs")


# ---- exact queries --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "detection, expected",
    [
        ("sel: {gcp.audit.method_name: SetIamPolicy}", 'MethodName =~ "SetIamPolicy"'),
        ("sel: {data.protoPayload.methodName: SetIamPolicy}", 'MethodName =~ "SetIamPolicy"'),
        ("sel: {protoPayload.methodName: SetIamPolicy}", 'MethodName =~ "SetIamPolicy"'),
        ("sel: {MethodName: SetIamPolicy}", 'MethodName =~ "SetIamPolicy"'),
        ("sel: {data.protoPayload.serviceName: k8s.io}", 'ServiceName =~ "k8s.io"'),
        ("sel: {data.resource.type: k8s_cluster}", 'GCPResourceType =~ "k8s_cluster"'),
        ("sel: {resource.labels.project_id: p}", 'ProjectId =~ "p"'),
        ("sel: {logName|endswith: '%2Factivity'}", 'LogName endswith "%2Factivity"'),
        ("sel: {protoPayload.authenticationInfo.principalEmail: a@b.c}", 'PrincipalEmail =~ "a@b.c"'),
        ("sel: {gcp.audit.authentication_info.principal_email: a@b.c}", 'PrincipalEmail =~ "a@b.c"'),
        ("sel: {protoPayload.status.message|contains: denied}", 'StatusMessage contains "denied"'),
        ("sel: {protoPayload.status.code: 7}", "toreal(Status.code) == 7"),
        ("sel: {protoPayload.numResponseItems: 5}", 'NumResponseItems == "5"'),
        # a documented member in another case reads the real one
        ("sel: {protoPayload.requestMetadata.callerIP: 1.2.3.4}", 'tostring(RequestMetadata.callerIp) =~ "1.2.3.4"'),
        (
            "sel: {data.protoPayload.requestMetadata.callerSuppliedUserAgent|contains: kubectl}",
            'tostring(RequestMetadata.callerSuppliedUserAgent) contains "kubectl"',
        ),
        ("sel: {protoPayload.request.spec.hostNetwork: 'true'}", 'tostring(Request.spec.hostNetwork) =~ "true"'),
        ("sel: {protoPayload.request.name|exists: true}", 'bag_has_key(Request, "name")'),
        ("sel: {data.protoPayload.metadata.violationReason: x}", 'tostring(Metadata.violationReason) =~ "x"'),
        # an array of objects is still matched as a whole, and the members beside it by path
        ("sel: {protoPayload.request.spec.containers|contains: evil}", 'tostring(Request.spec.containers) contains "evil"'),
        ("sel: {protoPayload.request.spec.hostPID: 'true'}", 'tostring(Request.spec.hostPID) =~ "true"'),
    ],
)
def test_gcp_queries(detection: str, expected: str) -> None:
    assert where(detection) == expected


def test_every_spelling_of_a_string_column_gives_the_same_query() -> None:
    names = {**{path: column for path, column in LOG_ENTRY_COLUMNS.items()},
             **{f"data.{path}": column for path, column in LOG_ENTRY_COLUMNS.items()}, **ELASTIC_NAMES}
    checked = 0
    for name, column in names.items():
        if SCHEMA[column] != "string":
            continue
        assert where(f"sel: {{{name}: x}}") == where(f"sel: {{{column}: x}}") == f'{column} =~ "x"', name
        checked += 1
    assert checked >= 20


def test_authorization_member_is_matched_in_the_elements_of_the_array() -> None:
    query = where("sel: {data.protoPayload.authorizationInfo.permission: iam.roles.delete}")
    assert query.startswith("tostring(AuthorizationInfo) matches regex ")
    assert '\\"permission\\"' in query and "iam\\\\.roles\\\\.delete" in query


@pytest.mark.parametrize(
    "detection, reason",
    [
        ("sel: {data.protoPayload.resource.type: k8s_cluster}", "the AuditLog payload (protoPayload) has no `resource`"),
        ("sel: {protoPayload.resource.labels.cluster_name: c}", "has no `resource` member"),
        ("sel: {data.protoPayload.logName: cloudaudit.googleapis.com/activity}",
         "so an exact `cloudaudit.googleapis.com/activity` never matches it"),
        ("sel: {resource.labels.cluster_name: c}", "its other labels (cluster_name, location, ...) have no column"),
        ("sel: {protoPayload.authorizationInfo.resourceAttributes.name: x}",
         "names no member of AuthorizationInfo, whose elements have resource, permission, granted, permissionType"),
        ("sel: {no_such_field: x}", "field 'no_such_field' has no GCPAuditLogs column"),
        # a member through an array of objects would read null in KQL (never a match): refused naming the array
        ("sel: {protoPayload.request.spec.containers.image: evil}",
         "protoPayload.request.spec.containers is an array of objects in Request"),
        ("sel: {data.protoPayload.request.policy.bindings.role: roles/owner}",
         "data.protoPayload.request.policy.bindings is an array of objects in Request"),
        ("sel: {protoPayload.response.spec.template.spec.containers.image: evil}",
         "protoPayload.response.spec.template.spec.containers is an array of objects in Response"),
        ("sel: {protoPayload.serviceData.policyDelta.bindingDeltas.action: ADD}",
         "protoPayload.serviceData.policyDelta.bindingDeltas is an array of objects in ServiceData"),
        ("sel: {protoPayload.authenticationInfo.serviceAccountDelegationInfo.firstPartyPrincipal.principalEmail: x}",
         "protoPayload.authenticationInfo.serviceAccountDelegationInfo is an array of objects in AuthenticationInfo"),
        ("sel: {Status.details.reason: x}", "Status.details is an array of objects in Status"),
    ],
)
def test_refusals_name_the_reason(detection: str, reason: str) -> None:
    with pytest.raises(Exception, match=re.escape(reason)):
        convert(rule(detection))


def test_the_pipeline_and_default() -> None:
    source = source_for_pipeline("gcp_audit")
    assert source is not None and source.table == "GCPAuditLogs" and source.default
    assert source.field_map is not None
    assert source.field_map.structure("AuthorizationInfo").members == AUTHORIZATION_MEMBERS


def test_analytics_rule_profile(kql: Any) -> None:
    template = yaml.safe_load(convert(rule("sel: {gcp.audit.method_name: SetIamPolicy}"), "yaml"))
    assert template["requiredDataConnectors"] == [
        {"connectorId": "GCPAuditLogsDefinition", "dataTypes": ["GCPAuditLogs"]}
    ]
    entities = {e["entityType"]: [(f["identifier"], f["columnName"]) for f in e["fieldMappings"]]
                for e in template["entityMappings"]}
    assert entities == {
        "Account": [("FullName", "PrincipalEmail"), ("Name", "AccountName"), ("UPNSuffix", "AccountUPNSuffix")],
        "IP": [("Address", "CallerIpAddress")],
        "CloudApplication": [("Name", "ProjectId"), ("InstanceName", "GCPResourceName")],
    }
    assert "CallerIpAddress = tostring(RequestMetadata.callerIp)" in template["query"]
    assert kql.errors(template["query"]) == []


# ---- the SigmaHQ corpus and Microsoft's parser ---------------------------------------------------
def _corpus_files() -> list[Path]:
    return sorted(shared_path("corpus", "sigmahq", "gcp_audit").glob("*.yml"))


def _corpus() -> tuple[dict[str, str], dict[str, str]]:
    converted, refused = {}, {}
    for file in _corpus_files():
        try:
            converted[file.name] = convert(file.read_text(encoding="utf-8"))
        except Exception as error:  # noqa: BLE001 - a refusal is counted with its message
            refused[file.name] = str(error)
    return converted, refused


def test_sigmahq_corpus_counts() -> None:
    converted, refused = _corpus()
    assert len(converted) + len(refused) == 16
    assert len(converted) == 15
    assert set(refused) == set(REFUSED)
    for name, reason in REFUSED.items():
        assert reason in refused[name]
    assert all(query.startswith("GCPAuditLogs\n| where ") for query in converted.values())


def test_microsoft_parser_accepts_every_query(kql: Any) -> None:
    converted, _ = _corpus()
    queries = list(converted.values())
    for detection in ("sel: {protoPayload.authorizationInfo.granted: 'false'}",
                      "sel: {protoPayload.resourceLocation.currentLocations: us-east1}",
                      "sel: {protoPayload.request.name: null}", "sel: {protoPayload.status.code: 7}",
                      "sel: {protoPayload.requestMetadata.callerIp|cidr: 10.0.0.0/8}"):
        queries.append(convert(rule(detection)))
    for query in queries:
        assert [str(e) for e in kql.errors(query)] == [], query


# ---- replay ------------------------------------------------------------------------------------------
def _hits(rules: Any, events: Any) -> dict[str, list[str]]:
    from sigma_azure_aks.replay import replay

    result = replay(rules, events)
    return {rule_id: sorted(map(str, ids)) for rule_id, ids in result.items()}


def _samples(name: str) -> list[dict[str, Any]]:
    path = shared_path("samples", "gcp_audit", name)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _converted_rules() -> list[tuple[str, dict[str, Any]]]:
    """(rule text, its detection) of every SigmaHQ rule that converts."""
    texts = []
    for file in _corpus_files():
        if file.name in REFUSED:
            continue
        text = file.read_text(encoding="utf-8")
        texts.append((text, yaml.safe_load(text)))
    return texts


def _glob(value: str, pattern: str, modifier: str) -> bool:
    value, pattern = value.lower(), pattern.lower()
    if modifier == "startswith":
        pattern += "*"
    elif modifier == "endswith":
        pattern = "*" + pattern
    elif modifier == "contains":
        pattern = f"*{pattern}*"
    return fnmatch.fnmatchcase(value, pattern)


def _values(entry: dict[str, Any], name: str) -> list[Any]:
    """The LogEntry values a SigmaHQ field name reads (the Elastic name is protoPayload.methodName);
    an array on the way yields each element's value."""
    path = "protoPayload.methodName" if name == "gcp.audit.method_name" else name.removeprefix("data.")
    values: list[Any] = [entry]
    for part in path.split("."):
        found: list[Any] = []
        for value in values:
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict) and part in item:
                    found.append(item[part])
        values = found
    return values


def sigma_matches(detection: dict[str, Any], entry: dict[str, Any]) -> bool:
    """Sigma's meaning of a one-selection SigmaHQ rule on a LogEntry, read in Python (plain values,
    wildcards, |startswith, |endswith, |contains; a list is any of its values; items are ANDed)."""
    (selection,) = [v for k, v in detection.items() if k != "condition"]
    for key, wanted in selection.items():
        name, _, modifier = key.partition("|")
        patterns = [str(w).lower() for w in (wanted if isinstance(wanted, list) else [wanted])]
        values = [json.dumps(v) if isinstance(v, bool) else str(v) for v in _values(entry, name)]
        if not any(_glob(v, p, modifier) for v in values for p in patterns):
            return False
    return True


def test_replay_on_the_rows_and_the_raw_entries_is_sigmas_meaning() -> None:
    require_engine()
    rules = _converted_rules()
    entries = _samples("gcp_logentries_panther.jsonl")
    rows = _samples("gcpauditlogs_rows_panther.jsonl")
    fired = 0
    for text, parsed in rules:
        expected = sorted(
            str(row.get("InsertId") or index)
            for index, (entry, row) in enumerate(zip(entries, rows, strict=True), 1)
            if sigma_matches(parsed["detection"], entry)
        )
        on_rows = _hits(text, shared_path("samples", "gcp_audit", "gcpauditlogs_rows_panther.jsonl"))
        on_raw = _hits(text, shared_path("samples", "gcp_audit", "gcp_logentries_panther.jsonl"))
        assert on_rows == on_raw, parsed["title"]
        assert on_rows.get(str(parsed["id"]), []) == expected, parsed["title"]
        fired += bool(expected)
    assert fired >= 3  # bucket, firewall and DNS changes are in the samples


def test_a_raw_entry_reads_as_the_sample_row() -> None:
    """Every sample LogEntry reads as its row of the rows file, column for column (datetimes as
    instants); the rows file gives TimeGenerated the event time where a fixture has no
    receiveTimestamp, which Cloud Logging sets on every stored entry."""
    entries = _samples("gcp_logentries_panther.jsonl")
    rows = _samples("gcpauditlogs_rows_panther.jsonl")
    for entry, line in zip(entries, rows, strict=True):
        row = {k: v for k, v in line.items() if not k.startswith("$")}
        read = log_entry_row(entry)
        if "receiveTimestamp" not in entry:
            row.pop("TimeGenerated", None)
        for column in ("TimeGenerated", "Timestamp"):
            if column in read and column in row and read[column] != row[column]:
                try:  # the rows file keeps milliseconds
                    same = abs(read_datetime(read[column]) - read_datetime(row[column])) < timedelta(milliseconds=1)
                except ValueError:  # a fixture's "..." time (the rows file wrote "...Z")
                    same = read[column] == "..." and row[column] == "...Z"
                if same:
                    read[column] = row[column]
        assert read == row, line["$source"]


def test_the_writer_is_the_readers_inverse_on_the_samples() -> None:
    for line in _samples("gcpauditlogs_rows_panther.jsonl"):
        row = {k: v for k, v in line.items() if not k.startswith("$")}
        assert log_entry_row(log_entry(row)) == row, line["$source"]


def test_an_entries_list_response_is_read_and_unknown_shapes_are_refused(tmp_path: Path) -> None:
    from sigma_azure_aks.replay import replay
    from sigma_azure_aks.replay.loaders import EventsFormatError

    require_engine()
    entry = {"insertId": "a1", "protoPayload": {"methodName": "v1.compute.firewalls.delete"}}
    listed = tmp_path / "entries.json"
    listed.write_text(json.dumps({"entries": [entry], "nextPageToken": "x"}))
    assert _hits(rule("sel: {gcp.audit.method_name: 'v*.compute.firewalls.delete'}"), listed) == {RULE_ID: ["a1"]}
    unknown = tmp_path / "other.json"
    unknown.write_text(json.dumps({"entries": [entry, {"insertId": "b", "jsonPayload": {"message": "x"}}]}))
    with pytest.raises(EventsFormatError, match=re.escape("entries[1]: not an event replay knows")):
        replay(rule("sel: {MethodName: x}"), unknown)


# ---- adversarial rows: authorizationInfo elements, object members -----------------------------------
def _row(name: str, **columns: Any) -> dict[str, Any]:
    return {"$table": "GCPAuditLogs", "InsertId": name, "MethodName": "SetIamPolicy", **columns}


AUTHORIZATION_ROWS = [
    _row("granted", AuthorizationInfo=[{"permission": "iam.roles.delete", "granted": True}]),
    _row("granted-text", AuthorizationInfo=[{"permission": "iam.roles.delete", "granted": "true"}]),
    _row("granted-upper", AuthorizationInfo=[{"permission": "IAM.Roles.Delete", "granted": "TRUE"}]),
    _row("denied", AuthorizationInfo=[{"permission": "iam.roles.delete", "granted": False}]),
    _row("no-granted", AuthorizationInfo=[{"permission": "iam.roles.delete"}]),
    _row("second", AuthorizationInfo=[{"permission": "iam.roles.get", "granted": False},
                                      {"permission": "iam.roles.delete", "granted": True}]),
    _row("split", AuthorizationInfo=[{"permission": "iam.roles.delete", "granted": False},
                                     {"permission": "iam.roles.get", "granted": True}]),
    _row("other-members", AuthorizationInfo=[{"resource": "iam.roles.delete", "permissionType": "true",
                                              "resourceAttributes": {"name": "iam.roles.delete", "type": "true"}}]),
    _row("empty", AuthorizationInfo=[]),
    _row("absent"),
]


@pytest.mark.parametrize(
    "detection, expected",
    [
        ("sel: {data.protoPayload.authorizationInfo.permission: iam.roles.delete}",
         ["denied", "granted", "granted-text", "granted-upper", "no-granted", "second", "split"]),
        ("sel: {data.protoPayload.authorizationInfo.granted: 'true'}",
         ["granted", "granted-text", "granted-upper", "second", "split"]),
        # two members of the array in one selection are read in one element (as the SigmaHQ rule means:
        # this permission granted), so "split" (the permission denied, another one granted) is no hit
        ("sel:\n    data.protoPayload.authorizationInfo.permission: iam.roles.delete\n"
         "    data.protoPayload.authorizationInfo.granted: 'true'",
         ["granted", "granted-text", "granted-upper", "second"]),
        ("sel: {protoPayload.authorizationInfo.granted: 'false'}", ["denied", "second", "split"]),
        ("sel: {protoPayload.authorizationInfo.permission|startswith: iam.roles.}",
         ["denied", "granted", "granted-text", "granted-upper", "no-granted", "second", "split"]),
    ],
)
def test_authorization_members_keep_sigmas_meaning(detection: str, expected: list[str]) -> None:
    require_engine()
    assert _hits(rule(detection), AUTHORIZATION_ROWS) == ({RULE_ID: expected} if expected else {})


NESTED_ROWS = [
    _row("nested", AuthorizationInfo=[{"resourceAttributes": {"labels": {"permission": "iam.roles.delete"}}}]),
    _row("nested-granted", AuthorizationInfo=[
        {"permission": "iam.roles.delete", "resourceAttributes": {"labels": {"granted": True}}, "granted": False}]),
    _row("nested-array", AuthorizationInfo=[{"resourceAttributes": [{"permission": "iam.roles.delete"}]}]),
    _row("own-after-nested", AuthorizationInfo=[
        {"resourceAttributes": {"name": "a}{[\"", "labels": {"permission": "x", "granted": [True]}},
         "permission": "iam.roles.delete", "granted": True}]),
]


@pytest.mark.parametrize(
    "detection, expected",
    [
        ("sel: {protoPayload.authorizationInfo.permission: iam.roles.delete}", ["nested-granted", "own-after-nested"]),
        ("sel: {protoPayload.authorizationInfo.granted: 'true'}", ["own-after-nested"]),
        ("sel:\n    protoPayload.authorizationInfo.permission: iam.roles.delete\n"
         "    protoPayload.authorizationInfo.granted: 'true'", ["own-after-nested"]),
    ],
)
def test_a_key_inside_an_elements_nested_object_is_not_the_elements_member(detection: str, expected: list[str]) -> None:
    """resourceAttributes holds objects: a like-named key in them is not the element's member, and
    the element's own member after them is still read."""
    require_engine()
    assert _hits(rule(detection), NESTED_ROWS) == {RULE_ID: expected}


OBJECT_ROWS = [
    _row("ip", RequestMetadata={"callerIp": "10.1.2.3"}),
    _row("ip-other-case-key", RequestMetadata={"callerIP": "10.1.2.3"}),
    _row("ip-number", RequestMetadata={"callerIp": 5}),
    _row("ip-empty", RequestMetadata={"callerIp": ""}),
    _row("ip-null", RequestMetadata={"callerIp": None}),
    _row("no-ip", RequestMetadata={"callerSuppliedUserAgent": "kubectl"}),
    _row("no-metadata"),
]


@pytest.mark.parametrize(
    "detection, expected",
    [
        ("sel: {protoPayload.requestMetadata.callerIp: 10.1.2.3}", ["ip"]),
        ("sel: {protoPayload.requestMetadata.callerIp|cidr: 10.0.0.0/8}", ["ip"]),
        ("sel: {protoPayload.requestMetadata.callerIp: 5}", ["ip-number"]),
        ("sel: {protoPayload.requestMetadata.callerIp: ''}", ["ip-empty"]),
        ("sel: {protoPayload.requestMetadata.callerIp|exists: true}", ["ip", "ip-empty", "ip-null", "ip-number"]),
    ],
)
def test_object_members_keep_sigmas_meaning(detection: str, expected: list[str]) -> None:
    require_engine()
    assert _hits(rule(detection), OBJECT_ROWS) == {RULE_ID: expected}


def test_the_same_adversarial_rows_as_raw_entries_fire_alike(tmp_path: Path) -> None:
    require_engine()
    rows = [{k: v for k, v in row.items() if k != "$table"} | {"Type": "GCPAuditLogs"}
            for row in AUTHORIZATION_ROWS + OBJECT_ROWS]
    raw = tmp_path / "entries.jsonl"
    raw.write_text("".join(json.dumps(log_entry(row)) + "\n" for row in rows))
    for detection in ("sel: {data.protoPayload.authorizationInfo.granted: 'true'}",
                      "sel: {protoPayload.requestMetadata.callerIp: 10.1.2.3}",
                      "sel: {protoPayload.authorizationInfo.permission: iam.roles.delete}"):
        assert _hits(rule(detection), raw) == _hits(rule(detection), AUTHORIZATION_ROWS + OBJECT_ROWS), detection


# ---- property: a permission equals a rule value exactly when Sigma says so ----------------------------
_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=12)


def _sigma_literal(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")
    return json.dumps(escaped)


@settings(max_examples=25, deadline=None)
@given(value=_TEXT, others=st.lists(_TEXT, max_size=3))
def test_permission_equality_property(value: str, others: list[str]) -> None:
    require_engine()
    members = [value, value.upper(), value.lower(), value + "x", *others]
    rows = [
        _row(f"r{index}", AuthorizationInfo=[{"permission": value + "!", "granted": True},
                                             {"permission": member, "resource": value}])
        for index, member in enumerate(members)
    ]
    expected = sorted(f"r{i}" for i, member in enumerate(members) if member.lower() == value.lower())
    hits = _hits(rule(f"sel: {{protoPayload.authorizationInfo.permission: {_sigma_literal(value)}}}"), rows)
    assert hits.get(RULE_ID, []) == expected


def test_the_breakglass_rule_written_on_the_logentry_fields_converts(kql: Any) -> None:
    """The refused SigmaHQ rule, with the LogEntry's own `resource.type` and `logName|endswith`
    (the docs' advice), converts and fires on a GKE pod creation carrying the break-glass annotation."""
    text = rule(
        "sel:\n    data.resource.type: k8s_cluster\n    data.logName|endswith: cloudaudit.googleapis.com%2Factivity\n"
        "    data.protoPayload.methodName: io.k8s.core.v1.pods.create\n"
        "keywords:\n    - 'image-policy.k8s.io/break-glass'",
        "sel and keywords",
    )
    query = convert(text)
    assert kql.errors(query) == []
    require_engine()
    annotated = {"metadata": {"annotations": {"image-policy.k8s.io/break-glass": "true"}}}
    rows = [
        _row("glass", MethodName="io.k8s.core.v1.pods.create", GCPResourceType="k8s_cluster",
             LogName="projects/p/logs/cloudaudit.googleapis.com%2Factivity", Request=annotated),
        _row("plain", MethodName="io.k8s.core.v1.pods.create", GCPResourceType="k8s_cluster",
             LogName="projects/p/logs/cloudaudit.googleapis.com%2Factivity", Request={"metadata": {}}),
    ]
    assert _hits(text, rows) == {RULE_ID: ["glass"]}


# ---- Kubernetes method names GKE never logs: converted as written, with a warning ---------------------
def _warnings(text: str) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SentinelBackend().convert(SigmaCollection.from_yaml(text))
    return [str(w.message) for w in caught if "matches no method name GKE logs" in str(w.message)]


@pytest.mark.parametrize(
    "detection, warned",
    [
        ("sel: {gcp.audit.method_name|startswith: 'admissionregistration.k8s.io.v'}", True),
        ("sel: {gcp.audit.method_name: 'io.k8s.api.batch.v*.Job'}", True),
        ("sel: {MethodName: 'k8s.io.core.v1.pods.create'}", True),
        ("sel: {protoPayload.methodName: io.k8s.batch.v1.cronjobs.create}", False),
        ("sel: {gcp.audit.method_name: 'io.k8s.core.v*.secrets.create'}", False),
        ("sel: {gcp.audit.method_name|startswith: 'io.k8'}", False),  # a prefix of the form may match
        ("sel: {gcp.audit.method_name|contains: '.k8s.api.'}", False),  # not anchored: left as it is
        ("sel: {gcp.audit.method_name|endswith: '.serviceAccounts.delete'}", False),
        ("sel: {protoPayload.request.kind: 'k8s.io/api'}", False),  # not methodName
    ],
)
def test_kubernetes_method_values_gke_never_logs_warn(detection: str, warned: bool) -> None:
    text = rule(detection)
    assert bool(_warnings(text)) == warned
    assert convert(text).startswith("GCPAuditLogs\n| where ")


def test_the_sigmahq_rules_that_warn_are_the_two_kubernetes_ones() -> None:
    warned = {file.name for file in _corpus_files() if file.name not in REFUSED
              and _warnings(file.read_text(encoding="utf-8"))}
    assert warned == {"gcp_kubernetes_admission_controller.yml", "gcp_kubernetes_cronjob.yml"}


def test_a_log_entry_that_is_no_audit_log_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Cloud Logging entry with a jsonPayload (not an AuditLog) beside an audit entry: the command
    says which line, exit 2, nothing on stdout."""
    from sigma_azure_aks.commands import main
    from sigma_azure_aks.commands.common import EXIT_USAGE

    require_engine()
    rule_file = tmp_path / "rule.yml"
    rule_file.write_text(rule("sel: {gcp.audit.method_name: x}"))
    events = tmp_path / "entries.jsonl"
    audit = {"insertId": "a", "protoPayload": {"methodName": "x"}}
    other = {"insertId": "b", "logName": "projects/p/logs/syslog", "jsonPayload": {"message": "hi"}}
    events.write_text(json.dumps(audit) + "\n" + json.dumps(other) + "\n")
    assert main(["replay", str(rule_file), "--events", str(events)]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith(f"error: {events}: line 2: not an event replay knows"), line
    assert "a Cloud Logging LogEntry with an AuditLog protoPayload" in line


@pytest.mark.parametrize(
    "detection, warned",
    [
        ("sel: {logName: cloudaudit.googleapis.com/activity}", True),
        ("sel: {data.logName: 'cloudaudit.googleapis.com%2Factivity'}", True),
        ("sel: {LogName|startswith: cloudaudit}", True),
        ("sel: {logName: projects/p/logs/cloudaudit.googleapis.com%2Factivity}", False),
        ("sel: {logName: 'organizations/1/logs/*'}", False),
        ("sel: {logName|startswith: proj}", False),
        ("sel: {logName|endswith: cloudaudit.googleapis.com%2Factivity}", False),
        ("sel: {logName|contains: cloudaudit}", False),
    ],
)
def test_log_name_values_that_are_no_full_log_name_warn(detection: str, warned: bool) -> None:
    text = rule(detection)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SentinelBackend().convert(SigmaCollection.from_yaml(text))
    assert any("matches no logName" in str(w.message) for w in caught) == warned
