"""Scheduled analytics rules from Sigma correlation rules.

Scheduling follows from the correlation's `timespan` so that no window is missed and none is
reported twice:

* each run reports the windows that END in one run interval, delayed by the ingestion delay:
  ``window_end in (now() - frequency - delay, now() - delay]``; consecutive runs tile time;
* each run reads enough data to see those windows whole:
  ``queryPeriod = queryFrequency + timespan + delay``, within Sentinel's 5 minutes to 14 days.
  A chained correlation reads the timespans of the whole chain (its own plus the longest chain
  of a correlation it references: that correlation's alerts are its events, each at the end of
  a window reaching one more timespan back). A timespan that does not fit is an error naming
  the longest that does.

One alert per group per run (`AlertPerResult` on one row per group): the first window of the run
that met the condition, with its metric and events, and how many windows met it in the run. The
group-by fields become entities where they name an entity column, and custom details.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .. import kql
from ..correlation import (
    EVIDENCE,
    WINDOW_END,
    WINDOW_START,
    BaseSource,
    ChildSource,
    CorrelationPlan,
)
from ..correlation_windows import RANKED_KINDS, evidence_events, interpolated, is_swept
from ..sources import EntityMappingSpec, source_for_table
from . import sentinel_facts as facts
from .model import (
    AnalyticsRule,
    _clean,
    _display_name_format,
    _enabled,
    _severity,
    _truncate,
    attack_mapping,
    description_for,
    validate,
)
from .options import Settings, settings_for, yaml_duration
from .render import render

# Minutes an event may take to reach the workspace; windows are reported this long after they end.
INGESTION_DELAY = 30
WINDOWS_COLUMN = "alerting_windows"
EVENTS_COLUMN = "window_events"  # how many events the reported window holds
ALERT_EVENTS = 100  # event ids an alert lists
METRIC_WORDS = {
    "event_count": "events",
    "value_count": "distinct values",
    "value_sum": "in total",
    "value_avg": "on average",
    "value_median": "median",
    "value_percentile": "percentile",
    "temporal": "rules",
    "temporal_ordered": "rules in order",
}


def _reads(expression: str, field_kql: str) -> bool:
    """Whether a profile expression reads exactly this column or member (as a whole token)."""
    return re.search(rf"(?<![\w.]){re.escape(field_kql)}(?![\w.\[])", expression) is not None


def _source_entities(table: str, field_kql: str) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """The table profile's entities whose every identifier is read from this one field: as
    (entity type, ((identifier, expression over the field, written `{0}`), ...))."""
    source = source_for_table(table)
    profile = source.profile if source is not None else None
    if profile is None:
        return ()
    extends = dict(profile.extend)
    found = []
    for mapping in profile.entity_mappings:
        identifiers = []
        for identifier, column in mapping.field_mappings:
            expression = extends.get(column, column)
            # read from this field alone: after the correlation's summarize no other column is left
            if not _reads(expression, field_kql) or any(
                c != field_kql and _reads(expression, c) for c in source.schema
            ):
                break
            pattern = rf"(?<![\w.]){re.escape(field_kql)}(?![\w.\[])"
            template = re.sub(pattern, "{0}", expression.replace("{", "{{").replace("}", "}}"))
            # A group column is already text (the correlation writes tolower(tostring(field))), so
            # a profile that reads the field through tostring() reads the column as it is.
            identifiers.append((identifier, "{0}" if template == "tostring({0})" else template))
        else:
            found.append((mapping.entity_type, tuple(identifiers)))
    return tuple(found)


def _roles(plan: CorrelationPlan, column: str) -> set[Any]:
    """The entities a group column stands for over every event source (one set per source)."""
    found: set[Any] = set()
    for source in plan.sources:
        if isinstance(source, ChildSource):
            theirs = dict(source.groups).get(column)
            found |= _roles(source.plan, theirs) if theirs else {()}
        elif isinstance(source, BaseSource):
            found.add(_source_entities(source.table, dict(source.groups).get(column, "")))
    return found


def _entities(plan: CorrelationPlan) -> tuple[list[tuple[str, str]], list[EntityMappingSpec]]:
    """(extend columns, entity mappings) for the group columns that stand for the same entities
    on every source, read as the table's analytics profile reads that field."""
    extend: list[tuple[str, str]] = []
    mappings: list[EntityMappingSpec] = []
    for column in plan.groups:
        roles = _roles(plan, column)
        if len(roles) != 1:
            continue
        for entity_type, identifiers in next(iter(roles)):
            fields = []
            for identifier, template in identifiers:
                expression = template.format(kql.column_reference(column))
                if expression == kql.column_reference(column):
                    fields.append((identifier, column))
                    continue
                name = f"{column}_{identifier}"
                extend.append((name, expression))
                fields.append((identifier, name))
            mappings.append(EntityMappingSpec(entity_type, tuple(fields)))
    return extend, mappings


