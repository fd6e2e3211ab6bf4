"""One scheduled analytics rule, built from a converted Sigma rule and checked against Sentinel.

`build_rule` gathers identity, severity, ATT&CK, scheduling, entities and the query; `validate`
checks every limit and enum of :mod:`.sentinel_facts`. Nothing invalid leaves this module: problems
are a ValueError naming what is wrong.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..correlation import WINDOW_END
from ..notices import RuleWarning, emit
from ..sources import (
    TABLES,
    AnalyticsProfile,
    EntityMappingSpec,
    all_sources,
    source_for_table,
    sources_for_logsource,
)
from . import sentinel_facts as facts
from .options import Settings, ingestion_bound, schedule, schedule_without_look_back, settings_for

LICENSE_DEFAULT = "Detection Rule License 1.1"
TRUNCATION_MARK = " [...]"

# Sigma status -> enabled. Deprecated and unsupported rules are refused: SigmaHQ keeps them only
# for reference, and deploying them would be a mistake nobody meant to make.
ENABLED_BY_STATUS: Mapping[str | None, bool] = {
    "stable": True,
    "test": True,
    "experimental": False,
    None: False,
}
REFUSED_STATUSES = ("deprecated", "unsupported")


@dataclass(frozen=True)
class AnalyticsRule:
    rule_id: str
    display_name: str
    description: str
    severity: str
    enabled: bool
    query: str
    table: str
    settings: Settings
    tactics: tuple[str, ...]
    techniques: tuple[str, ...]  # T#### (ARM / REST)
    relevant_techniques: tuple[str, ...]  # T#### or T####.### (YAML template)
    entity_mappings: tuple[EntityMappingSpec, ...]
    custom_details: tuple[tuple[str, str], ...]
    alert_display_name_format: str
    connector_id: str
    data_types: tuple[str, ...]
    result_columns: frozenset[str]


class SentinelMappingWarning(RuleWarning):
    """Something in the Sigma rule has no place in the Sentinel rule (shown on stderr by sigma-cli)."""


_SHOWN: dict[object, object] = {}  # each text once per run, though a rule is rendered once per format


def _warn(message: str) -> None:
    emit(SentinelMappingWarning(message), _SHOWN)


def _rule_name(rule: Any) -> str:
    return f"rule '{getattr(rule, 'title', '')}' ({getattr(rule, 'id', '') or 'no id'})"


def attack_mapping(rule: Any) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(tactics, T#### techniques, YAML relevantTechniques) from the rule's `attack.*` tags, in tag
    order, deduplicated, made to pass Sentinel's own template check (NoTechniquesWithoutMatchingTactics):

    * a technique Sentinel's map (``sentinel_facts.TACTICS_BY_TECHNIQUE``) does not know, itself or
      by its parent, is left out with a warning naming the rule and the id (newer ATT&CK ids);
      a sub-technique whose parent Sentinel knows is kept (Sentinel checks the parent);
    * every tactic Sentinel maps to a kept technique is added after the tagged ones, in Sentinel's
      tactic order (ATT&CK lists e.g. T1078 under four tactics; Sentinel wants all of them).

    A tactic-like tag Sentinel has no tactic for is reported, never dropped silently."""
    tactics: list[str] = []
    techniques: list[str] = []
    relevant: list[str] = []
    for tag in getattr(rule, "tags", None) or []:
        if str(tag.namespace).lower() != "attack":
            continue
        name = str(tag.name).strip().lower().replace("_", "-")
        technique = facts.ATTACK_TECHNIQUE_TAG.fullmatch(name)
        if technique:
            main = f"T{technique.group(1)}"
            full = main + (f".{technique.group(2)}" if technique.group(2) else "")
            if main not in facts.TACTICS_BY_TECHNIQUE:
                what = f"{full} (nor its parent {main})" if full != main else full
                _warn(
                    f"{_rule_name(rule)}: ATT&CK technique {what} is not in Sentinel's technique map, so it "
                    "is left out of the analytics rule (Sentinel would reject it); tag the nearest technique "
                    "Sentinel knows if the mapping matters"
                )
                continue
            for target, value in ((techniques, main), (relevant, full)):
                if value not in target:
                    target.append(value)
            continue
        if facts.ATTACK_ID_TAG.fullmatch(name):
            continue  # groups, software, campaigns...: not tactics
        tactic = facts.TACTIC_BY_SIGMA_TAG.get(name)
        if tactic is None:
            _warn(
                f"{_rule_name(rule)}: tag 'attack.{tag.name}' is no ATT&CK tactic Sentinel knows, so it is left "
                "out; use a tactic tag (docs/formats.md lists them)"
            )
        elif tactic not in tactics:
            tactics.append(tactic)
    implied = {tactic for technique in techniques for tactic in facts.TACTICS_BY_TECHNIQUE[technique]}
    tactics.extend(tactic for tactic in facts.TACTICS if tactic in implied and tactic not in tactics)
    return tuple(tactics), tuple(techniques), tuple(relevant)


