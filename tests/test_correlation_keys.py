"""Correlation group keys over every field kind the registered sources declare.

Generated from the declarations, so that a new source is covered the day it is registered: for
every source a correlation can read (a pipeline, an event id column), one correlation per field
kind it declares, grouped by that field:

* keyed (one value per event): every string or integer column, a member of every dynamic column
  (through the exact names and the member prefixes), a member of an object structure, a key of a
  key/value-pair column (a dotted key, written in the events in another case, in either member
  order): the alerts on generated events must be exactly those of an independent evaluator of the
  documented semantics (group value compared ignoring case; absent, empty or null: no group);
* refused (no single value per event): every declared array target, a member of an array of
  objects (and of its nested arrays), a whole array, pair or object structure, a value route: the
  conversion must fail with the reason.

Plus the exact text of a pair-key group, reserved-word group names (`group-by: time`) through
Microsoft's parser and replay, and the refusal of a temporal correlation listing a rule twice.
Not compared (listed, not silent): real, datetime, boolean and GUID columns (their text form is
the engine's), non-ASCII case folding.
"""

from __future__ import annotations

import json
import os
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from replay_support import require_engine
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError

from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.kql import string_literal
from sigma_azure_aks.pipelines import all_pipelines
from sigma_azure_aks.pipelines.arrays import pair_value_regexes, step_over
from sigma_azure_aks.sources import FieldTarget, Source
from sigma_azure_aks.sources.registry import SOURCES

EPOCH = datetime(2026, 2, 1, tzinfo=UTC)
SPAN_SECONDS = 300
N_EVENTS = 40
STRINGS = ["Alpha", "alpha", "ALPHA", "beta", "Beta", 'q"u\\ote', "", None]
MEMBER_VALUES = [*STRINGS, 7, "7", True, "true"]
INTEGERS = [1, 2, None]
KEYED_TYPES = {"string", "int", "long"}
CHAINED_KINDS = {"member", "object member", "pair key"}  # also grouped through a chained correlation
BASE_ID = "0e0f0000-0000-4000-8000-{:012d}"
CORRELATION_ID = "0e0f0000-0000-4000-9000-{:012d}"
# Plain columns and members per source outside CI (every one in CI, or with the variable set to all).
_PLAIN = os.environ.get("SIGMA_AZURE_AKS_CORRELATION_KEYS", "all" if os.environ.get("CI") else "8")
PLAIN_SAMPLE = None if _PLAIN == "all" else int(_PLAIN)


@dataclass(frozen=True)
class FieldCase:
    """One group-by field of one source: its kind, where an event holds it (keyed kinds), or the
    words its refusal must contain (refused kinds)."""

    source: Source
    name: str
    kind: str
    target: FieldTarget | None = None
    pair: tuple[str, str] | None = None
    refusal: str = ""


def sampled(cases: list[FieldCase], rng: random.Random) -> list[FieldCase]:
    """Every case of the rarer kinds; of plain columns and members, PLAIN_SAMPLE each (all in CI)."""
    if PLAIN_SAMPLE is None:
        return cases
    plain = {kind: [c for c in cases if c.kind == kind] for kind in ("column", "member")}
    kept = {id(c) for group in plain.values() for c in rng.sample(group, min(PLAIN_SAMPLE, len(group)))}
    return [c for c in cases if c.kind not in plain or id(c) in kept]


def correlatable(source: Source) -> bool:
    """A source the generated events can run on: they are told apart by an `ev…` text in the id
    column (OneLoginEventsV2_CL's EventId is a number: not one)."""
    return bool(source.pipeline and source.field_map and source.id_column and source.logsources
                and source.schema.get(source.id_column) == "string")


