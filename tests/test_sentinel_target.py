"""Exact KQL for every field mapping and every operator row of the `sentinel` target."""

from __future__ import annotations

import pytest
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError
from sigma_helpers import rule_yaml, to_sentinel, where

from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.sources.azure_activity import FIELD_MAP as AZURE_ACTIVITY

SEED_QUERY = (
    "AzureActivity\n"
    '| where (OperationNameValue startswith "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/BATCH" or '
    'OperationNameValue startswith "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/BATCH") and '
    '(OperationNameValue endswith "/CRONJOBS/WRITE" or OperationNameValue endswith "/JOBS/WRITE")'
)
SEED_DETECTION = """
selection:
    operationName|startswith:
        - 'MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/BATCH'
        - 'MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/BATCH'
    operationName|endswith:
        - '/CRONJOBS/WRITE'
        - '/JOBS/WRITE'
condition: selection
"""


def test_seed_query_exact() -> None:
    assert to_sentinel(SEED_DETECTION) == SEED_QUERY


def test_field_map_targets_live_columns_only() -> None:
    from sigma_azure_aks.sources import source_for_table

    source = source_for_table(AZURE_ACTIVITY.table)
    assert source is not None and source.problems() == []


# Every exact field name of the AzureActivity map, in both dialects.
EXACT_FIELDS = sorted(AZURE_ACTIVITY.exact.items())
NON_STRING = {"TimeGenerated", "EventSubmissionTimestamp"}


@pytest.mark.parametrize(("sigma_field", "target"), EXACT_FIELDS, ids=[f for f, _ in EXACT_FIELDS])
def test_every_exact_field(sigma_field: str, target) -> None:
    column = target.column
    operand = f"tostring({column})" if column in NON_STRING else column
    detection = f"sel:\n    {sigma_field}: 'v1'\ncondition: sel"
    assert where(to_sentinel(detection)) == f'{operand} =~ "v1"'


@pytest.mark.parametrize(
    ("sigma_field", "expected_operand"),
    [
        ("properties.message", "tostring(Properties_d.message)"),
        ("properties.requestbody.x", "tostring(Properties_d.requestbody.x)"),
        ("properties.count", 'tostring(Properties_d["count"])'),
        ("properties.some-key", 'tostring(Properties_d["some-key"])'),
        (
            "identity.claims.http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
            'tostring(Claims_d["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"])',
        ),
        ("claims.ipaddr", "tostring(Claims_d.ipaddr)"),
        ("identity.authorization.action", "tostring(Authorization_d.action)"),
        ("authorization.evidence.role", "tostring(Authorization_d.evidence.role)"),
        ("httpRequest.method", "tostring(parse_json(HTTPRequest).method)"),
        ("httpRequest.clientRequestId", "tostring(parse_json(HTTPRequest).clientRequestId)"),
        ("httpRequest.clientIpAddress", "CallerIpAddress"),
        ("properties.eventCategory", "CategoryValue"),
    ],
)
def test_every_path_prefix(sigma_field: str, expected_operand: str) -> None:
    detection = f"sel:\n    '{sigma_field}': 'v1'\ncondition: sel"
    assert where(to_sentinel(detection)) == f'{expected_operand} =~ "v1"'


