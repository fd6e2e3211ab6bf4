"""AWS CloudTrail on AWSCloudTrail: both field spellings, members of the JSON-text columns (parsed,
with Sigma's meaning for case, numbers, booleans, absent, empty and null), refusals with their
reason, the analytics profile, Microsoft's parser on every query, and replay of the samples on the
Sentinel row shape and on the raw ``{"Records": [...]}`` export (the same hits)."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from replay_support import REPO, require_engine, shared_path
from sigma.collection import SigmaCollection
from sigma_helpers import convert_quietly, source_rule
from sigma_helpers import where as condition_of

from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.sources import source_for_pipeline
from sigma_azure_aks.sources.aws_cloudtrail import RECORD_COLUMNS, SCHEMA, cloudtrail_row

RULE_ID = "11111111-2222-4333-8444-555555555555"


def rule(detection: str, condition: str = "sel") -> str:
    return source_rule("aws", "cloudtrail", detection, condition, RULE_ID)


convert = convert_quietly


def where(detection: str) -> str:
    return condition_of(convert(rule(detection)), "AWSCloudTrail")


# ---- exact queries --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "detection, expected",
    [
        ("sel: {eventName: ConsoleLogin}", 'EventName =~ "ConsoleLogin"'),
        ("sel: {EventName: ConsoleLogin}", 'EventName =~ "ConsoleLogin"'),
        ("sel: {userIdentity.type: Root}", 'UserIdentityType =~ "Root"'),
        ("sel: {userIdentity.sessionContext.sessionIssuer.type: Role}", 'SessionIssuerType =~ "Role"'),
        ("sel: {sourceIPAddress: 1.2.3.4}", 'SourceIpAddress =~ "1.2.3.4"'),
        ("sel: {errorCode: null}", "isempty(ErrorCode)"),
        (
            "sel: {additionalEventData.MFAUsed: 'NO'}",
            'tostring(parse_json(AdditionalEventData).MFAUsed) =~ "NO"',
        ),
        (
            "sel: {ResponseElements.ConsoleLogin: Success}",
            'tostring(parse_json(ResponseElements).ConsoleLogin) =~ "Success"',
        ),
        ("sel: {requestParameters.port: 22}", "toreal(parse_json(RequestParameters).port) == 22"),
        ("sel: {requestParameters.name: null}", 'gettype(parse_json(RequestParameters).name) == "null"'),
        ("sel: {requestParameters.name|exists: true}", 'bag_has_key(parse_json(RequestParameters), "name")'),
        ("sel: {requestParameters|contains: Suspended}", 'RequestParameters contains "Suspended"'),
        (
            "sel: {userIdentity.arn|fieldref: requestParameters.userName}",
            "(isnotempty(tostring(parse_json(RequestParameters).userName)) and UserIdentityArn =~ "
            "tostring(parse_json(RequestParameters).userName))",
        ),
    ],
)
def test_cloudtrail_queries(detection: str, expected: str) -> None:
    assert where(detection) == expected


def test_both_spellings_give_the_same_query() -> None:
    for name, column in RECORD_COLUMNS.items():
        if SCHEMA[column] != "string":
            continue
        assert where(f"sel: {{{name}: x}}") == where(f"sel: {{{column}: x}}") == f'{column} =~ "x"', name


@pytest.mark.parametrize(
    "detection, reason",
    [
        ("sel: {status: success}", "a CloudTrail record has no `status` field"),
        (
            "sel: {requestParameters.containerDefinitions.command|contains: x}",
            "requestParameters.containerDefinitions is an array of objects in RequestParameters",
        ),
        ("sel: {resources.ARN: x}", "field 'resources.ARN' has no AWSCloudTrail column"),
    ],
)
def test_refusals_name_the_reason(detection: str, reason: str) -> None:
    with pytest.raises(Exception, match=re.escape(reason)):
        convert(rule(detection))


def test_a_field_name_as_a_value_warns_and_stays_text() -> None:
    text = rule("sel: {userIdentity.arn|contains: responseElements.accessKey.userName}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (query,) = SentinelBackend().convert(SigmaCollection.from_yaml(text))
    assert query.endswith('UserIdentityArn contains "responseElements.accessKey.userName"')
    assert any("write it with |fieldref" in str(w.message) for w in caught)


def test_the_pipeline_and_default() -> None:
    source = source_for_pipeline("aws_cloudtrail")
    assert source is not None and source.table == "AWSCloudTrail" and source.default


def test_analytics_rule_profile() -> None:
    template = yaml.safe_load(convert(rule("sel: {eventName: ConsoleLogin}"), "yaml"))
    assert template["requiredDataConnectors"] == [{"connectorId": "AWS", "dataTypes": ["AWSCloudTrail"]}]
    entities = {e["entityType"]: e["fieldMappings"] for e in template["entityMappings"]}
    assert entities == {
        "Account": [{"identifier": "FullName", "columnName": "UserIdentityArn"}],
        "IP": [{"identifier": "Address", "columnName": "SourceIpAddress"}],
    }


# ---- the SigmaHQ corpus and Microsoft's parser ---------------------------------------------------
def _corpus() -> tuple[list[str], list[str]]:
    converted, refused = [], []
    for file in sorted(shared_path("corpus", "sigmahq", "aws_cloudtrail").glob("*.yml")):
        try:
            converted.append(convert(file.read_text(encoding="utf-8")))
        except Exception as error:  # noqa: BLE001 - a refusal is counted with its message
            refused.append(str(error))
    return converted, refused


def test_sigmahq_corpus_counts() -> None:
    converted, refused = _corpus()
    assert len(converted) >= 55
    assert len(refused) == 2
    assert any("no `status` field" in m for m in refused)
    assert any("containerDefinitions is an array of objects" in m for m in refused)


def test_microsoft_parser_accepts_every_query(kql: Any) -> None:
    converted, _ = _corpus()
    for detection in ("sel: {requestParameters.name: null}", "sel: {requestParameters.port: 22}",
                      "sel: {requestParameters.name|exists: false}", "sel: {responseElements.x|re: '^a'}"):
        converted.append(convert(rule(detection)))
    for query in converted:
        assert [str(e) for e in kql.errors(query)] == [], query


# ---- replay ------------------------------------------------------------------------------------------
def _hits(rules: Any, events: Any) -> dict[str, list[str]]:
    from sigma_azure_aks.replay import replay

    result = replay(rules, events)
    return {rule_id: sorted(map(str, ids)) for rule_id, ids in result.items()}


def _rows(**columns: Any) -> dict[str, Any]:
    return {"$table": "AWSCloudTrail", "EventName": "UpdateDetector", **columns}


def test_json_text_members_keep_sigmas_meaning() -> None:
    require_engine()
    rows = [
        _rows(AwsEventId="bool-false", RequestParameters='{"enable":false}'),
        _rows(AwsEventId="text-upper", RequestParameters='{"enable":"FALSE"}'),
        _rows(AwsEventId="true", RequestParameters='{"enable":true}'),
        _rows(AwsEventId="key-case", RequestParameters='{"Enable":false}'),
        _rows(AwsEventId="nested", RequestParameters='{"x":{"enable":false}}'),
        _rows(AwsEventId="in-text", RequestParameters='{"note":"enable false"}'),
        _rows(AwsEventId="empty-column"),
    ]
    hits = _hits(rule("sel: {requestParameters.enable: 'false'}"), rows)
    assert hits == {RULE_ID: ["bool-false", "text-upper"]}


def test_json_text_numbers_null_and_empty() -> None:
    require_engine()
    rows = [
        _rows(AwsEventId="number", RequestParameters='{"port":22,"name":null}'),
        _rows(AwsEventId="text-number", RequestParameters='{"port":"22","name":""}'),
        _rows(AwsEventId="other", RequestParameters='{"port":220}'),
        _rows(AwsEventId="absent"),
    ]
    assert _hits(rule("sel: {requestParameters.port: 22}"), rows) == {RULE_ID: ["number", "text-number"]}
    assert _hits(rule("sel: {requestParameters.name: null}"), rows) == {RULE_ID: ["absent", "number", "other"]}
    assert _hits(rule("sel: {requestParameters.name|exists: true}"), rows) == {RULE_ID: ["number", "text-number"]}
    assert _hits(rule("sel: {requestParameters.name: ''}"), rows) == {RULE_ID: ["text-number"]}


def test_console_login_without_mfa_on_the_sentinel_sample() -> None:
    require_engine()
    rows = shared_path("samples", "aws_cloudtrail", "awscloudtrail_rows_sentinel_sample.jsonl")
    path = shared_path("corpus", "sigmahq", "aws_cloudtrail", "aws_cloudtrail_console_login_success_without_mfa.yml")
    hits = _hits(path.read_text(encoding="utf-8"), rows)
    events = [json.loads(line) for line in rows.read_text(encoding="utf-8").splitlines() if line.strip()]
    expected = sorted(
        str(e["AwsEventId"]) for e in events
        if e.get("EventName") == "ConsoleLogin"
        and json.loads(e.get("AdditionalEventData", "{}")).get("MFAUsed", "").lower() == "no"
        and json.loads(e.get("ResponseElements", "{}")).get("ConsoleLogin", "").lower() == "success"
    )
    assert expected and list(hits.values()) == [expected]


@pytest.mark.parametrize("name", ["stratus", "panther"])
def test_raw_records_and_rows_fire_alike(name: str) -> None:
    require_engine()
    folder = shared_path("samples", "aws_cloudtrail")
    corpus = shared_path("corpus", "sigmahq", "aws_cloudtrail")
    texts = []
    for file in sorted(corpus.glob("*.yml")):
        text = file.read_text(encoding="utf-8")
        try:
            convert(text)
        except Exception:  # noqa: BLE001 - refused rules are tested above
            continue
        texts.append(text)
    rules = "\n---\n".join(texts)
    raw = _hits(rules, folder / f"cloudtrail_records_{name}.json")
    rows = _hits(rules, folder / f"awscloudtrail_rows_{name}.jsonl")
    assert raw == rows
    assert sum(1 for ids in raw.values() if ids) >= (10 if name == "stratus" else 30)


def test_a_raw_record_reads_as_the_sample_row() -> None:
    folder = shared_path("samples", "aws_cloudtrail")
    records = json.loads((folder / "cloudtrail_records_stratus.json").read_text(encoding="utf-8"))["Records"]
    lines = (folder / "awscloudtrail_rows_stratus.jsonl").read_text(encoding="utf-8").splitlines()
    for record, line in zip(records, lines, strict=True):
        row = {k: v for k, v in json.loads(line).items() if not k.startswith("$")}
        assert cloudtrail_row(record) == row


# ---- property: a JSON-text member equals a rule value exactly when Sigma says so --------------------
_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12)


def _sigma_literal(value: str) -> str:
    """The value as a YAML double-quoted Sigma string with no wildcard."""
    escaped = value.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")
    return json.dumps(escaped)


@settings(max_examples=25, deadline=None)
@given(value=_TEXT, others=st.lists(_TEXT, max_size=4))
def test_json_text_member_equality_property(value: str, others: list[str]) -> None:
    require_engine()
    members = [value, value.upper(), value.lower(), value + "x", *others]
    rows = [
        _rows(AwsEventId=f"r{index}", RequestParameters=json.dumps({"m": member, "other": value + "!"}))
        for index, member in enumerate(members)
    ]
    rows.append(_rows(AwsEventId="number", RequestParameters=json.dumps({"m": 5})))
    expected = sorted(f"r{i}" for i, member in enumerate(members) if member.lower() == value.lower())
    if value == "5":
        expected = sorted([*expected, "number"])
    hits = _hits(rule(f"sel: {{requestParameters.m: {_sigma_literal(value)}}}"), rows)
    assert hits.get(RULE_ID, []) == expected


# ---- correlations and raw input ------------------------------------------------------------------------
def test_correlation_grouped_by_arn_maps_the_account() -> None:
    folder = REPO / "examples" / "correlations"
    paths = [folder / "aws_s3_bucket_configuration_read.yml", folder / "correlation_aws_s3_storage_enumeration.yml"]
    collection = SigmaCollection.load_ruleset([str(path) for path in paths])
    (document,) = yaml.safe_load_all(SentinelBackend().convert(collection, "yaml"))
    entities = {e["entityType"]: e["fieldMappings"] for e in document["entityMappings"]}
    assert entities == {"Account": [{"identifier": "FullName", "columnName": "userIdentity_arn"}]}


def test_a_profile_expression_reading_another_column_maps_no_correlation_entity() -> None:
    from sigma_azure_aks.analytics.correlation import _source_entities
    from sigma_azure_aks.sources import AnalyticsProfile, EntityMappingSpec, Source, registered

    toy = Source(
        table="ToyTwoColumns",
        title="toy",
        schema={"A": "string", "B": "string"},
        profile=AnalyticsProfile(
            table="ToyTwoColumns",
            extend=(("Both", "iff(isnotempty(B), B, A)"), ("OnlyA", "tolower(A)")),
            entity_mappings=(EntityMappingSpec("Account", (("FullName", "Both"),)),
                             EntityMappingSpec("Host", (("HostName", "OnlyA"),))),
            custom_details=(),
            alert_display_name_format="x",
            connector_id="AWS",
            data_types=("AWSCloudTrail",),
        ),
    )
    with registered(toy):
        assert _source_entities("ToyTwoColumns", "A") == (("Host", (("HostName", "tolower({0})"),)),)


def test_an_unknown_record_in_a_records_file_is_refused(tmp_path: Path) -> None:
    from sigma_azure_aks.replay import replay
    from sigma_azure_aks.replay.loaders import EventsFormatError

    events = tmp_path / "trail.json"
    events.write_text(json.dumps({"Records": [{"eventSource": "s3.amazonaws.com", "eventName": "x"}, {"foo": 1}]}))
    with pytest.raises(EventsFormatError, match=re.escape("Records[1]: not an event replay knows")):
        replay(rule("sel: {eventName: x}"), events)


def test_json_text_declarations_are_the_reference_json_in_string_columns() -> None:
    """Every source's JSON-text prefixes name string columns, and those the table reference lists in
    `_json_in_string` when it has the list; AWSCloudTrail declares all of them but `Resources` (an
    array: whole text only)."""
    from sigma_azure_aks.sources import all_sources

    for source in all_sources():
        path = shared_path("reference", "tables") / f"{source.table}.json"
        if source.field_map is None or not path.exists():
            continue
        listed = set(json.loads(path.read_text(encoding="utf-8")).get("_json_in_string", []))
        declared = {p.column for p in source.field_map.prefixes if p.json_text}
        assert all(source.schema[c] == "string" for c in declared), source.table
        assert not listed or declared <= listed, source.table
        if source.table == "AWSCloudTrail":
            assert declared == listed - {"Resources"}
            assert "Resources" in source.field_map.notes
