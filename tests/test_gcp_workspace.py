"""Google Workspace on GoogleWorkspaceReports (the Google Workspace Activities connector's table).

Exact queries for the Reports API names SigmaHQ writes; the Cloud Logging fields of the SigmaHQ rules
refused with their exact message; the same rules written with the table's own application column,
converted, through Microsoft's parser, and replayed on the shared samples (Panther's per-event form
and the Reports API activity form) against a Python reading of the rules on the events; adversarial
rows on the parameter array; the analytics rule's connector and entities.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import shared_path
from hypothesis import given, settings
from hypothesis import strategies as st
from replay_support import require_engine
from sigma.collection import SigmaCollection

from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.kql import string_literal
from sigma_azure_aks.kql_parser.checker import KqlChecker
from sigma_azure_aks.pipelines.arrays import step_over
from sigma_azure_aks.sources.gcp_workspace import activity_record, activity_row, panther_record, panther_row

TABLE = "GoogleWorkspaceReports"
RULE_ID = "5d0c1b3a-0000-4000-8000-0000000000ab"


def rule(detection: str, service: str = "google_workspace.admin", condition: str = "sel") -> str:
    return (
        f"title: t\nid: {RULE_ID}\nstatus: test\n"
        f"logsource:\n    product: gcp\n    service: {service}\n"
        f"detection:\n    sel:\n{detection}\n    condition: {condition}\nlevel: low\n"
    )


def to_sentinel(text: str) -> str:
    [query] = SentinelBackend().convert(SigmaCollection.from_yaml(text))
    return query


# ---- exact queries ------------------------------------------------------------------------------
EXACT = [
    ("        eventName: CHANGE_APPLICATION_SETTING", f'{TABLE}\n| where EventName =~ "CHANGE_APPLICATION_SETTING"'),
    ("        eventType: DELEGATED_ADMIN_SETTINGS", f'{TABLE}\n| where EventType =~ "DELEGATED_ADMIN_SETTINGS"'),
    ("        events.name: DELETE_ROLE", f'{TABLE}\n| where EventName =~ "DELETE_ROLE"'),
    ("        id.applicationName: admin", f'{TABLE}\n| where IdApplicationName =~ "admin"'),
    ("        IdApplicationName: login", f'{TABLE}\n| where IdApplicationName =~ "login"'),
    ("        id.uniqueQualifier: '-12456'", f'{TABLE}\n| where IdUniqueQualifier =~ "-12456"'),
    ("        actor.email: a@example.io", f'{TABLE}\n| where ActorEmail =~ "a@example.io"'),
    ("        actor.callerType: KEY", f'{TABLE}\n| where ActorCallerType =~ "KEY"'),
    ("        ipAddress: 12.12.12.12", f'{TABLE}\n| where SrcIpAddr =~ "12.12.12.12"'),
    ("        actor.applicationInfo.impersonation: 'true'",
     f'{TABLE}\n| where tostring(ActorApplicationInfoImpersonation) =~ "true"'),
]


@pytest.mark.parametrize(("detection", "expected"), EXACT, ids=[d.strip() for d, _ in EXACT])
def test_exact(kql: KqlChecker, detection: str, expected: str) -> None:
    query = to_sentinel(rule(detection))
    assert query == expected
    assert kql.errors(query) == []


def _pair_regex(name: str, value: str) -> str:
    """The pattern a parameter test compiles to: the element of EventParameters whose name is `name`
    has the value `value` (either member order)."""
    key = rf'\"name\"\\s*:\\s*\"{name}\"'
    val = rf'\"value\"\\s*:\\s*{value}'
    return rf"(?:{key}\\s*,\\s*{val}|{val}\\s*,\\s*{key})\\s*\\}}"


@pytest.mark.parametrize(
    ("field", "parameter"),
    [("new_value", "NEW_VALUE"), ("setting_name", "SETTING_NAME"), ("old_value", "OLD_VALUE"),
     ("parameters.ROLE_NAME", "ROLE_NAME"), ("EventParameters.DOMAIN_NAME", "DOMAIN_NAME")],
)
def test_parameter_fields_read_the_named_element_of_event_parameters(kql: KqlChecker, field: str, parameter: str) -> None:
    query = to_sentinel(rule(f"        {field}: abc"))
    # the parameters are the outer array's elements: a `{` inside a parameter's value is never one
    start = string_literal(rf"(?is)^\[{step_over(1)}\{{\s*")[:-1]
    expected = f'{TABLE}\n| where tostring(EventParameters) matches regex {start}{_pair_regex(parameter, chr(92) + chr(34) + "abc" + chr(92) + chr(34))}"'
    assert query == expected
    assert kql.errors(query) == []


# ---- refusals ----------------------------------------------------------------------------------------
CLOUD_LOGGING = (
    "the Cloud Logging form of Google Workspace audit logs, which the connector does not read: it reads "
    "the Reports API, whose activities name no service but their application, IdApplicationName "
    "(id.applicationName: admin, login, drive, ...)"
)
REFUSALS = {
    "eventService": f"field 'eventService' has no {TABLE} column (a service name such as admin.googleapis.com is "
    f"{CLOUD_LOGGING}; write IdApplicationName: admin instead, or leave the item out when eventName alone says it)",
    "protoPayload.serviceName": f"field 'protoPayload.serviceName' has no {TABLE} column (a service name such as "
    f"login.googleapis.com is {CLOUD_LOGGING}; write IdApplicationName: login instead)",
    "protoPayload.Servicename": f"field 'protoPayload.Servicename' has no {TABLE} column (a service name such as "
    f"login.googleapis.com is {CLOUD_LOGGING}; write IdApplicationName: login instead)",
    "protoPayload.metadata.event.eventName": f"field 'protoPayload.metadata.event.eventName' has no {TABLE} column "
    f"(protoPayload is {CLOUD_LOGGING}; the event's name is eventName (EventName): write eventName instead)",
}


@pytest.mark.parametrize("field", list(REFUSALS))
def test_cloud_logging_fields_are_refused_with_the_exact_reason(field: str) -> None:
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the message is checked exactly below
        to_sentinel(rule(f"        {field}: x"))
    assert str(raised.value) == (
        f"rule 't' ({RULE_ID}): {REFUSALS[field]}; docs/sources.md lists its columns; "
        "or map the field in your own pipeline"
    )


def corpus() -> list[Path]:
    folder = shared_path("corpus", "sigmahq", "gcp_workspace")
    return sorted(folder.glob("*.yml"))


def test_every_sigmahq_rule_is_refused_naming_the_missing_column() -> None:
    """All 10 SigmaHQ rules name a Cloud Logging service field first: each is refused with it."""
    paths = corpus()
    assert len(paths) == 10
    refused: dict[str, str] = {}
    for path in paths:
        with pytest.raises(Exception) as raised:  # noqa: PT011
            to_sentinel(path.read_text(encoding="utf-8"))
        refused[path.name] = next(field for field in REFUSALS if REFUSALS[field] in str(raised.value))
    assert sorted(refused.values()).count("eventService") == 7
    assert {refused[name] for name in refused if "login" in name or "govattack" in name or "forwarding" in name} == {
        "protoPayload.serviceName", "protoPayload.Servicename"}


def rewritten(text: str) -> str:
    """A SigmaHQ rule written on the table's own columns, as the refusal says: the service item as the
    application, the Cloud Logging event name as eventName."""
    text = re.sub(r"eventService: '?admin\.googleapis\.com'?", "IdApplicationName: admin", text)
    text = re.sub(r"protoPayload\.[sS]ervice[nN]ame: '?login\.googleapis\.com'?", "IdApplicationName: login", text)
    return text.replace("protoPayload.metadata.event.eventName", "eventName")


def test_the_rules_written_with_the_application_column_convert_and_parse(kql: KqlChecker) -> None:
    for path in corpus():
        query = to_sentinel(rewritten(path.read_text(encoding="utf-8")))
        assert re.match(rf'{TABLE}\n\| where \(?IdApplicationName =~ "(admin|login)" and ', query), path.name
        assert kql.errors(query) == [], path.name


def test_the_pipeline_is_applied_by_default_for_both_log_sources() -> None:
    from sigma_azure_aks.sources import source_for_pipeline

    source = source_for_pipeline("gcp_workspace")
    assert source is not None and source.table == TABLE and source.default
    for service in ("google_workspace.admin", "google_workspace.login"):
        assert to_sentinel(rule("        eventName: x", service)) == f'{TABLE}\n| where EventName =~ "x"'


def test_analytics_rule_names_the_connector_and_the_entities() -> None:
    template = yaml.safe_load(SentinelBackend().convert(SigmaCollection.from_yaml(rule("        eventName: x")), "yaml"))
    assert template["requiredDataConnectors"] == [
        {"connectorId": "GoogleWorkspaceCCPDefinition", "dataTypes": ["GoogleWorkspaceReports"]}
    ]
    mapped = {m["entityType"]: [(f["identifier"], f["columnName"]) for f in m["fieldMappings"]]
              for m in template["entityMappings"]}
    assert mapped == {"Account": [("Name", "ActorEmail")], "IP": [("Address", "SrcIpAddr")]}


# ---- replay on the samples ----------------------------------------------------------------------------
def panther_events() -> list[dict[str, Any]]:
    path = shared_path("samples", "gcp_workspace", "gsuite_activity_panther.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def as_activity(event: dict[str, Any]) -> dict[str, Any]:
    """A Panther event as the Reports API activity it was flattened from (written here, apart from
    the source's own writer): the event under events[], its parameters as the API's array."""
    activity = {k: v for k, v in event.items() if k not in ("name", "type", "parameters")}
    activity["kind"] = "admin#reports#activity"
    inner: dict[str, Any] = {k: event[k] for k in ("name", "type") if k in event}
    params = []
    for name, value in (event.get("parameters") or {}).items():
        key = ("boolValue" if isinstance(value, bool) else "multiValue" if isinstance(value, list)
               else "messageValue" if isinstance(value, dict) else "intValue" if isinstance(value, int) else "value")
        # the API writes intValue as an int64 string, value as text
        params.append({"name": name} if value is None else {"name": name, key: str(value) if key in ("value", "intValue") else value})
    if params:
        inner["parameters"] = params
    activity["events"] = [inner]
    return activity


# Sigma field of the rewritten rules -> path in a Panther event
PANTHER_PATHS = {"IdApplicationName": "id.applicationName", "eventName": "name",
                 "setting_name": "parameters.SETTING_NAME", "new_value": "parameters.NEW_VALUE"}


def lookup(event: dict[str, Any], path: str) -> Any:
    value: Any = event
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def item_matches(event: dict[str, Any], key: str, wanted: Any) -> bool:
    name, _, modifier = key.partition("|")
    value = lookup(event, PANTHER_PATHS[name])
    if not isinstance(value, str):
        return False
    for want in wanted if isinstance(wanted, list) else [wanted]:
        if modifier == "" and value.lower() == str(want).lower():
            return True
        if modifier == "startswith" and value.lower().startswith(str(want).lower()):
            return True
        assert modifier in ("", "startswith"), modifier
    return False


def python_reading(detection: dict[str, Any], event: dict[str, Any]) -> bool:
    groups = [g for name, g in detection.items() if name != "condition"]
    assert detection["condition"] in ("selection", "all of selection*")
    return all(all(item_matches(event, k, v) for k, v in g.items()) for g in groups)


def test_replay_on_the_samples_is_sigmas_meaning_on_the_events() -> None:
    """Each rewritten SigmaHQ rule hits, on Panther's events and on the Reports API activities they
    come from, exactly the events the Python reading picks."""
    require_engine()
    from sigma_azure_aks.replay import replay

    events = panther_events()
    activities = [as_activity(e) for e in events]
    ids = [str(lookup(e, "id.uniqueQualifier") or n) for n, e in enumerate(events, 1)]
    fired = 0
    for path in corpus():
        text = rewritten(path.read_text(encoding="utf-8"))
        document = yaml.safe_load(text)
        expected = sorted(ids[i] for i, e in enumerate(events) if python_reading(document["detection"], e))
        for shape in (events, activities):
            result = replay(text, shape)
            assert not result.failures, result.failures
            assert sorted(map(str, result.get(document["id"]))) == expected, path.name
        fired += bool(expected)
    assert fired == 4


def test_an_activities_list_response_reads_as_its_activities(tmp_path: Path) -> None:
    require_engine()
    from sigma_azure_aks.replay import replay

    events = panther_events()
    page = tmp_path / "activities.json"
    page.write_text(json.dumps({"kind": "admin#reports#activities", "items": [as_activity(e) for e in events]}))
    result = replay(rule("        eventName: DELETE_ROLE"), [page])
    assert not result.failures
    assert result.event_count == len(events)
    assert list(map(str, result.get(RULE_ID))) == ["-12456"]


def test_an_activity_reads_into_the_connector_columns() -> None:
    activity = {
        "kind": "admin#reports#activity", "etag": "\"e\"", "ipAddress": "10.0.0.1", "ownerDomain": "example.io",
        "id": {"time": "2024-01-01T00:00:00.000Z", "uniqueQualifier": "42", "applicationName": "admin",
               "customerId": "C1"},
        "actor": {"callerType": "USER", "email": "a@example.io", "profileId": "7",
                  "applicationInfo": {"impersonation": True, "oauthClientId": "c"}},
        "events": [{"type": "SECURITY_SETTINGS", "name": "ENFORCE_STRONG_AUTHENTICATION",
                    "parameters": [{"name": "NEW_VALUE", "value": "false"}]}],
    }
    assert activity_row(activity) == {
        "Kind": "admin#reports#activity", "Etag": "\"e\"", "SrcIpAddr": "10.0.0.1", "OwnerDomain": "example.io",
        "IdTime": "2024-01-01T00:00:00.000Z", "TimeGenerated": "2024-01-01T00:00:00.000Z", "IdUniqueQualifier": "42",
        "IdApplicationName": "admin", "IdCustomerId": "C1", "ActorCallerType": "USER", "ActorEmail": "a@example.io",
        "ActorProfileId": "7", "ActorApplicationInfoImpersonation": True, "ActorApplicationInfoOauthClientId": "c",
        "EventType": "SECURITY_SETTINGS", "EventName": "ENFORCE_STRONG_AUTHENTICATION",
        "EventParameters": [{"name": "NEW_VALUE", "value": "false"}], "Type": TABLE,
    }
    assert activity_row(activity_record(activity_row(activity))) == activity_row(activity)


def test_the_writers_give_back_the_rows_of_the_samples() -> None:
    for event in panther_events():
        row = panther_row(event)
        assert panther_row(panther_record(row)) == row
        # the activity form always has its kind (admin#reports#activity); Panther's events mostly omit it
        assert activity_row(as_activity(event)) == {**row, "Kind": "admin#reports#activity"}
        assert activity_row(activity_record(row)) == {**row, "Kind": "admin#reports#activity"}


def test_an_activity_with_several_events_reads_as_one_row_per_event(tmp_path: Path) -> None:
    """The connector writes one row per event of an activity: replay reads each event once, with the
    activity's id and actor, from a file and from records given directly."""
    require_engine()
    from sigma_azure_aks.replay import replay
    from sigma_azure_aks.replay.loaders import read_events

    activity = {"kind": "admin#reports#activity", "id": {"uniqueQualifier": "9", "applicationName": "login"},
                "actor": {"email": "a@example.io"},
                "events": [{"name": "login_success", "type": "login"},
                           {"name": "suspicious_login", "type": "account_warning",
                            "parameters": [{"name": "affected_email_address", "value": "a@example.io"}]}]}
    empty = {**activity, "id": {"uniqueQualifier": "10", "applicationName": "login"}, "events": []}
    path = tmp_path / "activities.jsonl"
    path.write_text(json.dumps(activity) + "\n" + json.dumps(empty) + "\n")
    for inputs in ([path], [activity, empty]):
        events = read_events(inputs)
        assert [(e.row["EventName"], e.row["IdUniqueQualifier"], e.row["ActorEmail"]) for e in events] == [
            ("login_success", "9", "a@example.io"), ("suspicious_login", "9", "a@example.io")]
        assert [e.number for e in events] == [1, 2]
    result = replay(rule("        eventName: suspicious_login", "google_workspace.login"), [path])
    assert result.event_count == 2 and list(map(str, result.get(RULE_ID))) == ["9"]


def test_an_activity_whose_events_are_not_objects_is_refused() -> None:
    from sigma_azure_aks.replay.loaders import read_events

    activity = {"kind": "admin#reports#activity", "id": {"uniqueQualifier": "9"}, "events": "login_success"}
    with pytest.raises(Exception) as raised:  # noqa: PT011
        read_events([activity])
    assert str(raised.value) == (
        "a Google Workspace Reports API activity whose events is not an array of event objects (id '9')"
    )


@pytest.mark.parametrize(
    "record",
    [{"id": "x", "name": "DELETE_ROLE"}, {"events": [{"name": "DELETE_ROLE"}]}, {"applicationName": "admin"}],
    ids=["id_not_an_object", "events_without_an_activity", "application_at_the_root"],
)
def test_records_of_no_known_shape_are_refused(record: dict[str, Any]) -> None:
    from sigma_azure_aks.replay.loaders import read_events

    with pytest.raises(Exception, match="not an event replay knows"):
        read_events([record])


# ---- adversarial rows ------------------------------------------------------------------------------
def replay_ids(detection: str, rows: list[dict[str, Any]]) -> list[str]:
    require_engine()
    from sigma_azure_aks.replay import replay

    result = replay(rule(detection), rows)
    assert not result.failures, result.failures
    return sorted(map(str, result.get(RULE_ID)))


def parameter_row(ident: str, parameters: Any, name: str = "ENFORCE_STRONG_AUTHENTICATION") -> dict[str, Any]:
    return {"Type": TABLE, "IdUniqueQualifier": ident, "IdApplicationName": "admin", "EventName": name,
            "EventParameters": parameters}


def test_a_parameter_value_is_matched_only_on_the_parameter_of_that_name() -> None:
    rows = [
        parameter_row("match", [{"name": "OLD_VALUE", "value": "true"}, {"name": "NEW_VALUE", "value": "false"}]),
        parameter_row("other_case_value", [{"name": "NEW_VALUE", "value": "FALSE"}]),
        parameter_row("old_value_only", [{"name": "OLD_VALUE", "value": "false"}, {"name": "NEW_VALUE", "value": "x"}]),
        parameter_row("longer", [{"name": "NEW_VALUE", "value": "falsey"}]),
        parameter_row("bool_value", [{"name": "NEW_VALUE", "boolValue": False}]),
        parameter_row("name_as_value", [{"name": "X", "value": "NEW_VALUE"}, {"name": "Y", "value": "false"}]),
        parameter_row("empty", []),
        parameter_row("absent", None),
    ]
    # Sigma: new_value equals "false", case-insensitively, on the NEW_VALUE parameter's value
    assert replay_ids("        new_value: 'false'", rows) == ["match", "other_case_value"]
    assert replay_ids("        new_value|contains: als", rows) == ["longer", "match", "other_case_value"]


def test_setting_name_startswith_is_a_prefix_of_the_parameter_value() -> None:
    rows = [
        parameter_row("prefix", [{"name": "SETTING_NAME", "value": "ContextAwareAccess level"}], "CHANGE_APPLICATION_SETTING"),
        parameter_row("inside", [{"name": "SETTING_NAME", "value": "x ContextAwareAccess"}], "CHANGE_APPLICATION_SETTING"),
        parameter_row("quoted", [{"name": "SETTING_NAME", "value": "\"ContextAwareAccess\""}], "CHANGE_APPLICATION_SETTING"),
    ]
    assert replay_ids("        setting_name|startswith: ContextAwareAccess", rows) == ["prefix"]



# ---- parameters Google writes as boolValue, intValue or multiValue -------------------------------------
def conversion_warnings(detection: str, service: str = "google_workspace.login") -> list[str]:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        to_sentinel(rule(detection, service))
    return [str(w.message) for w in caught]


@pytest.mark.parametrize(
    ("detection", "warned"),
    [
        ("        parameters.is_suspicious: true", True),  # a boolValue in login events
        ("        parameters.login_challenge_method: password", True),  # a multiValue
        ("        EventParameters.login_type|contains: google", True),
        ("        setting_name: x", False),  # the admin events' text parameters
        ("        new_value: 'false'", False),
        ("        parameters.OLD_VALUE: x", False),
        ("        EventParameters.setting_name: x", False),
        ("        EventParameters|contains: x", False),  # the whole column reads every value key
        ("        eventName: login_success", False),
    ],
)
def test_a_parameter_google_may_write_typed_warns_and_the_text_ones_do_not(detection: str, warned: bool) -> None:
    found = [w for w in conversion_warnings(detection) if "boolValue, intValue or multiValue" in w]
    assert bool(found) == warned, found
    if warned:
        assert "converted as written" in found[0] and "match the whole EventParameters column" in found[0]


TYPED_ROWS = [
    parameter_row("bool", [{"name": "is_suspicious", "boolValue": True}], "login_success"),
    parameter_row("int", [{"name": "count", "intValue": "42"}], "login_success"),
    parameter_row("multi", [{"name": "login_challenge_method", "multiValue": ["password", "idv_any_phone"]}],
                  "login_success"),
    parameter_row("text", [{"name": "login_type", "value": "google_password"}], "login_success"),
]


@pytest.mark.xfail(strict=True, reason="shared pipelines/arrays.py: a pairs structure reads one value key "
                   "(`value`), so a parameter Google writes as boolValue, intValue or multiValue never matches "
                   "by name (Sigma: the value matches the parameter's value, an element of a multi-value)")
@pytest.mark.parametrize(
    ("detection", "expected"),
    [
        ("        parameters.is_suspicious: true", ["bool"]),
        ("        parameters.count: 42", ["int"]),
        ("        parameters.login_challenge_method: password", ["multi"]),
    ],
)
def test_a_typed_parameter_matches_by_name(detection: str, expected: list[str]) -> None:
    assert replay_ids(detection, TYPED_ROWS) == expected


_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12)