def template_id(rule: Any, table: str) -> str:
    """The Sigma id where `table` is the one `-t sentinel` gives the rule's log source by default
    (or no source of ours answers it); exported to another table (`-p aks_dataplane`,
    `-p aks_audit_admin`) the query is another one, so the template gets an id of its own: a UUID
    derived from the Sigma id and the table (uuid5, the same on every run)."""
    rule_id = str(rule.id)
    logsource = getattr(rule, "logsource", None)
    homes = (
        {s.table for s in sources_for_logsource(logsource) if s.default} if logsource is not None else set()
    )
    if not homes or table in homes:
        return rule_id
    try:
        namespace = uuid.UUID(rule_id)
    except ValueError:
        namespace = uuid.uuid5(uuid.NAMESPACE_URL, rule_id)
    return str(uuid.uuid5(namespace, table))


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: max(limit - len(TRUNCATION_MARK), 0)].rstrip() + TRUNCATION_MARK


def _clean(text: str) -> str:
    """Trailing spaces off every line, surrounding blank lines off the whole."""
    return "\n".join(line.rstrip() for line in str(text).strip().splitlines())


def attribution(rule: Any) -> str:
    author = _clean(getattr(rule, "author", None) or "") or "unknown author"
    license_name = _clean(getattr(rule, "license", None) or "") or LICENSE_DEFAULT
    return f"Sigma rule {rule.id} by {author}, {license_name}"


def description_for(rule: Any, notes: Sequence[str] = ()) -> str:
    """The Sigma description, false positives and references, then the conversion notes and the
    attribution. Only the free text is shortened to fit; notes and attribution are kept whole."""
    parts = []
    if getattr(rule, "description", None):
        parts.append(_clean(rule.description))
    falsepositives = [_clean(fp) for fp in getattr(rule, "falsepositives", None) or [] if str(fp).strip()]
    if falsepositives:
        parts.append("False positives:\n" + "\n".join(f"- {fp}" for fp in falsepositives))
    references = [_clean(ref) for ref in getattr(rule, "references", None) or [] if str(ref).strip()]
    if references:
        parts.append("References:\n" + "\n".join(f"- {ref}" for ref in references))
    tail = "\n\n".join([*(f"Note: {note}" for note in notes), attribution(rule)])
    if len(tail) > facts.DESCRIPTION_MAX:
        raise ValueError(
            f"the attribution and notes alone are longer than {facts.DESCRIPTION_MAX} characters"
        )
    free = "\n\n".join(parts)
    if not free:
        return tail
    room = facts.DESCRIPTION_MAX - len(tail) - 2
    return _truncate(free, room) + "\n\n" + tail


def _severity(rule: Any, settings: Settings) -> str:
    if settings.severity is not None:
        return settings.severity
    level = getattr(getattr(rule, "level", None), "name", None)
    if level is None:
        return "Medium"
    return facts.SEVERITY_BY_SIGMA_LEVEL[level.lower()]