def _detail_key(column: str) -> str:
    key = "".join(part[:1].upper() + part[1:] for part in column.split("_") if part)
    key = key.lstrip("0123456789_") or "Group"
    return key[: facts.CUSTOM_DETAILS_KEY_MAX]


def _human(minutes: int) -> str:
    """Minutes as `13d22h30m`."""
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    return "".join(f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (mins, "m")) if n) or "0m"


def chain_seconds(plan: CorrelationPlan) -> int:
    """How far back a window of this correlation reaches into events: its timespan, plus, for a
    chained correlation, the longest reach of a referenced correlation (whose alerts are its
    events, each at the end of a window of its own)."""
    children = [chain_seconds(s.plan) for s in plan.sources if isinstance(s, ChildSource)]
    return plan.seconds + max(children, default=0)


def _timespans(plan: CorrelationPlan) -> str:
    """The timespan, or for a chain the timespans whose sum it reads back: `10m + 2h`."""
    longest = max(
        (s.plan for s in plan.sources if isinstance(s, ChildSource)), key=chain_seconds, default=None
    )
    here = yaml_duration(math.ceil(plan.seconds / 60))
    return here if longest is None else f"{here} + {_timespans(longest)}"


def schedule(plan: CorrelationPlan, settings: Settings) -> Settings:
    """queryPeriod from the run interval, the timespan (of the whole chain) and the ingestion
    delay; a clear error when Sentinel's 14-day lookback cannot hold it."""
    span = math.ceil(chain_seconds(plan) / 60)
    what = "chain's timespans" if plan.chained else "timespan"
    stated = (
        f"the chain's timespans {_timespans(plan)} = {yaml_duration(span)} are"
        if plan.chained
        else f"timespan {yaml_duration(span)} is"
    )
    frequency = settings.query_frequency
    needed = frequency + span + INGESTION_DELAY
    longest = facts.QUERY_DURATION_RANGE[1]
    if needed > longest:
        room = longest - frequency - INGESTION_DELAY
        raise ValueError(
            f"{stated} too long for a scheduled rule: a run every "
            f"{yaml_duration(frequency)} must read {yaml_duration(frequency)} + the {what} + "
            f"{INGESTION_DELAY}m ingestion delay, but Sentinel reads at most 14d. "
            + (f"The longest timespan that fits is {_human(room)}" if room > 0 else "")
            + "; shorten the timespan or run the query in a hunting workbook instead"
        )
    if settings.query_period != Settings().query_period and settings.query_period < needed:
        raise ValueError(
            f"query_period {yaml_duration(settings.query_period)} is shorter than query_frequency + "
            f"{what} + {INGESTION_DELAY}m ingestion delay ({yaml_duration(needed)}): "
            "windows would be missed"
        )
    return replace(
        settings,
        query_period=max(
            needed, settings.query_period if settings.query_period != Settings().query_period else 0
        ),
    )


def analytics_query(plan: CorrelationPlan, settings: Settings, extend: list[tuple[str, str]]) -> str:
    """The correlation query, limited to the windows this run reports, one row per group: its
    first alerting window with the events inside it (up to ALERT_EVENTS of them)."""
    columns = [kql.column_reference(group) for group in plan.groups]
    groups = ", ".join(columns)
    by = f" by {groups}" if plan.groups else ""
    lets, body = plan.statements()
    run = [
        f"| where {WINDOW_END} > ago({settings.query_frequency + INGESTION_DELAY}m) "
        f"and {WINDOW_END} <= ago({INGESTION_DELAY}m)",
        f"| summarize arg_min({WINDOW_END}, *), {WINDOWS_COLUMN} = count(){by}",
    ]
    if is_swept(plan):  # the windows carry no events: the first ones are joined with theirs
        keys = [*columns] or ["sigma_one"]
        one = "" if plan.groups else "\n| extend sigma_one = 1"
        lets.append("let sigma_first = " + "\n".join([body, *run]) + one)
        ranked = plan.kind in RANKED_KINDS  # the metric of the window reported, from its values
        by_window = ", ".join([*columns, WINDOW_START, WINDOW_END, *([] if ranked else [plan.metric]), WINDOWS_COLUMN])
        lines = [
            "sigma_first",
            f"| join kind=inner ({evidence_events(plan)}{one.replace(chr(10), ' ')} | project {', '.join(keys)}, "
            f"sigma_time, sigma_event{', sigma_value' if ranked else ''}) on {', '.join(keys)}",
            f"| where sigma_time between ({WINDOW_START} .. {WINDOW_END})",
            f"| summarize {EVIDENCE} = make_set(sigma_event, {ALERT_EVENTS}), {EVENTS_COLUMN} = "
            f"count_distinct(sigma_event){', sigma_values = make_list(sigma_value)' if ranked else ''} by {by_window}",
        ]
        if ranked:
            lines += [*interpolated(plan.metric, plan.percentile or 0.0), "| project-away sigma_values, sigma_rank, sigma_low"]
    else:
        lines = [body, *run]
    if extend:
        lines.append("| extend " + ", ".join(f"{name} = {expression}" for name, expression in extend))
    return "".join(f"{text};\n" for text in lets) + "\n".join(lines)


