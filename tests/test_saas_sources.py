"""Okta, GitHub, OneLogin and Cisco Duo: their Sentinel connectors' tables (OktaV2_CL,
GitHubAuditLogsV2_CL, OneLoginEventsV2_CL, CiscoDuo_CL).

Exact queries for the field names SigmaHQ writes; every SigmaHQ rule of these services through
`-t sentinel` and Microsoft's parser; the analytics rule's connector and entities; and replay of the
SigmaHQ rules on the shared samples, compared with a small Python reading of the same rules on the
vendors' own events (Okta System Log, GitHub audit log, OneLogin events, Duo logs), both as Sentinel
rows and as the raw API events replay maps to rows the way the
connector does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import shared_dir
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from replay_support import require_engine
from sigma.collection import SigmaCollection

from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.kql_parser.checker import KqlChecker
from sigma_azure_aks.sources import source_for_table
from sigma_azure_aks.sources.cisco_duo import duo_keys, duo_row
from sigma_azure_aks.sources.github import audit_row
from sigma_azure_aks.sources.okta import system_log_row
from sigma_azure_aks.sources.onelogin import event_row

# service folder -> (Sigma logsource, table, SigmaHQ rule count, rows file, raw events file)
SERVICES: dict[str, tuple[str, str, int, str, str]] = {
    "okta": ("product: okta\n    service: okta", "OktaV2_CL", 22,
             "oktav2_rows_panther.jsonl", "okta_systemlog_panther.jsonl"),
    "github": ("product: github\n    service: audit", "GitHubAuditLogsV2_CL", 15,
               "githubauditlogsv2_rows_panther.jsonl", "github_audit_panther.jsonl"),
    "onelogin": ("product: onelogin\n    service: onelogin.events", "OneLoginEventsV2_CL", 2,
                 "oneloginevents_rows_panther.jsonl", "onelogin_events_panther.jsonl"),
    "cisco_duo": ("product: cisco\n    service: duo", "CiscoDuo_CL", 1,
                  "ciscoduo_rows_panther.jsonl", "duo_logs_panther.jsonl"),
}
RAW_READ = ("okta", "github", "onelogin", "cisco_duo")  # services whose raw API events replay reads itself


def rule(service: str, detection: str, condition: str = "sel") -> str:
    logsource = SERVICES[service][0]
    return (
        "title: t\nid: 5d0c1b3a-0000-4000-8000-0000000000aa\nstatus: test\n"
        f"logsource:\n    {logsource}\ndetection:\n    sel:\n{detection}\n    condition: {condition}\nlevel: low\n"
    )


def to_sentinel(text: str) -> str:
    [query] = SentinelBackend().convert(SigmaCollection.from_yaml(text))
    return query


# ---- exact queries ------------------------------------------------------------------------------
EXACT = [
    ("okta", "        eventType: user.session.start", 'OktaV2_CL\n| where EventOriginalType =~ "user.session.start"'),
    ("okta", "        displayMessage: Max sign in attempts exceeded",
     'OktaV2_CL\n| where EventMessage =~ "Max sign in attempts exceeded"'),
    ("okta", "        legacyEventType: core.user_auth.login_failed",
     'OktaV2_CL\n| where LegacyEventType =~ "core.user_auth.login_failed"'),
    ("okta", "        outcome.result: FAILURE", 'OktaV2_CL\n| where OriginalOutcomeResult =~ "FAILURE"'),
    ("okta", "        outcome.reason: x", 'OktaV2_CL\n| where EventOriginalResultDetails =~ "x"'),
    ("okta", "        actor.alternateId: a@b.c", 'OktaV2_CL\n| where OriginalActorAlternateId =~ "a@b.c"'),
    ("okta", "        client.ipAddress: 10.0.0.1", 'OktaV2_CL\n| where SrcIpAddr =~ "10.0.0.1"'),
    ("okta", "        securityContext.isProxy: 'true'",
     'OktaV2_CL\n| where tostring(SecurityContextIsProxy) =~ "true"'),
    ("okta", "        debugContext.debugData.requestUri|contains: admin",
     'OktaV2_CL\n| where tostring(DebugData.requestUri) contains "admin"'),
    ("okta", "        EventOriginalType: x", 'OktaV2_CL\n| where EventOriginalType =~ "x"'),
    ("github", "        action: repo.destroy", 'GitHubAuditLogsV2_CL\n| where Action =~ "repo.destroy"'),
    ("github", "        actor: octocat", 'GitHubAuditLogsV2_CL\n| where Actor =~ "octocat"'),
    ("github", "        org: acme", 'GitHubAuditLogsV2_CL\n| where Org =~ "acme"'),
    ("github", "        actor_ip: 10.0.0.1", 'GitHubAuditLogsV2_CL\n| where ActorIp =~ "10.0.0.1"'),
    ("github", "        actor_location.country_code: US", 'GitHubAuditLogsV2_CL\n| where CountryCode =~ "US"'),
    ("github", "        type: x", 'GitHubAuditLogsV2_CL\n| where ActivityType =~ "x"'),
    ("github", "        _document_id: x", 'GitHubAuditLogsV2_CL\n| where DocumentId =~ "x"'),
    ("onelogin", "        event_type_id: 3", "OneLoginEventsV2_CL\n| where EventTypeId == 3"),
    ("onelogin", "        user_name: bob", 'OneLoginEventsV2_CL\n| where UserName =~ "bob"'),
    ("onelogin", "        ipaddr: 10.0.0.1", 'OneLoginEventsV2_CL\n| where Ipaddr =~ "10.0.0.1"'),
    ("cisco_duo", "        event_type: authentication", 'CiscoDuo_CL\n| where event_type_s =~ "authentication"'),
    ("cisco_duo", "        reason: bypass_user", 'CiscoDuo_CL\n| where reason_s =~ "bypass_user"'),
    ("cisco_duo", "        access_device.ip: 10.0.0.1", 'CiscoDuo_CL\n| where access_device_ip_s =~ "10.0.0.1"'),
]


@pytest.mark.parametrize(("service", "detection", "expected"), EXACT, ids=[f"{s}:{d.strip()}" for s, d, _ in EXACT])
def test_exact(kql: KqlChecker, service: str, detection: str, expected: str) -> None:
    query = to_sentinel(rule(service, detection))
    assert query == expected
    assert kql.errors(query) == []


def test_okta_target_member_matches_an_element_of_the_target_array() -> None:
    query = to_sentinel(rule("okta", "        target.displayName: Okta Admin Console"))
    assert query.startswith("OktaV2_CL\n| where tostring(OriginalTarget) matches regex ")
    assert '\\"displayName\\"' in query and "Okta Admin Console" in query


def test_unknown_field_is_refused_naming_the_table() -> None:
    with pytest.raises(Exception, match="field 'no_such_field' has no GitHubAuditLogsV2_CL column"):
        to_sentinel(rule("github", "        no_such_field: x"))


def test_duo_keys_are_the_data_collector_column_without_its_suffix() -> None:
    assert duo_keys("access_device_ip_s") == ("access_device_ip", "access_device.ip")
    assert duo_keys("txid_g") == ("txid",)
    assert duo_keys("user_name_s") == ("user_name", "user.name")
    assert duo_keys("username_s") == ("username",)
    assert duo_keys("isotimestamp_t") == ("isotimestamp",)


# ---- the SigmaHQ corpora ------------------------------------------------------------------------
def corpus(service: str) -> list[Path]:
    shared = shared_dir()
    if shared is None:
        pytest.skip("shared folder absent")
    return sorted((shared / "corpus" / "sigmahq" / service).glob("*.yml"))


@pytest.mark.parametrize("service", list(SERVICES))
def test_every_sigmahq_rule_converts_to_its_table_and_parses(kql: KqlChecker, service: str) -> None:
    _, table, count, _, _ = SERVICES[service]
    paths = corpus(service)
    assert len(paths) == count
    for path in paths:
        [query] = SentinelBackend().convert(SigmaCollection.from_yaml(path.read_text(encoding="utf-8")))
        assert query.startswith(f"{table}\n| where "), path.name
        assert kql.errors(query) == [], path.name


@pytest.mark.parametrize(
    ("service", "connector", "entities"),
    [
        ("okta", "OktaSSOv2", {"Account": ["OriginalActorAlternateId", "ActorDisplayName"], "IP": ["SrcIpAddr"]}),
        ("github", "GitHubAuditDefinitionV2", {"Account": ["Actor"], "IP": ["ActorIp"]}),
        ("onelogin", "OneLoginIAMLogsCCPDefinition", {"Account": ["UserName"], "IP": ["Ipaddr"]}),
        ("cisco_duo", "CiscoDuoSecurity", {"Account": ["user_name_s"], "IP": ["access_device_ip_s"]}),
    ],
)
def test_analytics_rule_names_the_connector_and_the_entities(
    service: str, connector: str, entities: dict[str, list[str]]
) -> None:
    field = {"okta": "eventType", "github": "action", "onelogin": "event_type_id", "cisco_duo": "reason"}[service]
    template = SentinelBackend().convert(SigmaCollection.from_yaml(rule(service, f"        {field}: 1")), "yaml")
    properties = yaml.safe_load(template)
    [required] = properties["requiredDataConnectors"]
    assert required["connectorId"] == connector
    mapped = {m["entityType"]: [f["columnName"] for f in m["fieldMappings"]] for m in properties["entityMappings"]}
    assert mapped == entities
    table = SERVICES[service][1]
    source = source_for_table(table)
    assert source is not None and all(c in source.schema for cs in mapped.values() for c in cs)


# ---- replay on the samples -----------------------------------------------------------------------
def samples(service: str, name: str) -> list[dict[str, Any]]:
    shared = shared_dir()
    if shared is None:
        pytest.skip("shared folder absent")
    path = shared / "samples" / service / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def lookup(event: Any, path: str) -> list[Any]:
    """Values at a dotted path of a vendor event; a list on the way yields each element's value."""
    values = [event]
    for part in path.split("."):
        found: list[Any] = []
        for value in values:
            items = value if isinstance(value, list) else [value]
            found += [item[part] for item in items if isinstance(item, dict) and part in item]
        values = found
    return values


