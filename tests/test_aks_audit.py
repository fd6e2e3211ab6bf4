"""`aks_audit`: Sigma kubernetes/audit rules -> AKSAudit (AKSAuditAdmin, legacy AzureDiagnostics).

Exact expectations for every field of the map, the array and pod-spec rewrites, the AKSAuditAdmin
and legacy options, the 16 SigmaHQ kubernetes/audit rules through Microsoft's parser, and a few
behavioural checks on rows built from the two real kube-audit records.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from conftest import shared_dir
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError

from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.kql import string_literal
from sigma_azure_aks.pipelines import (
    aks_audit_admin_pipeline,
    aks_audit_legacy_pipeline,
    aks_audit_pipeline,
    azure_activity_pipeline,
)
from sigma_azure_aks.pipelines.aks_audit import AksAuditWarning
from sigma_azure_aks.pipelines.arrays import element_regex
from sigma_azure_aks.pipelines.state import QUERY_TABLE
from sigma_azure_aks.sources import supported_logsources
from sigma_azure_aks.sources.aks_audit import FIELD_MAP as AKS_AUDIT
from sigma_azure_aks.sources.aks_audit import LEGACY_PREAMBLE

RULE_ID = "5d0c1b3a-0000-4000-8000-0000000000a1"
CORPUS = Path("corpus") / "sigmahq" / "kubernetes_audit"


def audit_rule(detection: str, category: str = "") -> str:
    logsource = "  product: kubernetes\n  service: audit\n" + (
        f"  category: {category}\n" if category else ""
    )
    return (
        f"title: Test rule\nid: {RULE_ID}\nstatus: test\nlogsource:\n{logsource}"
        f"detection:\n{detection}\nlevel: medium\n"
    )


def convert(detection: str, pipeline=None, **kwargs) -> str:
    backend = SentinelBackend(pipeline)
    [query] = backend.convert(SigmaCollection.from_yaml(audit_rule(detection, **kwargs)))
    return query


def one(field: str, value: str = "x", pipeline=None) -> str:
    return convert(f"  sel:\n    {field}: '{value}'\n  condition: sel", pipeline)


def array_match(column: str, pattern: str) -> str:
    return f"tostring({column}) matches regex {string_literal(pattern)}"


ELEMENT = r'"(?:[^"\\]|\\.)*"'
X_IN_ARRAY = rf'(?is)^\[\s*(?:{ELEMENT}\s*,\s*)*"x"\s*(?:,\s*{ELEMENT}\s*)*\]$'

EXPECTED = {
    "verb": 'Verb =~ "x"',
    "Verb": 'Verb =~ "x"',
    "userAgent": 'UserAgent =~ "x"',
    "UserAgent": 'UserAgent =~ "x"',
    "requestURI": 'RequestUri =~ "x"',
    "RequestUri": 'RequestUri =~ "x"',
    "stage": 'Stage =~ "x"',
    "Stage": 'Stage =~ "x"',
    "level": 'Level =~ "x"',
    "Level": 'Level =~ "x"',
    "auditID": 'AuditId =~ "x"',
    "AuditId": 'AuditId =~ "x"',
    "apiGroup": 'tostring(ObjectRef.apiGroup) =~ "x"',
    "objectRef.apiGroup": 'tostring(ObjectRef.apiGroup) =~ "x"',
    "objectRef.apiVersion": 'tostring(ObjectRef.apiVersion) =~ "x"',
    "objectRef.resource": 'tostring(ObjectRef.resource) =~ "x"',
    "objectRef.subresource": 'tostring(ObjectRef.subresource) =~ "x"',
    "objectRef.namespace": 'tostring(ObjectRef.namespace) =~ "x"',
    "objectRef.name": 'tostring(ObjectRef.name) =~ "x"',
    "objectRef.uid": 'tostring(ObjectRef.uid) =~ "x"',
    "objectRef.resourceVersion": 'tostring(ObjectRef.resourceVersion) =~ "x"',
    "ObjectRef.apiGroup": 'tostring(ObjectRef.apiGroup) =~ "x"',
    "ObjectRef.apiVersion": 'tostring(ObjectRef.apiVersion) =~ "x"',
    "ObjectRef.resource": 'tostring(ObjectRef.resource) =~ "x"',
    "ObjectRef.subresource": 'tostring(ObjectRef.subresource) =~ "x"',
    "ObjectRef.namespace": 'tostring(ObjectRef.namespace) =~ "x"',
    "ObjectRef.name": 'tostring(ObjectRef.name) =~ "x"',
    "ObjectRef.uid": 'tostring(ObjectRef.uid) =~ "x"',
    "ObjectRef.resourceVersion": 'tostring(ObjectRef.resourceVersion) =~ "x"',
    "user.username": 'tostring(User.username) =~ "x"',
    "user.uid": 'tostring(User.uid) =~ "x"',
    "User.username": 'tostring(User.username) =~ "x"',
    "User.uid": 'tostring(User.uid) =~ "x"',
    "user.groups": array_match("User.groups", X_IN_ARRAY),
    "User.groups": array_match("User.groups", X_IN_ARRAY),
    "sourceIPs": array_match("SourceIps", X_IN_ARRAY),
    "SourceIps": array_match("SourceIps", X_IN_ARRAY),
    "responseStatus.status": 'tostring(ResponseStatus.status) =~ "x"',
    "responseStatus.reason": 'tostring(ResponseStatus.reason) =~ "x"',
    "responseStatus.message": 'tostring(ResponseStatus.message) =~ "x"',
    "ResponseStatus.status": 'tostring(ResponseStatus.status) =~ "x"',
    "ResponseStatus.reason": 'tostring(ResponseStatus.reason) =~ "x"',
    "ResponseStatus.message": 'tostring(ResponseStatus.message) =~ "x"',
    "requestReceivedTimestamp": 'tostring(RequestReceivedTime) =~ "x"',
    "RequestReceivedTime": 'tostring(RequestReceivedTime) =~ "x"',
    "stageTimestamp": 'tostring(StageReceivedTime) =~ "x"',
    "StageReceivedTime": 'tostring(StageReceivedTime) =~ "x"',
    # prefixes
    "annotations.authorization.k8s.io/decision": (
        'tostring(Annotations["authorization.k8s.io/decision"]) =~ "x"'
    ),
    "user.extra.authentication.kubernetes.io/pod-name": array_match(
        'User.extra["authentication.kubernetes.io/pod-name"]', X_IN_ARRAY
    ),
    "requestObject.spec.containers": 'tostring(RequestObject.spec.containers) =~ "x"',
    "requestObject.metadata.labels.app": 'tostring(RequestObject.metadata.labels.app) =~ "x"',
    "responseObject.metadata.name": 'tostring(ResponseObject.metadata.name) =~ "x"',
}


@pytest.mark.parametrize("field", sorted(EXPECTED))
def test_field_mapping(field: str) -> None:
    assert one(field) == "AKSAudit\n| where " + EXPECTED[field]


def test_every_exact_field_has_an_expectation() -> None:
    assert set(AKS_AUDIT.exact) - {"responseStatus.code", "ResponseStatus.code"} <= set(EXPECTED)


def test_field_map_targets_live_columns() -> None:
    from sigma_azure_aks.sources import source_for_table

    source = source_for_table(AKS_AUDIT.table)
    assert source is not None and source.problems() == []


def test_response_code_numbers_and_words() -> None:
    assert (
        convert("  sel:\n    responseStatus.code:\n      - 401\n      - 403\n  condition: sel")
        == "AKSAudit\n| where toreal(ResponseStatus.code) == 401 or toreal(ResponseStatus.code) == 403"
    )
    with pytest.warns(AksAuditWarning, match=r"responseStatus.code is a number.*'ALLOW' never matches"):
        assert (
            one("responseStatus.code", "ALLOW")
            == 'AKSAudit\n| where tostring(ResponseStatus.code) =~ "ALLOW"'
        )


@pytest.mark.parametrize("field", ["impersonatedUser.username", "objectRef.foo", "user.name", "kind"])
def test_unknown_field_is_an_error(field: str) -> None:
    with pytest.raises(SigmaError, match=rf"field '{re.escape(field)}' has no AKSAudit column") as error:
        one(field)
    assert error.value.details.startswith("AKSAudit accepts: ")


def test_category_application_is_claimed_too() -> None:
    query = convert("  sel:\n    verb: delete\n  condition: sel", category="application")
    assert query == 'AKSAudit\n| where Verb =~ "delete"'


def test_default_sentinel_applies_aks_audit_and_sets_query_table() -> None:
    backend = SentinelBackend()
    [query] = backend.convert(
        SigmaCollection.from_yaml(audit_rule("  sel:\n    verb: delete\n  condition: sel"))
    )
    assert query == 'AKSAudit\n| where Verb =~ "delete"'
    assert backend.last_processing_pipeline.state[QUERY_TABLE] == "AKSAudit"


def test_supported_logsources_name_kubernetes_audit() -> None:
    assert any("kubernetes" in s and "audit" in s for s in supported_logsources())


def test_other_rules_pass_untouched() -> None:
    # An activity-log rule given to aks_audit only: nobody claims it, the sentinel target says so.
    rule = audit_rule("  sel:\n    operationName: X\n  condition: sel").replace(
        "product: kubernetes\n  service: audit", "product: azure\n  service: activitylogs"
    )
    with pytest.raises(SigmaError, match=r"in the pipelines applied \(aks_audit\); -p azure_activity takes it"):
        SentinelBackend(aks_audit_pipeline()).convert(SigmaCollection.from_yaml(rule))
    [query] = SentinelBackend(aks_audit_pipeline() + azure_activity_pipeline()).convert(
        SigmaCollection.from_yaml(rule)
    )
    assert query == 'AzureActivity\n| where OperationNameValue =~ "X"'


# ---- arrays: any element matches --------------------------------------------------------------------
def test_array_operators() -> None:
    inner_any = r'(?:[^"\\]|\\.)*'
    head = rf"(?is)^\[\s*(?:{ELEMENT}\s*,\s*)*"
    tail = rf"\s*(?:,\s*{ELEMENT}\s*)*\]$"
    assert convert("  sel:\n    sourceIPs|startswith: '10.'\n  condition: sel") == (
        "AKSAudit\n| where " + array_match("SourceIps", head + rf'"10\.{inner_any}"' + tail)
    )
    assert convert("  sel:\n    sourceIPs|endswith: '.5'\n  condition: sel") == (
        "AKSAudit\n| where " + array_match("SourceIps", head + rf'"{inner_any}\.5"' + tail)
    )
    assert convert("  sel:\n    user.groups|contains|cased: 'Admin'\n  condition: sel") == (
        "AKSAudit\n| where "
        + array_match(
            "User.groups", rf"(?s)^\[\s*(?:{ELEMENT}\s*,\s*)*" + rf'"{inner_any}Admin{inner_any}"' + tail
        )
    )
    assert (
        convert("  sel:\n    sourceIPs: '*'\n  condition: sel")
        == "AKSAudit\n| where coalesce(array_length(SourceIps), 0) > 0"
    )
    # never null, so `not` keeps its meaning on an event with no source addresses
    assert (
        convert("  sel:\n    sourceIPs|exists: true\n  condition: not sel")
        == "AKSAudit\n| where not(coalesce(array_length(SourceIps), 0) > 0)"
    )
    assert (
        convert("  sel:\n    sourceIPs: null\n  condition: sel")
        == "AKSAudit\n| where coalesce(array_length(SourceIps), 0) == 0"
    )


@pytest.mark.parametrize("modifier", ["re", "cidr"])
def test_array_refuses_what_cannot_be_confined_to_one_element(modifier: str) -> None:
    value = "10.0.0.0/8" if modifier == "cidr" else "^10\\."
    with pytest.raises(SigmaError, match="holds an array"):
        convert(f"  sel:\n    sourceIPs|{modifier}: '{value}'\n  condition: sel")


@pytest.mark.parametrize(
    ("value", "text", "expected"),
    [
        ("1.2.3.4", '["1.2.3.4"]', True),
        ("1.2.3.4", '["10.0.0.1","1.2.3.4"]', True),
        ("1.2.3.4", '["10.0.0.1", "1.2.3.4", "5.6.7.8"]', True),
        ("1.2.3.4", '["1.2.3.45"]', False),
        ("1.2.3.4", '["x1.2.3.4"]', False),
        ("1.2.3.4", '["a,\\"1.2.3.4"]', False),  # an element holding a quote and the text
        ("a,b", '["a","b"]', False),  # a comma in the value is not an element boundary
        ("a,b", '["a,b"]', True),
        ("SYSTEM:masters", '["system:masters"]', True),
        ("", "[]", False),
    ],
)
def test_element_regex_matches_whole_elements(value: str, text: str, expected: bool) -> None:
    from sigma.types import SigmaString

    pattern = element_regex(SigmaString(value))
    assert (re.search(pattern, text) is not None) is expected


# ---- pod spec: hostPath and capabilities ---------------------------------------------------------
HOSTPATH_PATTERN = r'''"\['volumes'\]\[\d+\]\['hostPath'\](?:\[[^"]*)?"'''
HOSTPATH_RE = r"\"\\['volumes'\\]\\[\\d+\\]\\['hostPath'\\](?:\\[[^\"]*)?\""


def test_hostpath_literal_is_the_pattern() -> None:
    assert string_literal(HOSTPATH_PATTERN) == '"' + HOSTPATH_RE + '"'


def test_hostpath_presence() -> None:
    assert convert("  sel:\n    verb: create\n    hostPath: '*'\n  condition: sel") == (
        'AKSAudit\n| where Verb =~ "create" and tostring(treepath(RequestObject.spec)) matches regex "'
        + HOSTPATH_RE
        + '"'
    )


def test_capabilities_presence() -> None:
    assert convert("  sel:\n    capabilities|exists: true\n  condition: sel") == (
        "AKSAudit\n| where tostring(treepath(RequestObject.spec)) matches regex "
        + string_literal(
            r""""\['(?:containers|initContainers|ephemeralContainers)'\]\[\d+\]\['securityContext'\]"""
            r'''\['capabilities'\](?:\[[^"]*)?"'''
        )
    )


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (
            [
                "['volumes']",
                "['volumes'][0]",
                "['volumes'][0]['hostPath']",
                "['volumes'][0]['hostPath']['path']",
            ],
            True,
        ),
        (["['volumes'][0]['hostPath']['path']"], True),
        (["['volumes'][0]['csi']['volumeAttributes']['hostPath']"], False),
        (["['containers'][0]['volumeMounts'][0]['hostPath']"], False),
        (["['volumes'][0]['hostPathX']"], False),
    ],
)
def test_hostpath_pattern_on_treepath_output(paths: list[str], expected: bool) -> None:
    """treepath() returns an array of path strings (Microsoft's documented format)."""
    text = json.dumps(paths)
    assert (re.search(HOSTPATH_PATTERN, text) is not None) is expected