def build_correlation_rule(plan: CorrelationPlan, backend_options: Mapping[str, Any] | None) -> AnalyticsRule:
    rule = plan.rule
    if getattr(rule, "id", None) is None:
        raise ValueError("the rule has no `id`; Sentinel rules are named by it, so add one (a UUID)")
    title = " ".join(_clean(getattr(rule, "title", "") or "").split())
    if not title:
        raise ValueError("the rule has no title")
    settings = schedule(plan, settings_for(rule, backend_options))
    settings = replace(settings, event_grouping="AlertPerResult")
    extend, mappings = _entities(plan)
    if not mappings:
        raise ValueError(
            "no group-by field maps to a Sentinel entity (an account, IP address or Azure resource: e.g. "
            "caller, callerIpAddress, resourceId, user.username); add one to group-by"
        )
    tactics, techniques, relevant = attack_mapping(rule)
    profile = source_for_table(plan.tables[0]).profile  # type: ignore[union-attr]
    metric = plan.metric
    details = [(_detail_key(column), column) for column in plan.groups]
    details += [
        (_detail_key(metric), metric),
        ("WindowStart", WINDOW_START),
        ("WindowEnd", WINDOW_END),
        ("AlertingWindows", WINDOWS_COLUMN),
        *([("WindowEvents", EVENTS_COLUMN)] if is_swept(plan) else []),
    ]
    shown = ", ".join(f"{{{{{column}}}}}" for column in plan.groups[:2])
    suffix = f"{{{{{metric}}}}} {METRIC_WORDS[plan.kind]}" + (f" for {shown}" if shown else "")
    query = analytics_query(plan, settings, extend)
    columns = {
        *plan.groups,
        WINDOW_START,
        WINDOW_END,
        metric,
        EVIDENCE,
        WINDOWS_COLUMN,
        *([EVENTS_COLUMN] if is_swept(plan) else []),
        *(n for n, _ in extend),
    }
    model = AnalyticsRule(
        rule_id=str(rule.id),
        display_name=_truncate(title, facts.NAME_MAX),
        description=description_for(rule, _notes(plan)),
        severity=_severity(rule, settings),
        enabled=_enabled(rule, settings),
        query=query,
        table=", ".join(plan.tables),
        settings=settings,
        tactics=tactics,
        techniques=techniques,
        relevant_techniques=relevant,
        entity_mappings=tuple(mappings),
        custom_details=tuple(details[: facts.CUSTOM_DETAILS_MAX_PAIRS]),
        alert_display_name_format=_display_name_format(title, suffix),
        connector_id=profile.connector_id,
        data_types=plan.tables,
        result_columns=frozenset(columns),
    )
    validate(model)
    return model


def _notes(plan: CorrelationPlan) -> list[str]:
    span = yaml_duration(math.ceil(plan.seconds / 60)) if plan.seconds % 60 == 0 else f"{plan.seconds}s"
    return [
        f"Sigma {plan.kind} correlation over sliding {span} windows (any {span} span, not fixed bins); "
        f"one alert per group and run: the first window that met the condition, reported "
        f"{INGESTION_DELAY}m after it ends"
    ]


def render_correlation_rule(plan: CorrelationPlan, output_format: str, backend_options: Any) -> str:
    """The correlation's analytics rule in the format; a format whose rule carries no look-back (a
    Defender custom detection) cannot hold its windows, refused before any Sentinel schedule is derived."""
    from . import FORMATS

    if not all(f.look_back for f in FORMATS if output_format in (f.name, f.export_name)):
        from .defender import CORRELATION_REFUSAL

        raise ValueError(f"format {output_format}: {CORRELATION_REFUSAL}")
    return render(build_correlation_rule(plan, backend_options), output_format)