def text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


def item_matches(event: dict[str, Any], key: str, expected: Any) -> bool:
    """Sigma's meaning of one detection item on a vendor event: plain (case-insensitive equality),
    |contains (case-insensitive), |re (a regex search); a list of values matches any."""
    name, _, modifier = key.partition("|")
    wanted = expected if isinstance(expected, list) else [expected]
    for value in lookup(event, name):
        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        for want in wanted:
            if modifier == "" and text(value).lower() == text(want).lower():
                return True
            if modifier == "contains" and text(want).lower() in text(value).lower():
                return True
            if modifier == "re" and re.search(str(want), text(value)):
                return True
            assert modifier in ("", "contains", "re"), f"the reading knows no |{modifier}"
    return False


def group_matches(event: dict[str, Any], group: Any) -> bool:
    maps = group if isinstance(group, list) else [group]
    return any(all(item_matches(event, k, v) for k, v in m.items()) for m in maps)


def python_reading(detection: dict[str, Any], event: dict[str, Any]) -> bool:
    """The four condition shapes these corpora use, read directly."""
    condition = detection["condition"]
    groups = {name: group for name, group in detection.items() if name != "condition"}
    if condition == "selection":
        return group_matches(event, groups["selection"])
    if condition == "selection and not filter_main":
        return group_matches(event, groups["selection"]) and not group_matches(event, groups["filter_main"])
    prefix = condition.split()[-1].rstrip("*")
    chosen = [g for name, g in groups.items() if name.startswith(prefix)]
    if condition.startswith("all of "):
        return all(group_matches(event, g) for g in chosen)
    if condition.startswith("1 of "):
        return any(group_matches(event, g) for g in chosen)
    raise AssertionError(f"the reading knows no condition {condition!r}")


