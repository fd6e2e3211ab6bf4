"""Structures and routes of the Entra ID / Microsoft 365 sources, one class of defect at a time:
the exact query or refusal, the warning, and the events each shape matches through replay; and
the declarations of every dynamic column held equal to what the reference tables and samples show."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from declared_shapes import SAMPLE_FILES, bracket_depth, reference_dynamic_columns, sample_rows, shapes
from hypothesis import given, settings
from hypothesis import strategies as st
from replay_support import require_engine, shared_path
from sigma.collection import SigmaCollection
from sigma.types import SigmaString

from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.pipelines.arrays import STRUCTURE_DEPTH, structure_regex
from sigma_azure_aks.pipelines.values import FieldValueWarning
from sigma_azure_aks.sources import all_sources, source_for_table
from sigma_azure_aks.sources.shapes import Structure

RULE_ID = "11111111-2222-4333-8444-555555555555"


def rule(service: str, detection: str, condition: str = "sel", product: str = "azure") -> str:
    body = "\n".join("    " + line for line in detection.strip("\n").splitlines())
    return (
        f"title: t\nid: {RULE_ID}\nlogsource:\n    product: {product}\n    service: {service}\n"
        f"detection:\n{body}\n    condition: {condition}\n"
    )


def where(text: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (query,) = SentinelBackend().convert(SigmaCollection.from_yaml(text))
    return query.split("\n| where ", 1)[1]


def warnings_of(text: str) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SentinelBackend().convert(SigmaCollection.from_yaml(text))
    return [str(w.message.args[0]) for w in caught if issubclass(w.category, FieldValueWarning)]


def fired(text: str, rows: list[dict[str, Any]]) -> list[str]:
    from sigma_azure_aks.replay import replay

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = replay(text, rows)
    assert not result.failures, result.failures
    (ids,) = result.values()
    return sorted(ids)


SIGN_IN = {"$table": "SigninLogs", "TimeGenerated": "2024-01-01T00:00:00Z"}
AUDIT = {"$table": "AuditLogs", "TimeGenerated": "2024-01-01T00:00:00Z"}
RISK = {"$table": "AADUserRiskEvents", "TimeGenerated": "2024-01-01T00:00:00Z"}
OFFICE = {"$table": "OfficeActivity", "TimeGenerated": "2024-01-01T00:00:00Z"}


# ---- 1. a number on a structure member equals that number --------------------------------------
def test_number_member_pattern_ends_at_the_member() -> None:
    query = where(rule("signinlogs", "sel: {ConditionalAccessPolicies.conditionsSatisfied: 1}"))
    assert query.startswith("tostring(ConditionalAccessPolicies) matches regex ")
    assert r'(?:\"1\"|1(?:\\.0+)?)' in query and query.endswith(r'\\s*[,}]"')


def test_numbers_quoted_numbers_and_any_on_real_shapes() -> None:
    require_engine()

    def policies(satisfied: Any) -> list[dict[str, Any]]:
        return [{"id": "p", "conditionsSatisfied": satisfied, "result": "success"}]

    rows = [
        {**SIGN_IN, "Id": "one", "ConditionalAccessPolicies": policies(1)},
        {**SIGN_IN, "Id": "one-real", "ConditionalAccessPolicies": policies(1.0)},
        {**SIGN_IN, "Id": "one-text", "ConditionalAccessPolicies": policies("1")},
        {**SIGN_IN, "Id": "sixteen", "ConditionalAccessPolicies": policies(16)},
        {**SIGN_IN, "Id": "one-and-a-half", "ConditionalAccessPolicies": policies(1.5)},
        {**SIGN_IN, "Id": "true", "ConditionalAccessPolicies": policies(True)},
        {**SIGN_IN, "Id": "null", "ConditionalAccessPolicies": policies(None)},
        {**SIGN_IN, "Id": "none", "ConditionalAccessPolicies": []},
    ]
    number = rule("signinlogs", "sel: {ConditionalAccessPolicies.conditionsSatisfied: 1}")
    assert fired(number, rows) == ["one", "one-real", "one-text"]
    quoted = rule("signinlogs", "sel: {ConditionalAccessPolicies.conditionsSatisfied: '1'}")
    assert fired(quoted, rows) == ["one", "one-real", "one-text"]
    anything = rule("signinlogs", "sel: {ConditionalAccessPolicies.conditionsSatisfied: '*'}")
    assert fired(anything, rows) == ["one", "one-and-a-half", "one-real", "one-text", "sixteen", "true"]
    flag = rule("signinlogs", "sel: {ConditionalAccessPolicies.conditionsSatisfied: true}")
    assert fired(flag, rows) == ["true"]


def test_group_type_five_is_not_fifty() -> None:
    require_engine()
    rows = [
        {**AUDIT, "Id": "five", "TargetResources": [{"groupType": 5}]},
        {**AUDIT, "Id": "fifty", "TargetResources": [{"groupType": 50}]},
    ]
    assert fired(rule("auditlogs", "sel: {TargetResources.groupType: 5}"), rows) == ["five"]


# ---- 2. a dotted key of a pair column is the whole rest of the field ---------------------------------
def test_dotted_pair_key_is_one_key() -> None:
    query = where(rule("auditlogs", "sel: {AdditionalDetails.oauth2.scope: x}"))
    assert r'\"key\"\\s*:\\s*\"oauth2\\.scope\"' in query
    require_engine()
    rows = [
        {**AUDIT, "Id": "dotted", "AdditionalDetails": [{"key": "oauth2.scope", "value": "x"}]},
        {**AUDIT, "Id": "first-segment", "AdditionalDetails": [{"key": "oauth2", "value": "x"}]},
    ]
    assert fired(rule("auditlogs", "sel: {AdditionalDetails.oauth2.scope: x}"), rows) == ["dotted"]
    office = [
        {**OFFICE, "OfficeId": "dotted", "OperationProperties": [{"Name": "Rule.Name", "Value": "fwd"}]},
        {**OFFICE, "OfficeId": "first", "OperationProperties": [{"Name": "Rule", "Value": "fwd"}]},
    ]
    text = rule("audit", "sel: {OperationProperties.Rule.Name: fwd}", product="m365")
    assert fired(text, office) == ["dotted"]


# ---- 3. the Status route: null, |exists and '*' follow the field itself --------------------------------
@pytest.mark.parametrize(
    "service, detection, expected",
    [
        ("signinlogs", "sel: {Status: null}", "isempty(tostring(Status))"),
        ("signinlogs", "sel: {Status|exists: true}", "isnotempty(tostring(Status))"),
        ("signinlogs", "sel: {Status|exists: false}", "isempty(tostring(Status))"),
        ("signinlogs", "sel: {Status: '*'}", "isnotempty(tostring(Status))"),
        ("auditlogs", "sel: {Status: null}", "isempty(Result)"),
        ("auditlogs", "sel: {Status|exists: true}", "isnotempty(Result)"),
        ("auditlogs", "sel: {Status: '*'}", "isnotempty(Result)"),
        ("auditlogs", "sel: {Status: [Success, '*']}", 'Result =~ "success" or isnotempty(Result)'),
        ("signinlogs", "sel: {Status|contains: MFA}",
         'tostring(Status.failureReason) contains "MFA" or tostring(Status.additionalDetails) contains "MFA"'),
    ],
)
def test_status_null_exists_any_test_the_field(service: str, detection: str, expected: str) -> None:
    assert where(rule(service, detection)) == expected


def test_status_route_on_sign_ins() -> None:
    require_engine()
    rows = [
        {**SIGN_IN, "Id": "success", "ResultType": "0", "Status": {"errorCode": 0}},
        {**SIGN_IN, "Id": "failure", "ResultType": "50126", "Status": {"errorCode": 50126, "failureReason": "bad"}},
        {**SIGN_IN, "Id": "no-status", "ResultType": "0"},
    ]
    assert fired(rule("signinlogs", "sel: {Status: null}"), rows) == ["no-status"]
    assert fired(rule("signinlogs", "sel: {Status|exists: true}"), rows) == ["failure", "success"]
    assert fired(rule("signinlogs", "sel: {Status: '*'}"), rows) == ["failure", "success"]
    audit = [
        {**AUDIT, "Id": "ok", "Result": "success"},
        {**AUDIT, "Id": "reason-only", "ResultReason": "x"},
    ]
    assert fired(rule("auditlogs", "sel: {Status|exists: true}"), audit) == ["ok"]
    assert fired(rule("auditlogs", "sel: {Status: null}"), audit) == ["reason-only"]


# ---- 4. member names in another case, every level ------------------------------------------------
@pytest.mark.parametrize(
    "service, detection, expected",
    [
        ("auditlogs", "sel: {InitiatedBy.user.userprincipalname: a@b.c}",
         'tostring(InitiatedBy.user.userPrincipalName) =~ "a@b.c"'),
        ("auditlogs", "sel: {initiatedBy.APP.displayname: x}", 'tostring(InitiatedBy.app.displayName) =~ "x"'),
        ("signinlogs", "sel: {LocationDetails.geoCoordinates.Latitude: 1}",
         "toreal(LocationDetails.geoCoordinates.latitude) == 1"),
        ("signinlogs", "sel: {locationdetails.GEOCOORDINATES.longitude|exists: true}",
         'bag_has_key(LocationDetails.geoCoordinates, "longitude")'),
        ("riskdetection", "sel: {Location.CountryOrRegion: FR}", 'tostring(Location.countryOrRegion) =~ "FR"'),
    ],
)
def test_member_levels_are_respelled(service: str, detection: str, expected: str) -> None:
    assert where(rule(service, detection)) == expected


def test_an_undeclared_member_level_warns() -> None:
    messages = warnings_of(rule("auditlogs", "sel: {InitiatedBy.user.upn: x}"))
    assert messages == [
        f"rule 't' ({RULE_ID}): field 'InitiatedBy.user.upn': member 'upn' of InitiatedBy.user is not declared "
        "(it declares displayName, homeTenantId, homeTenantName, id, ipAddress, roles, userPrincipalName), so it "
        "is read as 'InitiatedBy.user.upn' as written and another spelling never matches (member names are "
        "case-sensitive in KQL); check the member's name"
    ]
    assert warnings_of(rule("auditlogs", "sel: {InitiatedBy.user.userPrincipalName: x}")) == []


def test_member_in_another_case_matches_on_events() -> None:
    require_engine()
    rows = [
        {**AUDIT, "Id": "hit", "InitiatedBy": {"user": {"userPrincipalName": "a@b.c"}}},
        {**AUDIT, "Id": "other", "InitiatedBy": {"user": {"userPrincipalName": "x@b.c"}}},
    ]
    assert fired(rule("auditlogs", "sel: {InitiatedBy.user.userprincipalname: a@b.c}"), rows) == ["hit"]
    sign_ins = [
        {**SIGN_IN, "Id": "north", "LocationDetails": {"geoCoordinates": {"latitude": 48.5, "longitude": 2.3}}},
        {**SIGN_IN, "Id": "south", "LocationDetails": {"geoCoordinates": {"latitude": -33.9, "longitude": 18.4}}},
    ]
    assert fired(rule("signinlogs", "sel: {LocationDetails.geoCoordinates.Latitude|gt: 0}"), sign_ins) == ["north"]


# ---- 5. a value on a whole structure reaches nested arrays ------------------------------------------
def test_whole_structure_value_reaches_array_elements() -> None:
    require_engine()
    rows = [
        {**AUDIT, "Id": "role", "InitiatedBy": {"user": {"roles": ["Global Administrator"], "id": "u"}}},
        {**AUDIT, "Id": "member", "InitiatedBy": {"user": {"displayName": "Global Administrator"}}},
        {**AUDIT, "Id": "key-only", "InitiatedBy": {"Global Administrator": {"id": "u"}}},
        {**AUDIT, "Id": "other", "InitiatedBy": {"user": {"roles": ["User Administrator"]}}},
    ]
    assert fired(rule("auditlogs", "sel: {InitiatedBy: Global Administrator}"), rows) == ["member", "role"]


def test_member_holding_an_array_matches_an_element() -> None:
    require_engine()
    rows = [
        {**SIGN_IN, "Id": "mfa", "ConditionalAccessPolicies": [{"enforcedGrantControls": ["Block", "Mfa"]}]},
        {**SIGN_IN, "Id": "block", "ConditionalAccessPolicies": [{"enforcedGrantControls": ["Block"]}]},
    ]
    text = rule("signinlogs", "sel: {ConditionalAccessPolicies.enforcedGrantControls: mfa}")
    assert fired(text, rows) == ["mfa"]


# ---- 6. items of one selection on one array of objects: one element ---------------------------------
CONSENT = (
    "sel:\n    TargetResources.modifiedProperties.displayName: ConsentContext.IsAdminConsent\n"
    "    TargetResources.modifiedProperties.newValue|contains: 'True'"
)


def test_items_of_one_selection_are_one_element() -> None:
    query = where(rule("auditlogs", CONSENT))
    assert query.startswith('tostring(TargetResources) matches regex "(?s)^')
    assert " and " not in query  # one test, not one per item
    assert warnings_of(rule("auditlogs", CONSENT)) == []


def test_items_of_one_selection_match_one_element_on_events() -> None:
    require_engine()
    rows = [
        {**AUDIT, "Id": "other-property-true", "TargetResources": [{"modifiedProperties": [
            {"displayName": "ConsentContext.IsAdminConsent", "newValue": "\"False\""},
            {"displayName": "ConsentContext.OnBehalfOfAll", "newValue": "\"True\""}]}]},
        {**AUDIT, "Id": "admin", "TargetResources": [{"modifiedProperties": [
            {"displayName": "ConsentContext.OnBehalfOfAll", "newValue": "\"False\""},
            {"newValue": "\"True\"", "displayName": "ConsentContext.IsAdminConsent"}]}]},
        {**AUDIT, "Id": "two-targets", "TargetResources": [
            {"type": "User", "displayName": "a", "modifiedProperties": [{"displayName": "x", "newValue": "y"}]},
            {"type": "Group", "displayName": "b"}]},
    ]
    assert fired(rule("auditlogs", CONSENT), rows) == ["admin"]
    top = rule("auditlogs", "sel: {TargetResources.type: User, TargetResources.displayName: b}")
    assert fired(top, rows) == []
    same = rule("auditlogs", "sel: {TargetResources.type: Group, TargetResources.displayName: [a, b]}")
    assert fired(same, rows) == ["two-targets"]
    # a member of the nested array is never read as a member of the element
    assert fired(rule("auditlogs", "sel: {TargetResources.type: User, TargetResources.displayName: x}"), rows) == []


def test_a_member_and_a_nested_member_are_read_in_one_element() -> None:
    require_engine()
    rows = [
        {**AUDIT, "Id": "apart", "TargetResources": [
            {"type": "User", "modifiedProperties": [{"displayName": "Other"}]},
            {"type": "Group", "modifiedProperties": [{"displayName": "StrongAuthenticationRequirement"}]}]},
        {**AUDIT, "Id": "together", "TargetResources": [
            {"modifiedProperties": [{"displayName": "Other"}, {"displayName": "StrongAuthenticationRequirement"}],
             "type": "User"}]},
    ]
    text = rule(
        "auditlogs",
        "sel:\n    TargetResources.type: User\n    TargetResources.modifiedProperties.displayName: "
        "StrongAuthenticationRequirement",
    )
    assert warnings_of(text) == []
    assert fired(text, rows) == ["together"]


def test_items_that_cannot_be_one_element_warn() -> None:
    detection = "sel:\n    TargetResources.type: User\n    TargetResources.type|contains: s"
    (message,) = warnings_of(rule("auditlogs", detection))
    assert message == (
        f"rule 't' ({RULE_ID}): selection 'sel' tests 'TargetResources.type', 'TargetResources.type' in "
        "TargetResources, an array of objects, and they cannot be read in one element (members of two nested "
        "arrays, one member twice, or more than 3), so each item matches on its own and they may hold in different "
        "elements (an event fires when one element has one value and another element the other); accept the "
        "wider match, or split the selection"
    )
    (all_of,) = warnings_of(rule("auditlogs", "sel: {TargetResources.displayName|contains|all: [a, b]}"))
    assert "(|all) are each matched on their own in TargetResources" in all_of
    assert warnings_of(rule("auditlogs", "sel: {TargetResources.displayName: a, OperationName: b}")) == []


def test_admin_consent_refusal_advises_the_one_element_shape() -> None:
    with pytest.raises(Exception) as raised:
        where(rule("auditlogs", "sel: {ConsentContext.IsAdminConsent: 'True'}"))
    assert "in one selection, which reads both in one property" in str(raised.value)


# ---- 7. every array and pair column is declared ----------------------------------------------------
@pytest.mark.parametrize(
    "service, product, detection, pattern",
    [
        ("riskdetection", "azure", "sel: {AdditionalInfo.userAgent|contains: python}", r'\"Key\"\\s*:\\s*\"userAgent\"'),
        ("audit", "m365", "sel: {Members.upn: a@b.c}", r'\"UPN\"\\s*:\\s*'),
        ("audit", "m365", "sel: {ExtraProperties.TimeZone: UTC}", r'\"Key\"\\s*:\\s*\"TimeZone\"'),
        ("signinlogs", "azure", "sel: {AppliedEventListeners.eventType: tokenIssuanceStart}", r'\"eventType\"'),
    ],
)
def test_array_columns_are_read_as_structures(service: str, product: str, detection: str, pattern: str) -> None:
    query = where(rule(service, detection, product=product))
    assert " matches regex " in query and pattern in query


def test_undocumented_dynamic_column_refuses_member_paths() -> None:
    with pytest.raises(Exception, match=re.escape("names a member of SRRuleMatchDetails, whose members are unknown")):
        where(rule("audit", "sel: {SRRuleMatchDetails.x: y}", product="m365"))


def test_array_columns_match_on_events() -> None:
    require_engine()
    risks = [
        {**RISK, "Id": "python", "AdditionalInfo": [{"Key": "userAgent", "Value": "python-requests/2.31"}]},
        {**RISK, "Id": "browser", "AdditionalInfo": [{"Key": "userAgent", "Value": "Mozilla/5.0"}]},
    ]
    assert fired(rule("riskdetection", "sel: {AdditionalInfo.userAgent|contains: python}"), risks) == ["python"]
    office = [
        {**OFFICE, "OfficeId": "owner", "Members": [{"UPN": "a@b.c", "Role": 1, "DisplayName": "A"}]},
        {**OFFICE, "OfficeId": "other", "Members": [{"UPN": "x@b.c", "Role": 1, "DisplayName": "X"}]},
    ]
    assert fired(rule("audit", "sel: {Members.upn: a@b.c}", product="m365"), office) == ["owner"]
    assert fired(rule("audit", "sel: {Members.Role: 1}", product="m365"), office) == ["other", "owner"]


def test_every_dynamic_column_of_every_reference_table_is_declared(shared: Path) -> None:
    """The reference tables' dynamic columns, each declared by what it holds, for every source with
    a field map (the registry's consistency check requires it too)."""
    checked = 0
    for source in all_sources():
        if source.field_map is None or not (shared / "reference" / "tables" / f"{source.table}.json").is_file():
            continue
        checked += 1
        for column in reference_dynamic_columns(shared, source.table):
            if column in source.schema and source.schema[column] == "dynamic" and column not in source.deprecated:
                assert source.field_map.declared_shape(column) is not None, (source.table, column)
    assert checked >= 7


_SHAPE_OF_DECLARATION = {"array": {"array", "empty"}, "pairs": {"pairs", "empty"}, "object": {"object"},
                         "strings": {"strings", "empty"}}


@pytest.mark.parametrize("table", list(SAMPLE_FILES))
def test_declarations_equal_what_the_samples_show(table: str) -> None:
    """Every dynamic column the samples fill holds what its source declares; every member, element
    member, nested member and pair name the samples show is declared in its real spelling."""
    shared = shared_path("samples").parent
    source = source_for_table(table)
    assert source is not None and source.field_map is not None
    field_map = source.field_map
    found = shapes(sample_rows(shared, table), reference_dynamic_columns(shared, table))
    for column, shape in found.items():
        if not shape.kinds:
            continue
        declared = field_map.declared_shape(column)
        assert declared is not None, (table, column)
        assert shape.kinds <= _SHAPE_OF_DECLARATION[declared], (table, column, shape.kinds, declared)
        structure = field_map.structure(column)
        if declared == "pairs":
            assert structure is not None and shape.pair in (None, structure.pair), (table, column)
        if declared == "array":
            assert structure is not None
            assert shape.element_members <= {*structure.members, *structure.nested}, (table, column)
            for head, inner in shape.nested.items():
                assert inner <= set(structure.nested.get(head, ())), (table, column, head)
        if declared == "object":
            assert shape.members <= set(field_map.members.get(column, ())), (table, column)


def test_absent_array_under_not() -> None:
    """`not` of a non-empty-array test matches an event with no array (the test is never null)."""
    require_engine()
    rows = [
        {"$table": "AKSAudit", "TimeGenerated": "2024-01-01T00:00:00Z", "AuditId": "none"},
        {"$table": "AKSAudit", "TimeGenerated": "2024-01-01T00:00:00Z", "AuditId": "one", "SourceIps": ["10.0.0.1"]},
    ]
    text = rule("audit", "sel: {sourceIPs|exists: true}", "not sel", product="kubernetes")
    assert fired(text, rows) == ["none"]
    assert fired(rule("audit", "sel: {sourceIPs: '*'}", product="kubernetes"), rows) == ["one"]


# ---- members are read at their element's own level, nested objects stepped over -----------------
def _own_member_is_x(elements: list[Any], name: str) -> bool:
    """The documented meaning: some element's own member `name` is "x" (any case), or holds an array
    of scalars with such an element; members of objects inside the element never count."""

    def is_x(value: Any) -> bool:
        return isinstance(value, str) and value.lower() == "x"

    def holds_x(value: Any) -> bool:
        return is_x(value) or (isinstance(value, list) and any(is_x(v) for v in value)
                               and not any(isinstance(v, (dict, list)) for v in value))

    return any(isinstance(e, dict) and holds_x(e.get(name)) for e in elements)


_SCALARS = st.one_of(st.sampled_from(["x", "X", "y", "{x}", '"x"', "a]b", "\\", '{"m": "x"}']),
                     st.integers(-1, 2), st.booleans(), st.none())
_INSIDE = st.recursive(
    st.one_of(_SCALARS, st.lists(_SCALARS, max_size=3)),
    lambda inner: st.one_of(st.dictionaries(st.sampled_from(["m", "n", "M"]), inner, max_size=3),
                            st.lists(st.dictionaries(st.sampled_from(["m", "n"]), inner, max_size=2), max_size=2)),
    max_leaves=14,
)
_ELEMENTS = st.lists(st.dictionaries(st.sampled_from(["m", "n", "other"]), _INSIDE, max_size=3), max_size=3)


@settings(max_examples=600, deadline=None)
@given(_ELEMENTS, st.booleans())
def test_a_member_test_reads_only_the_elements_own_members(elements: list[Any], compact: bool) -> None:
    """Over arrays of objects whose members hold objects and arrays of objects with like-named
    members (and strings with brackets, quotes and escapes), the member test matches exactly when
    an element's own member matches, as deep as STRUCTURE_DEPTH; deeper, never a wrong match.
    (RE2 read by Python's re: the patterns use only constructs both read alike.)"""
    pattern = re.compile(structure_regex("array", ("m",), SigmaString("x")))
    text = json.dumps(elements, separators=(",", ":") if compact else (", ", ": "))
    found = pattern.search(text) is not None
    if bracket_depth(elements) <= STRUCTURE_DEPTH:
        assert found == _own_member_is_x(elements, "m"), text
    else:
        assert not found or _own_member_is_x(elements, "m"), text


def _nest(levels: int) -> Any:
    """An object `levels` levels deep whose innermost member is a like-named `m: x`."""
    return {"m": "x"} if levels == 1 else {"m": _nest(levels - 1)}


def test_nesting_deeper_than_the_patterns_read_is_never_a_wrong_match() -> None:
    """An element nested deeper than STRUCTURE_DEPTH: a member before the deep part is read, one
    after it is not (no match), and a like-named member inside it never matches."""
    pattern = re.compile(structure_regex("array", ("m",), SigmaString("x")))
    fits, deep = _nest(STRUCTURE_DEPTH - 2), _nest(STRUCTURE_DEPTH - 1)
    assert bracket_depth([{"a": fits}]) == STRUCTURE_DEPTH and bracket_depth([{"a": deep}]) == STRUCTURE_DEPTH + 1
    assert pattern.search(json.dumps([{"a": fits, "m": "x"}]))
    assert not pattern.search(json.dumps([{"a": fits}]))
    assert pattern.search(json.dumps([{"m": "x", "a": deep}]))
    assert not pattern.search(json.dumps([{"a": deep, "m": "x"}]))  # the limit: documented in docs/entra.md
    assert not pattern.search(json.dumps([{"a": deep}]))


def _declared_depth(structure: Structure) -> int:
    """Levels of brackets the deepest text a declaration allows holds: the array, an element, a
    member holding an array of scalars; a nested array, its element, its member's array."""
    return 5 if structure.nested else 3


def test_declared_structures_and_real_rows_fit_the_depth_the_patterns_read() -> None:
    """Every declared array of objects or pairs fits STRUCTURE_DEPTH with room to spare (two
    levels of nested objects in an element beyond what is declared), and so does every sample row."""
    shared = shared_path("samples").parent
    deepest = 0
    for source in all_sources():
        if source.field_map is None:
            continue
        for structure in source.field_map.structures:
            if structure.kind != "object":
                assert _declared_depth(structure) + 2 <= STRUCTURE_DEPTH, (source.table, structure.column)
        if source.table in SAMPLE_FILES:
            columns = {s.column for s in source.field_map.structures if s.kind != "object"}
            for row in sample_rows(shared, source.table):
                for column in columns & set(row):
                    value = json.loads(row[column]) if isinstance(row[column], str) and row[column] else row[column]
                    deepest = max(deepest, bracket_depth(value))
                    assert bracket_depth(value) + 2 <= STRUCTURE_DEPTH, (source.table, column, row[column])
    assert deepest >= 3