def field_cases(source: Source) -> list[FieldCase]:
    """Every field kind the source declares, one case per distinct target."""
    fields = source.field_map
    assert fields is not None
    structures = {s.column: s for s in fields.structures}
    routed = {name.lower() for route in fields.routes for name in route.fields}
    arrays = {(column, tuple(path)) for column, path in fields.arrays}
    cases: list[FieldCase] = []
    seen: set[FieldTarget] = set()
    own = {str(source.id_column), "TimeGenerated", "Type"}  # the events' id, time and table
    # a JSON-text column is keyed by its members (its whole text is a plain string column)
    json_text = {p.column for p in fields.prefixes if p.json_text}
    for name, target in sorted(fields.exact.items()):
        if target in seen or name.lower() in routed or target.column in {*structures, *own, *json_text}:
            continue
        seen.add(target)
        if target.column in source.deprecated:
            continue
        if fields.is_array(target):
            cases.append(FieldCase(source, name, "array", refusal="holds a list"))
        elif target.path:
            cases.append(FieldCase(source, name, "member", target))
        elif source.schema.get(target.column, source.preamble_columns.get(target.column)) in KEYED_TYPES:
            cases.append(FieldCase(source, name, "column", target))
    for prefix in fields.prefixes:
        if prefix.column in structures or prefix.column in source.deprecated:
            continue
        name = prefix.prefix + ("sigma.key/x" if prefix.whole_key else "sigmaMember")
        target = fields.resolve(name)
        assert target is not None, name
        if (target.column, tuple("*" if p == target.path[-1] else p for p in target.path)) in arrays:
            cases.append(FieldCase(source, name, "array", refusal="holds a list"))
        elif target not in seen:
            seen.add(target)
            cases.append(FieldCase(source, name, "member", target))
    for column, structure in structures.items():
        if structure.kind == "pairs":
            key = FieldTarget(column, ("sigma.scope",))
            cases.append(FieldCase(source, f"{column}.sigma.scope", "pair key", key, structure.pair))
            cases.append(FieldCase(source, column, "whole pairs", refusal="holds a list"))
        elif structure.kind == "object":
            member = FieldTarget(column, ("sigmaUser", "sigmaName"))
            cases.append(FieldCase(source, f"{column}.sigmaUser.sigmaName", "object member", member))
            cases.append(FieldCase(source, column, "whole object", refusal="is a whole structure"))
        else:
            cases.append(FieldCase(source, column, "whole array", refusal="holds a list"))
            for member in structure.members:
                cases.append(FieldCase(source, f"{column}.{member}", "array member", refusal="holds a list"))
            for nested, members in structure.nested.items():
                for member in members:
                    cases.append(
                        FieldCase(source, f"{column}.{nested}.{member}", "array member", refusal="holds a list")
                    )
    for route in fields.routes:
        cases.append(FieldCase(source, route.fields[0], "value route", refusal="is read by its meaning"))
    return cases


def id_field(source: Source) -> str:
    fields = source.field_map
    assert fields is not None
    return next(n for n, t in sorted(fields.exact.items()) if t == FieldTarget(str(source.id_column)))


def base_rule(source: Source, number: int) -> str:
    logsource = {k: v for k in ("product", "service", "category") if (v := getattr(source.logsources[0], k))}
    return json.dumps(
        {
            "title": f"every event of {source.table}",
            "id": BASE_ID.format(number),
            "name": f"base_{number}",
            "status": "test",
            "logsource": logsource,
            "detection": {"sel": {f"{id_field(source)}|startswith": "ev"}, "condition": "sel"},
        }
    )


def correlation_rule(number: int, base: int, group: str, chained: bool = False) -> str:
    """event_count >= 2 per group of the field over the base rule; `chained`: the same over the
    alerts of a named child correlation that is itself that over the base rule (its events)."""
    body = {"type": "event_count", "group-by": [group], "timespan": f"{SPAN_SECONDS}s", "condition": {"gte": 2}}
    rule = {"title": f"grouped by {group}", "id": CORRELATION_ID.format(number), "status": "test"}
    if not chained:
        return json.dumps({**rule, "correlation": {**body, "rules": [f"base_{base}"]}})
    child = {
        "title": f"child grouped by {group}",
        "id": CORRELATION_ID.format(number + 500),
        "name": f"child_{number}",
        "status": "test",
        "correlation": {**body, "rules": [f"base_{base}"]},
    }
    return json.dumps(child) + "\n---\n" + json.dumps({**rule, "correlation": {**body, "rules": [f"child_{number}"]}})