def event_ids(table: str, rows: list[dict[str, Any]]) -> list[str | int]:
    source = source_for_table(table)
    assert source is not None and source.id_column
    return [str(row[source.id_column]) if row.get(source.id_column) not in (None, "") else number
            for number, row in enumerate(rows, 1)]


@pytest.mark.parametrize("service", list(SERVICES))
def test_replay_on_the_rows_is_sigmas_meaning_on_the_vendor_events(service: str) -> None:
    """Every SigmaHQ rule of the service on the sample rows (replay) hits exactly the events the
    Python reading of the rule picks from the vendor's own events (the rows' originals)."""
    require_engine()
    from sigma_azure_aks.replay import replay

    _, table, _, rows_name, raw_name = SERVICES[service]
    rows, raw = samples(service, rows_name), samples(service, raw_name)
    assert len(rows) == len(raw)
    ids = event_ids(table, rows)
    fired = 0
    for path in corpus(service):
        text_ = path.read_text(encoding="utf-8")
        document = yaml.safe_load(text_)
        result = replay(text_, rows)
        assert not result.failures, result.failures
        expected = [ids[i] for i, event in enumerate(raw) if python_reading(document["detection"], event)]
        assert sorted(map(str, result.get(document["id"]))) == sorted(map(str, expected)), path.name
        fired += bool(expected)
    assert fired >= 1  # the samples exercise the rules at all