def test_hostpath_value_is_refused() -> None:
    with pytest.raises(SigmaError, match="'hostPath' is not an audit event field.*Only its presence"):
        convert("  sel:\n    hostPath: /etc\n  condition: sel")


# ---- AKSAuditAdmin ------------------------------------------------------------------------------
def test_admin_table() -> None:
    query = convert("  sel:\n    verb: create\n  condition: sel", aks_audit_admin_pipeline())
    assert query == 'AKSAuditAdmin\n| where Verb =~ "create"'


def test_admin_refuses_get_list_only_rules() -> None:
    with pytest.raises(
        SigmaError, match="matches only get and list requests, which AKSAuditAdmin leaves out"
    ):
        convert("  sel:\n    verb:\n      - get\n      - list\n  condition: sel", aks_audit_admin_pipeline())


def test_admin_warns_when_some_matches_are_get_or_list() -> None:
    with pytest.warns(AksAuditWarning, match=rf"{RULE_ID}.*AKSAuditAdmin leaves out get and list"):
        query = convert("  sel:\n    responseStatus.code: 403\n  condition: sel", aks_audit_admin_pipeline())
    assert query == "AKSAuditAdmin\n| where toreal(ResponseStatus.code) == 403"


def test_admin_silent_when_no_get_or_list_can_match() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        convert(
            "  sel:\n    verb: delete\n  filter:\n    verb: get\n  condition: sel and not filter",
            aks_audit_admin_pipeline(),
        )