# ---- events and the independent evaluator ----------------------------------------------------------
def _place(row: dict[str, Any], case: FieldCase, value: Any, rng: random.Random) -> None:
    target = case.target
    assert target is not None
    if case.kind == "pair key":
        assert case.pair is not None
        key_name, value_name = case.pair
        key = "".join(c.upper() if rng.random() < 0.5 else c for c in target.path[0])  # another case
        pair = {key_name: key, value_name: value}
        if rng.random() < 0.5:
            pair = {value_name: value, key_name: key}
        row[target.column] = [{key_name: "sigma.other", value_name: "zzz"}, pair]
        return
    if not target.path:
        row[target.column] = value
        return
    holder = row.get(target.column)
    if isinstance(holder, str):  # JSON text column
        holder = json.loads(holder)
    holder = holder if isinstance(holder, dict) else {}
    node = holder
    for segment in target.path[:-1]:
        node = node.setdefault(segment, {})
    node[target.path[-1]] = value
    row[target.column] = json.dumps(holder) if target.json_text else holder


def make_events(source: Source, keyed: list[FieldCase], rng: random.Random) -> list[tuple[int, dict[str, Any], dict[str, Any]]]:
    """(seconds, row, {field name: the value placed, absent: missing}) of each event."""
    events = []
    for index in range(N_EVENTS):
        seconds = rng.randrange(0, 24) * 60
        row: dict[str, Any] = {
            "$table": source.table,
            str(source.id_column): f"ev{index:03d}",
            "TimeGenerated": (EPOCH + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z"),
        }
        placed: dict[str, Any] = {}
        for case in keyed:
            integer = case.kind == "column" and source.schema.get(case.target.column) in {"int", "long"}  # type: ignore[union-attr]
            pool = INTEGERS if integer else STRINGS if case.kind == "column" else MEMBER_VALUES
            value = rng.choice(pool)
            if value is None and rng.random() < 0.5:
                continue  # absent rather than null
            _place(row, case, value, rng)
            placed[case.name] = value
        events.append((seconds, row, placed))
    rng.shuffle(events)
    return events


def _group_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).lower()