@pytest.mark.parametrize("service", RAW_READ)
def test_replay_reads_the_raw_api_events_as_the_connector_rows(service: str) -> None:
    """The raw API events give the same hits as the rows the connector writes from them."""
    require_engine()
    from sigma_azure_aks.replay import replay

    _, _, _, rows_name, raw_name = SERVICES[service]
    rows, raw = samples(service, rows_name), samples(service, raw_name)
    for path in corpus(service):
        text_ = path.read_text(encoding="utf-8")
        rule_id = yaml.safe_load(text_)["id"]
        on_rows, on_raw = replay(text_, rows), replay(text_, raw)
        assert not on_rows.failures and not on_raw.failures
        assert on_raw.get(rule_id) == on_rows.get(rule_id), path.name


READERS = {"okta": system_log_row, "github": audit_row, "onelogin": event_row, "cisco_duo": duo_row}
TIME_COLUMNS = {"TimeGenerated", "isotimestamp_t", "surfaced_auth_isotimestamp_t"}


@pytest.mark.parametrize("service", list(READERS))
def test_raw_readers_write_the_sample_rows(service: str) -> None:
    """Each reader gives the row the samples' connector re-implementation gives, column by column
    (times aside: the samples write them in ISO form); for GitHub and Duo, whose samples keep only
    some columns, on the columns the sample row has."""
    _, table, _, rows_name, raw_name = SERVICES[service]
    schema = source_for_table(table).schema  # type: ignore[union-attr]
    for number, (event, sample) in enumerate(zip(samples(service, raw_name), samples(service, rows_name), strict=True)):
        row = READERS[service](event)
        columns = {c for c in sample if c in schema} if service in ("github", "cisco_duo") else set(row) | set(sample)
        differing = {c: (row.get(c), sample.get(c)) for c in columns - TIME_COLUMNS
                     if not c.startswith("$") and row.get(c) != sample.get(c) and {row.get(c), sample.get(c)} != {"", None}}
        assert differing == {}, f"{raw_name} line {number + 1}"


@pytest.mark.parametrize("service", ["github", "cisco_duo"])
def test_raw_writers_invert_the_readers_on_the_samples(service: str) -> None:
    """Each sample event read as a row, written back by its kind's writer and read again gives the
    same row, empty and absent alike (the writer is the reader's inverse on real events, nested
    objects and arrays as the connector's JSON text included), and the written entry is of the
    same kind."""
    _, table, _, _, raw_name = SERVICES[service]
    source = source_for_table(table)
    assert source is not None
    for number, event in enumerate(samples(service, raw_name)):
        (reader,) = [r for r in source.raw_records if r.recognise(event)]
        row = reader.to_row(event)
        assert all(row.get(c) == v for c, v in reader.fixed.items() if v is not None), f"line {number + 1}"
        written = reader.write(row)  # type: ignore[misc]
        assert [r for r in source.raw_records if r.recognise(written)] == [reader], f"line {number + 1}"
        assert _filled(reader.to_row(written)) == _filled(row), f"{raw_name} line {number + 1}"


def _filled(row: dict[str, Any]) -> dict[str, Any]:
    """A row's columns with a value (an empty string column reads as no value)."""
    return {column: value for column, value in row.items() if value is not None and value != ""}