@pytest.mark.parametrize(
    ("detection", "expected"),
    [
        # plain, startswith, endswith, contains: as the stock target writes them, with a term lookup
        # first where the value holds a whole term (tests/test_prefilters.py)
        ("sel:\n    caller: a@b.c\ncondition: sel", 'Caller =~ "a@b.c"'),
        ("sel:\n    caller|contains: adm\ncondition: sel", 'Caller contains "adm"'),
        ("sel:\n    caller|startswith: adm\ncondition: sel", 'Caller startswith "adm"'),
        ("sel:\n    caller|endswith: '@x.com'\ncondition: sel", '(Caller has "com" and Caller endswith "@x.com")'),
        ("sel:\n    caller: [a, b]\ncondition: sel", 'Caller in~ ("a", "b")'),
        # wildcards inside a value: whole-value, case-insensitive glob
        ("sel:\n    caller: 'a*b?c'\ncondition: sel", 'Caller matches regex "(?is)^a.*b.c$"'),
        ("sel:\n    caller: 'adm?n'\ncondition: sel", 'Caller matches regex "(?is)^adm.n$"'),
        ("sel:\n    caller: '*a.b*c'\ncondition: sel", 'Caller matches regex "(?is)^.*a\\\\.b.*c$"'),
        (
            "sel:\n    caller: [x, 'a*b']\ncondition: sel",
            'Caller in~ ("x") or Caller matches regex "(?is)^a.*b$"',
        ),
        ("sel:\n    caller: 'a\\*b'\ncondition: sel", 'Caller =~ "a*b"'),
        ("sel:\n    caller: '*'\ncondition: sel", "isnotempty(Caller)"),
        # keywords: anywhere in the event, case-insensitively
        (
            "keywords:\n    - Microsoft.Compute/virtualMachines/write\ncondition: keywords",
            '* contains "Microsoft.Compute/virtualMachines/write"',
        ),
        ("keywords:\n    - a\n    - b\ncondition: keywords", '* contains "a" or * contains "b"'),
        # null: absent or empty
        ("sel:\n    caller: null\ncondition: sel", "isempty(Caller)"),
        ("sel:\n    properties.x: null\ncondition: sel", "isempty(tostring(Properties_d.x))"),
        # cased
        ("sel:\n    caller|cased: Admin\ncondition: sel", 'Caller == "Admin"'),
        ("sel:\n    caller|cased|startswith: Adm\ncondition: sel", 'Caller startswith_cs "Adm"'),
        ("sel:\n    caller|cased|endswith: Adm\ncondition: sel", 'Caller endswith_cs "Adm"'),
        ("sel:\n    caller|cased|contains: Adm\ncondition: sel", 'Caller contains_cs "Adm"'),
        ("sel:\n    caller|cased: [A, B]\ncondition: sel", 'Caller in ("A", "B")'),
        ("sel:\n    caller|cased: 'A*b'\ncondition: sel", 'Caller matches regex "(?s)^A.*b$"'),
        # fieldref
        (
            "sel:\n    caller|fieldref: correlationId\ncondition: sel",
            "(isnotempty(CorrelationId) and Caller =~ CorrelationId)",
        ),
        (
            "sel:\n    caller|fieldref|startswith: correlationId\ncondition: sel",
            "(isnotempty(CorrelationId) and Caller startswith CorrelationId)",
        ),
        (
            "sel:\n    caller|fieldref|endswith: correlationId\ncondition: sel",
            "(isnotempty(CorrelationId) and Caller endswith CorrelationId)",
        ),
        (
            "sel:\n    caller|fieldref|contains: correlationId\ncondition: sel",
            "(isnotempty(CorrelationId) and Caller contains CorrelationId)",
        ),
        # cidr
        (
            "sel:\n    callerIpAddress|cidr: 10.0.0.0/8\ncondition: sel",
            'ipv4_is_in_range(CallerIpAddress, "10.0.0.0/8")',
        ),
        (
            "sel:\n    callerIpAddress|cidr: '2001:db8::/32'\ncondition: sel",
            'ipv6_is_in_range(CallerIpAddress, "2001:db8::/32")',
        ),
        # datetime columns take no numbers
        # a test Kusto evaluates to null (no address, no number) counts as false under `not`
        (
            "sel:\n    callerIpAddress|cidr: 10.0.0.0/8\ncondition: not sel",
            'not(coalesce(ipv4_is_in_range(CallerIpAddress, "10.0.0.0/8"), false))',
        ),
        (
            "sel:\n    properties.code|gte: 200\ncondition: not sel",
            "not(coalesce(toreal(Properties_d.code) >= 200, false))",
        ),
        (
            "sel:\n    properties.code: 200\ncondition: not sel",
            "not(coalesce(toreal(Properties_d.code) == 200, false))",
        ),
        # numbers
        ("sel:\n    properties.statusCode: 403\ncondition: sel", "toreal(Properties_d.statusCode) == 403"),
        (
            "sel:\n    properties.statusCode: [403, 404]\ncondition: sel",
            "toreal(Properties_d.statusCode) == 403 or toreal(Properties_d.statusCode) == 404",
        ),
        ("sel:\n    level: 4\ncondition: sel", 'Level == "4"'),
        ("sel:\n    properties.n|gt: 5\ncondition: sel", "toreal(Properties_d.n) > 5"),
        ("sel:\n    properties.n|lte: 5\ncondition: sel", "toreal(Properties_d.n) <= 5"),
        # status spellings: either spelling matches rows in both
        ("sel:\n    resultType: Success\ncondition: sel", 'ActivityStatusValue in~ ("Success", "Succeeded")'),
        (
            "sel:\n    ActivityStatusValue: Failed\ncondition: sel",
            'ActivityStatusValue in~ ("Failed", "Failure")',
        ),
        (
            "sel:\n    status: [Start, Accept]\ncondition: sel",
            'ActivityStatusValue in~ ("Start", "Started", "Accept", "Accepted")',
        ),
        # |all
        (
            "sel:\n    caller|contains|all: [a, b]\ncondition: sel",
            'Caller contains "a" and Caller contains "b"',
        ),
        # regular expressions, flags as a prefix
        ("sel:\n    caller|re: '^a\\d+$'\ncondition: sel", 'Caller matches regex "^a\\\\d+$"'),
        ("sel:\n    caller|re|i: '^adm'\ncondition: sel", 'Caller matches regex "(?i)^adm"'),
        ("sel:\n    caller|re|i|s|m: '^a.b'\ncondition: sel", 'Caller matches regex "(?ims)^a.b"'),
        # exists
        ("sel:\n    caller|exists: true\ncondition: sel", "isnotempty(Caller)"),
        ("sel:\n    properties.x|exists: true\ncondition: sel", 'bag_has_key(Properties_d, "x")'),
        # conditions
        ("sel:\n    caller: a\ncondition: not sel", 'not(Caller =~ "a")'),
        (
            "a:\n    caller: x\nb:\n    level: y\ncondition: a and not b",
            'Caller =~ "x" and (not(Level =~ "y"))',
        ),
        ("a:\n    caller: x\nb:\n    level: y\ncondition: 1 of them", 'Caller =~ "x" or Level =~ "y"'),
    ],
)
def test_operator_rows(detection: str, expected: str) -> None:
    assert where(to_sentinel(detection)) == expected


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("it's", '"it\'s"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("a\\\\b", '"a\\\\b"'),
        ("line1\nline2", '"line1\\nline2"'),
        ("tab\there", '"tab\\there"'),
        ("x | where true // y", '"x | where true // y"'),
        ("caf\u00e9 \U0001f600", '"caf\u00e9 \U0001f600"'),
        ("sep\u2028x", '"sep\\u2028x"'),
    ],
)
def test_literal_escaping(value: str, literal: str) -> None:
    rule = rule_yaml("sel:\n    caller: PLACEHOLDER\ncondition: sel")
    import yaml

    document = yaml.safe_load(rule)
    document["detection"]["sel"]["caller"] = value
    [query] = SentinelBackend().convert(SigmaCollection.from_dicts([document]))
    assert where(query) == f"Caller =~ {literal}"