# ---- legacy AzureDiagnostics ----------------------------------------------------------------------
LEGACY = (
    'AzureDiagnostics\n| where Category in ("kube-audit", "kube-audit-admin")\n'
    "| extend event = parse_json(log_s)\n| where "
)


def test_legacy_preamble_and_fields() -> None:
    assert LEGACY.startswith(LEGACY_PREAMBLE)
    detection = (
        "  sel:\n    verb: create\n    objectRef.resource: pods\n"
        "    annotations.authorization.k8s.io/decision: allow\n    sourceIPs: x\n  condition: sel"
    )
    assert convert(detection, aks_audit_legacy_pipeline()) == LEGACY + (
        'tostring(event.verb) =~ "create" and tostring(event.objectRef.resource) =~ "pods" and '
        'tostring(event.annotations["authorization.k8s.io/decision"]) =~ "allow" and '
        + array_match("event.sourceIPs", X_IN_ARRAY)
    )


@pytest.mark.parametrize("first", [True, False])
def test_legacy_preamble_in_either_pipeline_order(first: bool) -> None:
    pipelines = [aks_audit_legacy_pipeline(), azure_activity_pipeline()]
    pipeline = pipelines[0] + pipelines[1] if first else pipelines[1] + pipelines[0]
    assert one("verb", "create", pipeline) == LEGACY + 'tostring(event.verb) =~ "create"'