def test_okta_raw_event_reads_into_the_connector_columns() -> None:
    event = {
        "uuid": "u1", "eventType": "user.session.start", "severity": "INFO", "version": "0",
        "published": "2024-01-01T00:00:00Z", "displayMessage": "User login to Okta",
        "actor": {"alternateId": "a@b.c", "displayName": "A"}, "outcome": {"result": "SUCCESS"},
        "securityContext": {"isProxy": True}, "debugContext": {"debugData": {"requestUri": "/x"}},
        "target": [{"displayName": "Okta Admin Console"}],
    }
    row = system_log_row(event)
    assert row["EventOriginalType"] == "user.session.start"
    assert row["OriginalActorAlternateId"] == row["ActorUsername"] == "a@b.c"
    assert row["EventResult"] == "Success" and row["OriginalOutcomeResult"] == "SUCCESS"
    assert row["SecurityContextIsProxy"] is True
    assert row["DebugData"] == {"requestUri": "/x"}
    assert row["OriginalTarget"] == [{"displayName": "Okta Admin Console"}]


def test_github_raw_entry_reads_into_the_connector_columns() -> None:
    entry = {"action": "repo.destroy", "actor": "octocat", "org": "acme", "repo": "acme/x",
             "actor_location": {"country_code": "US"}, "_document_id": "d1", "created_at": 1621305118553,
             "config": {"url": "https://x"}, "not_a_column": 1}
    row = audit_row(entry)
    assert {k: row[k] for k in ("Action", "Actor", "Org", "Repo", "CountryCode", "DocumentId", "CreatedAt")} == {
        "Action": "repo.destroy", "Actor": "octocat", "Org": "acme", "Repo": "acme/x",
        "CountryCode": "US", "DocumentId": "d1", "CreatedAt": 1621305118553,
    }
    assert row["Config"] == '{"url": "https://x"}'
    assert "not_a_column" not in row and "NotAColumn" not in row


# ---- the legacy Okta table (pipeline okta_legacy) -------------------------------------------------
LEGACY = "Okta_CL\n| extend OktaTarget = parse_json(target_s)\n| where "  # the target array parsed once


def legacy(detection: str) -> str:
    from sigma_azure_aks.batch import resolve_pipelines

    backend = SentinelBackend(processing_pipeline=resolve_pipelines(("okta_legacy",)))
    [query] = backend.convert(SigmaCollection.from_yaml(rule("okta", detection)))
    return query


@pytest.mark.parametrize(
    ("detection", "expected"),
    [
        ("        eventType: user.session.start", LEGACY + 'eventType_s =~ "user.session.start"'),
        ("        actor.alternateId: a@b.c", LEGACY + 'actor_alternateId_s =~ "a@b.c"'),
        ("        securityContext.isProxy: 'true'", LEGACY + 'tostring(securityContext_isProxy_b) =~ "true"'),
        ("        debugContext.debugData.requestUri|contains: admin",
         LEGACY + 'debugContext_debugData_requestUri_s contains "admin"'),
    ],
)
def test_okta_legacy_exact(kql: KqlChecker, detection: str, expected: str) -> None:
    query = legacy(detection)
    assert query == expected
    assert kql.errors(query) == []


def test_okta_legacy_refuses_a_field_its_schema_lacks() -> None:
    with pytest.raises(Exception, match="debugContext.debugData.behaviors' has no Okta_CL column.*okta pipeline"):
        legacy("        debugContext.debugData.behaviors|contains: POSITIVE")


def test_okta_legacy_target_member_matches_inside_the_json_text() -> None:
    require_engine()
    from sigma_azure_aks.replay import replay

    rows = [
        {"Type": "Okta_CL", "uuid_g": "hit", "target_s": '[{"id":"1","displayName":"Okta Admin Console"}]'},
        {"Type": "Okta_CL", "uuid_g": "spaced", "target_s": '[{"id": "1"}, {"displayName": "okta admin console"}]'},
        {"Type": "Okta_CL", "uuid_g": "other_member", "target_s": '[{"alternateId":"Okta Admin Console"}]'},
        {"Type": "Okta_CL", "uuid_g": "longer", "target_s": '[{"displayName":"Okta Admin Console 2"}]'},
    ]
    text_ = rule("okta", "        target.displayName: Okta Admin Console")
    from sigma_azure_aks.batch import resolve_pipelines

    result = replay(text_, rows, pipeline=resolve_pipelines(("okta_legacy",)))
    assert not result.failures, result.failures
    assert sorted(result.get("5d0c1b3a-0000-4000-8000-0000000000aa")) == ["hit", "spaced"]