def _enabled(rule: Any, settings: Settings) -> bool:
    status_obj = getattr(rule, "status", None)
    status = status_obj.name.lower() if status_obj is not None else None
    if status in REFUSED_STATUSES:
        raise ValueError(
            f"status '{status}': deprecated and unsupported rules are not exported as analytics rules"
        )
    if settings.enabled is not None:
        return settings.enabled
    return ENABLED_BY_STATUS.get(status, False)


def _display_name_format(title: str, suffix: str) -> str:
    """`<title>: <placeholders>`, the title shortened to fit; placeholders alone if the title has braces."""
    if "{" in title or "}" in title:
        return suffix
    room = facts.ALERT_DISPLAY_NAME_FORMAT_MAX - len(suffix) - 2
    return f"{_truncate(title, room)}: {suffix}" if room > len(TRUNCATION_MARK) else suffix


def table_profile(table: str | None) -> AnalyticsProfile:
    """The analytics-rule profile of a table; a clear ValueError for a table without one."""
    source = source_for_table(table)
    if source is None or source.profile is None:
        supported = sorted(s.table for s in all_sources() if s.profile is not None)
        raise ValueError(
            f"no analytics-rule profile for table {table!r} (entity mappings, data connector); "
            f"supported tables: {', '.join(supported)}"
        )
    return source.profile


def build_rule(
    rule: Any,
    query: str,
    table: str | None,
    backend_options: Mapping[str, Any] | None,
    notes: Sequence[str] = (),
    union: Sequence[str] = (),
    look_back: bool = True,
) -> AnalyticsRule:
    """The analytics rule for a converted Sigma rule; ValueError when it cannot be valid. `union`:
    the tables the query also searches (their data types are required too, and the template gets
    an id of its own, since the same rule exported without the union is another query). `look_back`:
    the format carries Sentinel's query_period (else it is neither derived nor checked here)."""
    if getattr(rule, "id", None) is None:
        raise ValueError("the rule has no `id`; Sentinel rules are named by it, so add one (a UUID)")
    profile = table_profile(table)
    settings = (schedule if look_back else schedule_without_look_back)(settings_for(rule, backend_options))
    tactics, techniques, relevant = attack_mapping(rule)
    title = _clean(getattr(rule, "title", "") or "")
    if not title:
        raise ValueError("the rule has no title")
    if settings.kind == facts.NRT_KIND and union:
        raise ValueError(
            f"kind NRT: the query is a union of {', '.join((profile.table, *union))}; {_NRT_LIMITS}"
        )
    body = str(query).rstrip() if settings.kind == facts.NRT_KIND else bounded_query(str(query).rstrip(), settings)
    full_query = "\n".join(line for line in (body, profile.extend_line) if line)
    model = AnalyticsRule(
        rule_id=template_id(rule, "+".join((profile.table, *union))),
        display_name=_truncate(" ".join(title.split()), facts.NAME_MAX),
        description=description_for(rule, notes),
        severity=_severity(rule, settings),
        enabled=_enabled(rule, settings),
        query=full_query,
        table=profile.table,
        settings=settings,
        tactics=tactics,
        techniques=techniques,
        relevant_techniques=relevant,
        entity_mappings=profile.entity_mappings,
        custom_details=profile.custom_details,
        alert_display_name_format=_display_name_format(
            " ".join(title.split()), profile.alert_display_name_format
        ),
        connector_id=profile.connector_id,
        data_types=(*profile.data_types, *(t for t in union if t not in profile.data_types)),
        result_columns=frozenset(TABLES.get(profile.table, {})) | frozenset(profile.extended_columns),
    )
    validate(model, look_back)
    return model


_NRT_LIMITS = (
    "Sentinel's near-real-time rules cannot use joins or unions, nor query more than one table "
    f"({facts.NRT_LIMITS_URL}); export it as a Scheduled rule (leave out kind)"
)
_STRING_LITERAL = re.compile(r"""@"(?:[^"]|"")*"|@'(?:[^']|'')*'|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'""")
_NRT_OPERATOR = re.compile(
    rf"(?:^|\|)\s*({'|'.join(facts.NRT_EXCLUDED_OPERATORS)})\b|(?:^|[;\n])\s*(union)\b", re.MULTILINE
)