# ---- the SigmaHQ corpus -----------------------------------------------------------------------------
def corpus_files() -> list[Path]:
    base = shared_dir()
    return sorted((base / CORPUS).glob("*.yml")) if base is not None else []


CORPUS_EXPECTED_TABLE = "AKSAudit"


def test_corpus_has_sixteen_rules() -> None:
    files = corpus_files()
    if not files:
        pytest.skip("shared corpus not found (set SIGMA_AZURE_AKS_SHARED)")
    assert len(files) == 16


@pytest.fixture
def checker(kql):
    return kql


@pytest.mark.parametrize(
    "pipeline_factory", [None, aks_audit_pipeline, aks_audit_admin_pipeline, aks_audit_legacy_pipeline]
)
def test_corpus_rules_parse_on_their_table(checker, pipeline_factory) -> None:
    files = corpus_files()
    if not files:
        pytest.skip("shared corpus not found (set SIGMA_AZURE_AKS_SHARED)")
    for path in files:
        pipeline = pipeline_factory() if pipeline_factory else None
        backend = SentinelBackend(pipeline)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                [query] = backend.convert(SigmaCollection.from_yaml(path.read_text(encoding="utf-8")))
            except SigmaError as error:
                # The only refusal: a list-only rule on AKSAuditAdmin.
                assert pipeline_factory is aks_audit_admin_pipeline, (path.name, error)
                assert path.name == "kubernetes_audit_secrets_enumeration.yml"
                continue
        table = backend.last_processing_pipeline.state[QUERY_TABLE]
        expected = {
            None: "AKSAudit",
            aks_audit_pipeline: "AKSAudit",
            aks_audit_admin_pipeline: "AKSAuditAdmin",
            aks_audit_legacy_pipeline: "AzureDiagnostics",
        }[pipeline_factory]
        assert table == expected
        assert query.startswith(LEGACY_PREAMBLE if table == "AzureDiagnostics" else f"{table}\n| where ")
        assert checker.errors(query) == [], (path.name, query)