def expected_alerts(events: list[tuple[int, dict[str, Any], dict[str, Any]]], case: FieldCase, source: Source) -> set[Any]:
    """event_count >= 2 in every sliding window [t - span, t] ending at an event, per group."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for seconds, row, placed in events:
        text = _group_text(placed.get(case.name))
        if text:
            groups.setdefault(text, []).append((seconds, row[str(source.id_column)]))
    found = set()
    for text, members in groups.items():
        for end in {s for s, _ in members}:
            inside = frozenset(i for s, i in members if end - SPAN_SECONDS <= s <= end)
            if len(inside) >= 2:
                found.add((text, end, len(inside), inside))
    return found


def expected_chain_alerts(child_alerts: set[Any]) -> set[Any]:
    """event_count >= 2 over the child's alerts (events at their window end, carrying their
    events as evidence), per group."""
    found = set()
    for text, end, _, _ in child_alerts:
        inside = [(e, ids) for t, e, _, ids in child_alerts if t == text and end - SPAN_SECONDS <= e <= end]
        if len(inside) >= 2:
            found.add((text, end, len(inside), frozenset().union(*(ids for _, ids in inside))))
    return found


def replayed_alerts(hit: Any) -> set[Any]:
    return {
        (
            str(next(iter(alert.groups.values()))),
            int((alert.window_end.replace(tzinfo=UTC) - EPOCH).total_seconds()),
            int(alert.metric),
            frozenset(alert.event_ids),
        )
        for alert in hit.alerts
    }


def test_group_by_every_declared_field_kind(report: Any) -> None:
    require_engine()
    from sigma_azure_aks.replay import replay

    rng = random.Random(20261206)
    sources = [s for s in SOURCES if correlatable(s)]
    assert len(sources) >= 5
    kinds: dict[str, int] = {}
    compared = alerts = refused = chained_alerts = 0
    disagreements: list[Any] = []
    for number, source in enumerate(sources):
        cases = sampled(field_cases(source), rng)
        keyed = [c for c in cases if not c.refusal]
        events = make_events(source, keyed, rng)
        documents = [base_rule(source, number)]
        for index, case in enumerate(cases):
            documents.append(correlation_rule(number * 1000 + index, number, case.name))
        chains = {index: case for index, case in enumerate(cases) if not case.refusal and case.kind in CHAINED_KINDS}
        for index, case in chains.items():
            documents.append(correlation_rule(number * 1000 + 200 + index, number, case.name, chained=True))
        pipeline = all_pipelines()[str(source.pipeline)]()  # the source's own table, default or not
        result = replay("\n---\n".join(documents), [row for _, row, _ in events], pipeline, every_window=True)
        failures = "\n".join(result.failures)
        for index, case in enumerate(cases):
            kinds[case.kind] = kinds.get(case.kind, 0) + 1
            rule_id = CORRELATION_ID.format(number * 1000 + index)
            if case.refusal:
                line = next((f for f in result.failures if f"({rule_id})" in f), "")
                assert f"group-by field '{case.name}'" in line and case.refusal in line, (case, line)
                refused += 1
                continue
            assert f"({rule_id})" not in failures, (case, failures)
            [hit] = [h for h in result.hits if h.rule_id == rule_id]
            ours, theirs = replayed_alerts(hit), expected_alerts(events, case, source)
            pairs = [(ours, theirs, case.kind)]
            if index in chains:
                chain_id = CORRELATION_ID.format(number * 1000 + 200 + index)
                [chain_hit] = [h for h in result.hits if h.rule_id == chain_id]
                pairs.append((replayed_alerts(chain_hit), expected_chain_alerts(theirs), f"{case.kind} chain"))
            for mine, expected, kind in pairs:
                compared += 1
                alerts += len(expected)
                chained_alerts += len(expected) if kind.endswith("chain") else 0
                if mine != expected:
                    disagreements.append((source.table, case.name, kind, sorted(mine - expected)[:2],
                                          sorted(expected - mine)[:2]))
    report(
        f"correlation group keys: {sum(kinds.values())} fields of {len(sources)} sources "
        f"({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}); {compared} keyed correlations "
        f"(chains included), {alerts} alerts compared ({chained_alerts} of chains), {len(disagreements)} "
        f"disagreements; {refused} refused with their reason"
    )
    assert not disagreements, disagreements[:5]
    assert alerts > 0 and chained_alerts > 0 and refused > 0
    assert {"column", "member", "pair key", "object member", "array", "array member", "value route"} <= set(kinds)


# ---- exact text, reserved words, repeated rules -------------------------------------------------------
AUDIT_BASE = """\
title: User updated
id: 0e0f0000-0000-4000-8000-0000000000e2
name: user_updated
status: test
logsource: {product: azure, service: auditlogs}
detection:
    sel: {OperationName: Update user}
    condition: sel