def nrt_problem(model: AnalyticsRule) -> str | None:
    """Why Sentinel cannot run this rule as NRT (None: it can): a correlation (its windows need a
    look-back), or an operator Microsoft's NRT considerations exclude (outside string literals)."""
    if WINDOW_END in model.result_columns:
        return (
            "kind NRT: a correlation rule counts events across a time window, which a near-real-time rule "
            "(only the rows ingested since its previous run, about a minute) cannot see; export it as a "
            "Scheduled rule (leave out kind)"
        )
    code = _STRING_LITERAL.sub('""', model.query)
    found = _NRT_OPERATOR.search(code)
    if found:
        return f"kind NRT: the query uses `{found.group(1) or found.group(2)}`; {_NRT_LIMITS}"
    return None


def bounded_query(query: str, settings: Settings) -> str:
    """The query with the run's ingestion bound as the first operator after its tabular source (the
    table, or the union with its legs), so that consecutive runs tile ingestion time: an event alerts
    in the one run after its ingestion, if its delay is within query_period - query_frequency. The
    bound only drops rows before the rule's own operators; what the rule matches among them is unchanged."""
    lines = query.split("\n")
    first = next((index for index, line in enumerate(lines) if line.startswith("| ")), len(lines))
    return "\n".join([*lines[:first], ingestion_bound(settings), *lines[first:]])