def _sigma_literal(value: str) -> str:
    """The value as a YAML double-quoted Sigma string with no wildcard."""
    return json.dumps(value.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?"))


@settings(max_examples=25, deadline=None)
@given(value=_TEXT, others=st.lists(_TEXT, max_size=3))
def test_parameter_equality_property(value: str, others: list[str]) -> None:
    """Any printable text (quotes, backslashes, regex characters): `new_value` matches the rows whose
    NEW_VALUE parameter equals it ignoring case, never another parameter holding it."""
    candidates = [value, value.upper(), value.lower(), value + "x", "x" + value, *others]
    rows = [parameter_row(f"r{i}", [{"name": "OLD_VALUE", "value": value}, {"name": "NEW_VALUE", "value": candidate}])
            for i, candidate in enumerate(candidates)]
    rows.append(parameter_row("elsewhere", [{"name": "OTHER", "value": value}]))
    expected = sorted(f"r{i}" for i, candidate in enumerate(candidates) if candidate.lower() == value.lower())
    assert replay_ids(f"        new_value: {_sigma_literal(value)}", rows) == expected


# ---- the commands on the corpus ------------------------------------------------------------------------
def test_convert_and_validate_commands_on_the_corpus(
    kql: KqlChecker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`convert` refuses every SigmaHQ rule naming its field; the rules written on the application
    column convert, and `validate` (Microsoft's parser) exits 0 on them."""
    from sigma_azure_aks.commands import main
    from sigma_azure_aks.commands.common import EXIT_FAILED, EXIT_OK

    paths = corpus()
    assert main(["convert", str(paths[0].parent)]) == EXIT_FAILED
    captured = capsys.readouterr()
    assert "0 rules converted, 10 failed" in captured.err
    assert captured.err.count("has no GoogleWorkspaceReports column") == 10
    for path in paths:
        (tmp_path / path.name).write_text(rewritten(path.read_text(encoding="utf-8")), encoding="utf-8")
    assert main(["convert", str(tmp_path)]) == EXIT_OK
    assert "10 rules converted, 0 failed" in capsys.readouterr().err
    assert main(["validate", str(tmp_path)]) == EXIT_OK
    assert "10 queries checked, 0 with errors" in capsys.readouterr().err