"""


def audit_correlation(body: str) -> str:
    lines = "".join(f"    {line}\n" for line in body.strip().splitlines())
    return f"title: Correlation\nid: 0e0f0000-0000-4000-9000-0000000000c1\nstatus: test\ncorrelation:\n{lines}"


def converted(body: str, output_format: str = "default") -> str:
    collection = SigmaCollection.from_yaml(AUDIT_BASE + "---\n" + audit_correlation(body))
    output = SentinelBackend().convert(collection, output_format)
    if output_format != "default":
        output = [document["query"] for document in yaml.safe_load_all(output)]
    [query] = [q for q in output if "sigma_events" in q]
    return query


def test_pair_key_group_reads_the_first_pair_with_that_key() -> None:
    query = converted("type: event_count\nrules: [user_updated]\ngroup-by: [AdditionalDetails.oauth2.scope]\n"
                      "timespan: 10m\ncondition: {gte: 2}")
    # the pairs are the outer array's elements: the `{` of a pair is never one inside a pair's value
    start = rf"(?is)^\[{step_over(1)}\{{\s*"
    value = r'"value"\s*:\s*("(?:[^"\\]|\\.)*"|[^\s,\[\]{}"]+)'
    key = r'"key"\s*:\s*"oauth2\.scope"'
    key_first = string_literal(rf"{start}{key}\s*,\s*{value}\s*\}}")
    value_first = string_literal(rf"{start}{value}\s*,\s*{key}\s*\}}")
    first = f"extract({key_first}, 1, tostring(AdditionalDetails))"
    second = f"extract({value_first}, 1, tostring(AdditionalDetails))"
    assert (
        f"AdditionalDetails_oauth2_scope = tolower(tostring(tostring(parse_json(iff(isnotempty({first}), "
        f"{first}, {second})))))"
    ) in query


@pytest.mark.parametrize(
    ("group", "message"),
    [
        (
            "TargetResources.userPrincipalName",
            "group-by field 'TargetResources.userPrincipalName' (in rule 'user_updated') holds a list in "
            "AuditLogs (a member of every element of TargetResources, an array of objects); a correlation "
            "groups each event by one value, so it cannot be a key or a counted value. Use a field with one "
            "value per event",
        ),
        ("AdditionalDetails", "holds a list in AuditLogs (an array of key/value pairs: group by one key, "
         "AdditionalDetails.<key>)"),
        ("InitiatedBy", "is a whole structure in AuditLogs (InitiatedBy, one object)"),
        ("Status", "is read by its meaning on AuditLogs (the audit result is Result; other text is the result "
         "reason), not as one value; group by (or count) ResultReason instead"),
    ],
)
def test_fields_without_one_value_per_event_are_refused(group: str, message: str) -> None:
    with pytest.raises(SigmaError, match=r"correlation rule 'Correlation' \(0e0f") as caught:
        converted(f"type: event_count\nrules: [user_updated]\ngroup-by: [{group}]\ntimespan: 10m\n"
                  "condition: {gte: 2}")
    assert message in str(caught.value)


def test_value_field_in_a_list_is_refused() -> None:
    with pytest.raises(SigmaError, match="condition field 'TargetResources.displayName' .* holds a list"):
        converted("type: value_count\nrules: [user_updated]\ngroup-by: [InitiatedBy.user.userPrincipalName]\n"
                  "timespan: 10m\ncondition: {gte: 2, field: TargetResources.displayName}")


RESERVED_GROUPS = ["title", "project", "where", "by", "kind", "and", "in", "with"]


@pytest.mark.parametrize("group", ["time", *RESERVED_GROUPS])
def test_group_names_that_are_kql_keywords_are_bracketed(group: str, kql: Any) -> None:
    """`time` is a field (TimeGenerated); the others are aliases of a member, naming the column."""
    from sigma_azure_aks.kql_reserved import is_reserved

    assert is_reserved(group)
    aliases = "" if group == "time" else f"aliases: {{{group}: {{user_updated: InitiatedBy.user.id}}}}\n"
    body = (f"type: event_count\nrules: [user_updated]\ngroup-by: [{group}, InitiatedBy.user.userPrincipalName]\n"
            f"timespan: 10m\ncondition: {{gte: 2}}\n{aliases}")
    for output_format in ("default", "yaml"):
        query = converted(body, output_format)
        assert not [str(d) for d in kql.diagnostics(query) if d.is_error], query
        assert f'["{group}"]' in query and f" {group}," not in query and f"({group})" not in query


def test_group_by_time_replays() -> None:
    require_engine()
    from sigma_azure_aks.replay import replay

    rows = [
        {"$table": "AuditLogs", "Id": name, "TimeGenerated": f"2026-01-01T00:00:0{second}Z",
         "OperationName": "Update user"}
        for name, second in (("a", 1), ("b", 1), ("c", 2))
    ]
    body = "type: event_count\nrules: [user_updated]\ngroup-by: [time]\ntimespan: 10m\ncondition: {gte: 2}"
    result = replay(AUDIT_BASE + "---\n" + audit_correlation(body), rows)
    assert not result.failures, result.failures
    [hit] = [h for h in result.hits if h.alerts is not None]
    assert [(a.metric, a.event_ids) for a in hit.alerts] == [(2, ["a", "b"])]
    assert list(hit.alerts[0].groups) == ["time"]


TWO_BASES = AUDIT_BASE + """---
title: User deleted
id: 0e0f0000-0000-4000-8000-0000000000e3
name: user_deleted
status: test
logsource: {product: azure, service: auditlogs}
detection:
    sel: {OperationName: Delete user}
    condition: sel