def _check_duration(name: str, minutes: int, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if not low <= minutes <= high:
        raise ValueError(f"{name} is {minutes} minutes; Sentinel allows {low} to {high} minutes")


def _check_column(where: str, column: str, model: AnalyticsRule) -> None:
    if not facts.COLUMN_NAME.fullmatch(column) or len(column) > facts.COLUMN_NAME_MAX:
        raise ValueError(f"{where}: {column!r} is not a valid column name")
    if column not in model.result_columns:
        raise ValueError(f"{where}: column {column!r} is not returned by the query on {model.table}")


def validate(model: AnalyticsRule, look_back: bool = True) -> None:
    """Every Sentinel limit and enum; the first problem found is raised as ValueError. Without
    `look_back`, the schedule is the format's to check."""
    s = model.settings
    if s.kind == facts.NRT_KIND:
        problem = nrt_problem(model)
        if problem:
            raise ValueError(problem)
    if not 1 <= len(model.display_name) <= facts.NAME_MAX:
        raise ValueError(f"name must be 1 to {facts.NAME_MAX} characters")
    if len(model.description) > facts.DESCRIPTION_MAX:
        raise ValueError(f"description is longer than {facts.DESCRIPTION_MAX} characters")
    low, high = facts.QUERY_LENGTH_RANGE
    if not low <= len(model.query) <= high:
        raise ValueError(
            f"the query is {len(model.query)} characters; Sentinel accepts {low} to {high}. "
            "Split the rule or shorten its value lists"
        )
    if model.severity not in facts.SEVERITIES:
        raise ValueError(f"severity {model.severity!r} is not one of {', '.join(facts.SEVERITIES)}")
    for tactic in model.tactics:
        if tactic not in facts.TACTICS:
            raise ValueError(f"tactic {tactic!r} is not a Sentinel tactic")
    for technique in model.techniques:
        if not facts.ARM_TECHNIQUE.fullmatch(technique):
            raise ValueError(f"technique {technique!r} is not of the form T####")
    for technique in model.relevant_techniques:
        if not facts.YAML_TECHNIQUE.fullmatch(technique):
            raise ValueError(f"technique {technique!r} is not of the form T#### or T####.###")
    if s.kind == facts.RULE_KIND and look_back:
        if s.query_period is None:
            raise ValueError("query_period is not resolved (options.schedule)")
        _check_duration("query_frequency", s.query_frequency, facts.QUERY_DURATION_RANGE)
        _check_duration("query_period", s.query_period, facts.QUERY_DURATION_RANGE)
        if s.query_period < s.query_frequency:
            raise ValueError("query_period must be at least query_frequency (events would be missed)")
        if s.query_period >= facts.LONG_PERIOD and s.query_frequency < facts.LONG_PERIOD_MIN_FREQUENCY:
            raise ValueError("with query_period of 2 days or more, query_frequency must be at least 1h")
    _check_duration("suppression_duration", s.suppression_duration, facts.SUPPRESSION_DURATION_RANGE)
    _check_duration("grouping_lookback", s.grouping_lookback, facts.GROUPING_LOOKBACK_RANGE)
    low, high = facts.TRIGGER_THRESHOLD_RANGE
    if not low <= s.trigger_threshold <= high:
        raise ValueError(f"trigger_threshold must be {low} to {high}")
    if s.trigger_operator not in facts.TRIGGER_OPERATORS.values():
        raise ValueError(f"trigger_operator {s.trigger_operator!r} is unknown")
    if s.event_grouping not in facts.EVENT_GROUPING_KINDS:
        raise ValueError(f"event_grouping {s.event_grouping!r} is unknown")
    if s.grouping_matching not in facts.INCIDENT_MATCHING_METHODS:
        raise ValueError(f"grouping_matching {s.grouping_matching!r} is unknown")
    low, high = facts.ENTITY_MAPPINGS_RANGE
    if not low <= len(model.entity_mappings) <= high:
        raise ValueError(f"{len(model.entity_mappings)} entity mappings; Sentinel takes {low} to {high}")
    for mapping in model.entity_mappings:
        entity = facts.ENTITY_TYPES.get(mapping.entity_type)
        if entity is None:
            raise ValueError(f"entity type {mapping.entity_type!r} is unknown")
        low, high = facts.FIELD_MAPPINGS_PER_ENTITY_RANGE
        if not low <= len(mapping.field_mappings) <= high:
            raise ValueError(f"{mapping.entity_type}: {low} to {high} identifiers per entity")
        identifiers = [identifier for identifier, _ in mapping.field_mappings]
        if len(set(identifiers)) != len(identifiers):
            raise ValueError(f"{mapping.entity_type}: an identifier is mapped twice")
        for identifier, column in mapping.field_mappings:
            if identifier not in entity.identifiers:
                raise ValueError(f"{mapping.entity_type} has no identifier {identifier!r}")
            _check_column(f"{mapping.entity_type}.{identifier}", column, model)
        if not any(set(group) <= set(identifiers) for group in entity.required_any_of):
            raise ValueError(f"{mapping.entity_type}: none of its strong identifiers is mapped")
    if len(model.custom_details) > facts.CUSTOM_DETAILS_MAX_PAIRS:
        raise ValueError(f"more than {facts.CUSTOM_DETAILS_MAX_PAIRS} custom details")
    keys = [key for key, _ in model.custom_details]
    if len(set(keys)) != len(keys):
        raise ValueError("a custom details key is used twice")
    for key, column in model.custom_details:
        if not facts.CUSTOM_DETAILS_KEY.fullmatch(key) or len(key) > facts.CUSTOM_DETAILS_KEY_MAX:
            raise ValueError(f"custom details key {key!r}: letters, then word characters, at most 20")
        if len(column) > facts.CUSTOM_DETAILS_VALUE_MAX:
            raise ValueError(f"custom details value {column!r} is too long")
        _check_column(f"custom detail {key}", column, model)
    fmt = model.alert_display_name_format
    if len(fmt) > facts.ALERT_DISPLAY_NAME_FORMAT_MAX:
        raise ValueError(f"alert name format is longer than {facts.ALERT_DISPLAY_NAME_FORMAT_MAX} characters")
    placeholders = facts.PLACEHOLDER.findall(fmt)
    if len(placeholders) > facts.ALERT_PLACEHOLDERS_MAX:
        raise ValueError(f"alert name format has more than {facts.ALERT_PLACEHOLDERS_MAX} placeholders")
    for column in placeholders:
        _check_column("alert name placeholder", column, model)