# ---- behaviour on rows built from the two real records ----------------------------------------
def _records() -> list[dict]:
    base = shared_dir()
    path = base / "samples" / "aks_kube_audit_records.json" if base else None
    if path is None or not path.exists():
        pytest.skip("shared samples not found (set SIGMA_AZURE_AKS_SHARED)")
    return json.loads(path.read_text(encoding="utf-8"))["records"]


def audit_record(audit_id: str, **changes) -> dict:
    """The first real record (kube-audit, a lease update) with some audit-event keys changed."""
    record = copy.deepcopy(_records()[0])
    event = json.loads(record["properties"]["log"])
    event.update(changes)
    event["auditID"] = audit_id
    record["properties"]["log"] = json.dumps(event)
    return record


def fired(detection: str, events: list[dict]) -> list[str]:
    pytest.importorskip("duckdb_kql", reason="replay engine (duckdb-kql) not installed")
    from sigma_azure_aks.replay import replay

    result = replay(audit_rule(detection), events, pipeline=aks_audit_pipeline())
    assert not result.failures, result.failures
    return sorted(result.get(RULE_ID, []))


def test_behaviour_source_ips_any_element() -> None:
    events = [
        audit_record("one-ip"),  # sourceIPs ["172.31.35.83"]
        audit_record("proxied", sourceIPs=["10.0.0.1", "172.31.35.83"]),
        audit_record("other", sourceIPs=["172.31.35.830"]),
    ]
    assert fired("  sel:\n    sourceIPs: 172.31.35.83\n  condition: sel", events) == ["one-ip", "proxied"]
    assert fired("  sel:\n    sourceIPs|startswith: '10.'\n  condition: sel", events) == ["proxied"]
    assert fired("  sel:\n    user.groups: SYSTEM:MASTERS\n  condition: sel", events) == [
        "one-ip",
        "other",
        "proxied",
    ]