def test_unknown_field_is_a_clear_error() -> None:
    with pytest.raises(SigmaError) as error:
        to_sentinel("sel:\n    Image: x.exe\ncondition: sel")
    message = str(error.value)
    assert "field 'Image' has no AzureActivity column" in message
    assert "rule 'Test rule'" in message
    assert "operationName" in error.value.details and "properties.<path>" in error.value.details


def test_other_log_source_is_refused_by_sentinel() -> None:
    with pytest.raises(SigmaError, match=r"no Sentinel table for log source \(category: process_creation"):
        to_sentinel(
            "sel:\n    Image: x.exe\ncondition: sel",
            logsource="category: process_creation\n  product: windows",
        )


def test_keyword_with_inner_wildcard_is_refused() -> None:
    with pytest.raises(SigmaError, match="wildcard inside it"):
        to_sentinel("keywords:\n    - 'a*b'\ncondition: keywords")


def test_alias_logsource_azureactivity() -> None:
    query = to_sentinel(
        "sel:\n    caller: a\ncondition: sel", logsource="product: azure\n  service: azureactivity"
    )
    assert query == 'AzureActivity\n| where Caller =~ "a"'


@pytest.mark.parametrize(
    "detection",
    [
        "sel:\n    time|gt: 4\ncondition: sel",
        "sel:\n    time: 4\ncondition: sel",
        "sel:\n    time|minute: 4\ncondition: sel",
    ],
)
def test_numbers_and_timestamp_parts_on_datetime_are_refused(detection: str) -> None:
    with pytest.raises(SigmaError, match="TimeGenerated|timestamp-part"):
        to_sentinel(detection)


def test_keyword_on_legacy_azurediagnostics_searches_the_event_only() -> None:
    from sigma_azure_aks.pipelines import aks_audit_legacy_pipeline

    query = to_sentinel(
        "keywords:\n    - secret\ncondition: keywords",
        pipeline=aks_audit_legacy_pipeline(),
        logsource="product: kubernetes\n  service: audit",
    )
    assert query.endswith('\n| where log_s contains "secret"')


def test_unknown_backend_option_is_refused_in_every_format() -> None:
    with pytest.warns(UserWarning, match="backend option 'query_freqency' is not an analytics-rule setting"):
        with pytest.raises(TypeError, match="'query_freqency' is not an analytics-rule setting; did you mean"):
            SentinelBackend(query_freqency="30m")