# ---- the deprecated GitHub table (pipeline github_legacy) ------------------------------------------
@pytest.mark.parametrize(
    ("detection", "expected"),
    [
        ("        action: repo.destroy", 'GitHubAuditLogPolling_CL\n| where action_s =~ "repo.destroy"'),
        ("        actor: octocat", 'GitHubAuditLogPolling_CL\n| where actor_s =~ "octocat"'),
        ("        actor_location.country_code: US", 'GitHubAuditLogPolling_CL\n| where actor_location_country_code_s =~ "US"'),
        ("        _document_id: d1", 'GitHubAuditLogPolling_CL\n| where _document_id_s =~ "d1"'),
        ("        created_at: 1", "GitHubAuditLogPolling_CL\n| where created_at_d == 1"),
    ],
)
def test_github_legacy_exact(kql: KqlChecker, detection: str, expected: str) -> None:
    from sigma_azure_aks.batch import resolve_pipelines

    backend = SentinelBackend(processing_pipeline=resolve_pipelines(("github_legacy",)))
    [query] = backend.convert(SigmaCollection.from_yaml(rule("github", detection)))
    assert query == expected
    assert kql.errors(query) == []


# ---- adversarial rows --------------------------------------------------------------------------------
def replay_ids(service: str, detection: str, rows: list[dict[str, Any]]) -> list[str]:
    require_engine()
    from sigma_azure_aks.replay import replay

    result = replay(rule(service, detection), rows)
    assert not result.failures, result.failures
    return sorted(map(str, result.get("5d0c1b3a-0000-4000-8000-0000000000aa")))


def test_okta_bool_column_matches_the_sigma_text_true_only_on_true() -> None:
    rows = [
        {"Type": "OktaV2_CL", "EventOriginalUid": "true", "SecurityContextIsProxy": True},
        {"Type": "OktaV2_CL", "EventOriginalUid": "false", "SecurityContextIsProxy": False},
        {"Type": "OktaV2_CL", "EventOriginalUid": "null", "SecurityContextIsProxy": None},
        {"Type": "OktaV2_CL", "EventOriginalUid": "absent"},
    ]
    assert replay_ids("okta", "        securityContext.isProxy: 'true'", rows) == ["true"]
    assert replay_ids("okta", "        securityContext.isProxy: 'false'", rows) == ["false"]


def test_okta_debugdata_member_of_other_types_and_cases() -> None:
    rows = [
        {"Type": "OktaV2_CL", "EventOriginalUid": "text", "DebugData": {"requestUri": "/api/v1/ADMIN/x"}},
        {"Type": "OktaV2_CL", "EventOriginalUid": "other_case_key", "DebugData": {"RequestUri": "/admin"}},
        {"Type": "OktaV2_CL", "EventOriginalUid": "number", "DebugData": {"requestUri": 12}},
        {"Type": "OktaV2_CL", "EventOriginalUid": "nested", "DebugData": {"x": {"requestUri": "/admin"}}},
        {"Type": "OktaV2_CL", "EventOriginalUid": "absent", "DebugData": {}},
    ]
    # member names are case-sensitive in the System Log and in KQL: only the exact member matches
    assert replay_ids("okta", "        debugContext.debugData.requestUri|contains: admin", rows) == ["text"]
    assert replay_ids("okta", "        debugContext.debugData.requestUri: 12", rows) == ["number"]


def test_okta_target_member_is_matched_per_element() -> None:
    rows = [
        {"Type": "OktaV2_CL", "EventOriginalUid": "second", "OriginalTarget": [{"displayName": "x"},
                                                                              {"displayName": "OKTA admin console"}]},
        {"Type": "OktaV2_CL", "EventOriginalUid": "other_member", "OriginalTarget": [{"alternateId": "Okta Admin Console"}]},
        {"Type": "OktaV2_CL", "EventOriginalUid": "longer", "OriginalTarget": [{"displayName": "Okta Admin Console!"}]},
        {"Type": "OktaV2_CL", "EventOriginalUid": "empty", "OriginalTarget": []},
    ]
    assert replay_ids("okta", "        target.displayName: Okta Admin Console", rows) == ["second"]