def test_behaviour_real_records_fields() -> None:
    records = _records()
    admin_event = json.loads(records[1]["properties"]["log"])
    kube_audit_copy = copy.deepcopy(records[1])
    kube_audit_copy["category"] = "kube-audit"  # the same event, as AKSAudit row
    events = [audit_record("lease"), kube_audit_copy]
    assert fired(
        "  sel:\n    objectRef.apiGroup: coordination.k8s.io\n    verb: update\n  condition: sel", events
    ) == ["lease"]
    assert fired(
        "  sel:\n    annotations.authorization.k8s.io/decision: allow\n  condition: sel", events
    ) == sorted(["lease", admin_event["auditID"]])
    assert fired("  sel:\n    responseStatus.code: 201\n  condition: sel", events) == [admin_event["auditID"]]
    assert fired("  sel:\n    user.username|startswith: 'system:node:'\n  condition: sel", events) == [
        admin_event["auditID"]
    ]


# ---- sigma-cli ------------------------------------------------------------------------------------------
def test_sigma_cli_lists_the_pipelines() -> None:
    sigma = shutil.which("sigma", path=str(Path(sys.executable).parent)) or shutil.which("sigma")
    if sigma is None:
        pytest.skip("sigma-cli not installed")
    listed = subprocess.run([sigma, "list", "pipelines"], capture_output=True, text=True, check=True).stdout
    for name in ("aks_audit", "aks_dataplane", "aks_audit_admin", "aks_audit_legacy"):
        assert re.search(rf"^\|\s*{name}\s*\|", listed, re.M), name