"""


@pytest.mark.parametrize(
    ("rules", "twice"),
    [
        ("[user_updated, user_updated]", "'user_updated' twice"),
        ("[user_updated, user_deleted, user_updated]", "'user_updated' twice"),
        ("[user_updated, 0e0f0000-0000-4000-8000-0000000000e2]",
         "'user_updated' (also as '0e0f0000-0000-4000-8000-0000000000e2') twice"),
    ],
)
def test_temporal_listing_a_rule_twice_is_refused(rules: str, twice: str) -> None:
    body = f"type: temporal\nrules: {rules}\ngroup-by: [InitiatedBy.user.userPrincipalName]\ntimespan: 10m"
    collection = SigmaCollection.from_yaml(TWO_BASES + "---\n" + audit_correlation(body))
    with pytest.raises(SigmaError, match="correlation rule 'Correlation'") as caught:
        SentinelBackend().convert(collection)
    assert f"temporal lists the rule {twice}; a temporal correlation counts distinct rules" in str(caught.value)
    assert "List each rule once" in str(caught.value)


def test_keyword_group_as_an_entity_is_bracketed_in_the_analytics_rule(kql: Any) -> None:
    """A keyword-named group that is an entity: the rule's `extend` of the entity reads it bracketed."""
    base = AUDIT_BASE.replace("auditlogs", "activitylogs").replace("{OperationName: Update user}",
                                                                  "{operationName: x/write}")
    correlation = audit_correlation(
        "type: event_count\nrules: [user_updated]\ngroup-by: [title]\ntimespan: 10m\ncondition: {gte: 2}\n"
        "aliases: {title: {user_updated: caller}}"
    )
    output = SentinelBackend().convert(SigmaCollection.from_yaml(base + "---\n" + correlation), "yaml")
    [document] = [d for d in yaml.safe_load_all(output) if "sigma_events" in d["query"]]
    query = document["query"]
    assert not [str(d) for d in kql.diagnostics(query) if d.is_error], query
    assert '| extend title_FullName = iff(["title"] contains "@", ["title"], "")' in query
    assert document["customDetails"]["Title"] == "title"