@pytest.mark.parametrize(
    "record",
    [{"action": "foo"}, {"event_type": "authentication"}, {"eventType": "x"}, {"username": "a", "timestamp": 1}],
    ids=["bare_action", "duo_event_type_alone", "okta_event_type_alone", "no_kind"],
)
def test_records_of_no_known_shape_are_refused(record: dict[str, Any]) -> None:
    from sigma_azure_aks.replay.loaders import read_events

    with pytest.raises(Exception, match="not an event replay knows"):
        read_events([record])


@pytest.mark.parametrize(
    ("service", "pipeline", "head", "refused"),
    [
        ("okta", "okta_legacy", LEGACY, {"okta_new_behaviours_admin_console.yml": "debugContext.debugData.behaviors"}),
        ("github", "github_legacy", "GitHubAuditLogPolling_CL\n| where ", {}),
    ],
)
def test_sigmahq_rules_on_the_legacy_tables(
    kql: KqlChecker, service: str, pipeline: str, head: str, refused: dict[str, str]
) -> None:
    """Every SigmaHQ rule converts to the legacy table and parses, or is refused naming the field."""
    from sigma_azure_aks.batch import resolve_pipelines

    backend = SentinelBackend(processing_pipeline=resolve_pipelines((pipeline,)))
    for path in corpus(service):
        collection = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"))
        if path.name in refused:
            with pytest.raises(Exception, match=f"field '{refused[path.name]}' has no {head.split()[0]} column"):
                backend.convert(collection)
            continue
        [query] = backend.convert(collection)
        assert query.startswith(head), path.name
        assert kql.errors(query) == [], path.name


# ---- property: the target array, dynamic (OktaV2_CL) and JSON text (Okta_CL) -----------------------
_TEXT = st.text(alphabet=st.sampled_from('aAbZ 0"\\[]{}:,.-_é'), max_size=6)
_ELEMENT = st.dictionaries(st.sampled_from(["displayName", "alternateId", "type"]), _TEXT, max_size=3)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(targets=st.lists(st.lists(_ELEMENT, max_size=3), min_size=1, max_size=4), pick=st.integers(0, 20),
       other=_TEXT)
def test_target_member_is_sigmas_meaning_on_both_tables(
    targets: list[list[dict[str, str]]], pick: int, other: str
) -> None:
    """`target.displayName: v` matches a row exactly when some element's displayName equals v
    (ignoring case), on the dynamic column and on its JSON text, whatever the strings hold."""
    require_engine()
    from sigma_azure_aks.batch import resolve_pipelines
    from sigma_azure_aks.replay.engine import Engine

    names = [e["displayName"] for t in targets for e in t if "displayName" in e]
    value = names[pick % len(names)] if names and pick < 15 else other
    if any(c in value for c in "*?\\") or value.strip() != value or not value:
        value = "plain"  # Sigma wildcards and escapes are another test's concern
    detection = f"        target.displayName: {json.dumps(value)}"
    expected = [i for i, t in enumerate(targets)
                if any(e.get("displayName", "").lower() == value.lower() for e in t)]
    for pipeline, table, column, encode in (
        ("okta", "OktaV2_CL", "OriginalTarget", lambda t: t),
        ("okta_legacy", "Okta_CL", "target_s", json.dumps),  # the ingester may escape non-ASCII
        ("okta_legacy", "Okta_CL", "target_s", lambda t: json.dumps(t, ensure_ascii=False)),
    ):
        backend = SentinelBackend(processing_pipeline=resolve_pipelines((pipeline,)))
        [query] = backend.convert(SigmaCollection.from_yaml(rule("okta", detection)))
        engine = Engine()
        try:
            engine.load(table, [{column: encode(t)} for t in targets])
            assert engine.matches(query) == expected, (table, value, targets)
        finally:
            engine.close()