def test_temporal_ordered_may_list_a_rule_twice_and_needs_it_twice_in_order() -> None:
    """Unlike temporal, an ordered chain can name one rule twice: two of its events, in order."""
    from test_correlation_replay import alerts, event

    body = "type: temporal_ordered\nrules: [failed, written, failed]\ngroup-by: [caller]\ntimespan: 10m"
    in_order = [event("a", 0), event("b", 60, status="Succeeded"), event("c", 120)]
    assert alerts(body, in_order) == [(("alice@contoso.com",), -480.0, 120.0, 3, ("a", "b", "c"))]
    assert alerts(body, [event("a", 0), event("c", 30), event("b", 60, status="Succeeded")]) == []
    assert alerts(body, [event("b", 0, status="Succeeded"), event("a", 30), event("c", 60)]) == []


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6)
_VALUE = st.one_of(_TEXT, st.integers(-5, 50), st.booleans(), st.none())
_PAIR = st.tuples(st.one_of(_TEXT, st.sampled_from(["oauth2.scope", "OAUTH2.Scope", "oauth2"])), _VALUE, st.booleans())


@settings(max_examples=400, deadline=None)
@given(st.lists(_PAIR, max_size=4), st.sampled_from(["oauth2.scope", "a\"b", "x.y/z", "é"]),
       st.sampled_from([("key", "value"), ("Name", "Value")]))
def test_pair_key_patterns_read_the_first_pair_with_that_key(pairs: list[Any], key: str, names: tuple[str, str]) -> None:
    """The patterns of a pair-key group (RE2, read here by Python's re: the same constructs) give
    the JSON text of the first pair whose key is the key ignoring case, in either member order,
    compact or spaced; nothing when no pair has it. (Log Analytics writes every pair of a column in
    one member order; with mixed orders the first pair of the key-first order is read.)"""
    key_name, value_name = names
    elements = [
        {key_name: k, value_name: v} if key_first else {value_name: v, key_name: k} for k, v, key_first in pairs
    ]
    same = [v for k, v, _ in pairs if re.fullmatch(re.escape(key), k, re.IGNORECASE | re.DOTALL)]
    key_first, value_first = (p.replace("(?is)", "") for p in pair_value_regexes(key, names))
    for separators in ((",", ":"), (", ", ": ")):
        text = json.dumps(elements, ensure_ascii=False, separators=separators)
        found = [re.search(p, text, re.IGNORECASE | re.DOTALL) for p in (key_first, value_first)]
        read = next((json.loads(m.group(1)) for m in found if m is not None), "<none>")
        if not same:
            assert read == "<none>", (text, key)
        elif all(order == pairs[0][2] for _, _, order in pairs):
            assert read == same[0], (text, key)  # one member order throughout: the first pair exactly
        else:
            assert read in same, (text, key)  # mixed orders: a pair with that key


def test_keyword_group_through_a_chain_parses(kql: Any) -> None:
    child = audit_correlation(
        "type: event_count\nrules: [user_updated]\ngroup-by: [where]\ntimespan: 1h\ncondition: {gte: 2}\n"
        "aliases: {where: {user_updated: InitiatedBy.user.userPrincipalName}}"
    ).replace("0e0f0000-0000-4000-9000-0000000000c1", "0e0f0000-0000-4000-9000-0000000000c2")
    child = child.replace("title: Correlation\n", "title: Child\nname: child\n")
    parent = audit_correlation(
        "type: temporal_ordered\nrules: [child, user_deleted]\ngroup-by: [where]\ntimespan: 10m\n"
        "aliases: {where: {child: where, user_deleted: InitiatedBy.user.userPrincipalName}}"
    )
    collection = SigmaCollection.from_yaml(TWO_BASES + "---\n" + child + "---\n" + parent)
    for output_format in ("default", "yaml"):
        output = SentinelBackend().convert(collection, output_format)
        if output_format != "default":
            output = [document["query"] for document in yaml.safe_load_all(output)]
        queries = [q for q in output if "sigma_alerts_1" in q]
        assert queries
        for query in queries:
            assert not [str(d) for d in kql.diagnostics(query) if d.is_error], query
            assert '"|", ["where"]' in query and '["where"] = ["where"]' in query
