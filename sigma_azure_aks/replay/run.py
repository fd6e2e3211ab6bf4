"""Convert rules, load events, run every rule: the replay behind the Python API and the CLI."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .loaders import Event, read_events


@dataclass
class RuleHit:
    """One converted rule and the events it matched."""

    rule_id: str
    title: str
    path: str
    table: str
    query: str
    events: list[Event] = field(default_factory=list)


class ReplayResult(dict[str, list[Any]]):
    """rule id -> ids of the matched events; also the details (`hits`, `failures`, `events`)."""

    def __init__(self) -> None:
        super().__init__()
        self.hits: list[RuleHit] = []
        self.failures: list[str] = []
        self.events: list[Event] = []


def _looks_like_yaml(text: str) -> bool:
    """Rule text (YAML, or JSON, which is YAML) rather than a path."""
    return ("\n" in text or text.lstrip().startswith("{")) and "detection" in text


def convert(rules: Any, pipeline: Any = None) -> tuple[list[Any], list[str]]:
    """(converted rules, failure lines) for paths, YAML text, or pySigma rules/collections."""
    from sigma.collection import SigmaCollection
    from sigma.rule import SigmaRule

    from ..backend import SentinelBackend
    from ..batch import convert_rule, iter_convert, rule_files

    items = [rules] if isinstance(rules, (str, Path, SigmaRule, SigmaCollection)) else list(rules)
    converted: list[Any] = []
    failures: list[str] = []
    backend = SentinelBackend(pipeline)
    for item in items:
        if isinstance(item, str) and _looks_like_yaml(item):
            collection = SigmaCollection.from_yaml(item, collect_errors=True)
            failures.extend(f"<yaml>: {error}" for error in collection.errors)
            sigma_rules: list[Any] = list(collection.rules)
        elif isinstance(item, SigmaCollection):
            sigma_rules = list(item.rules)
        elif isinstance(item, SigmaRule):
            sigma_rules = [item]
        else:
            for outcome in iter_convert(rule_files([item]), pipeline):
                if hasattr(outcome, "query"):
                    converted.append(outcome)
                else:
                    failures.append(outcome.line())
            continue
        for rule in sigma_rules:
            if getattr(rule, "errors", None):
                failures.extend(f"<yaml>: {error}" for error in rule.errors)
                continue
            outcome = convert_rule(backend, Path("<yaml>"), rule)
            if hasattr(outcome, "query"):
                converted.append(outcome)
            else:
                failures.append(outcome.line())
    return converted, failures


def _rule_key(rule: Any) -> str:
    return str(rule.id) if getattr(rule, "id", None) else str(rule.title)


def replay(
    rules: Any,
    events: str | Path | Iterable[str | Path | Mapping[str, Any]],
    pipeline: Any = None,
    on_loaded: Callable[[int], None] | None = None,
    engine: Any = None,
) -> ReplayResult:
    """Run `rules` on `events`; see the package docstring."""
    inputs = [events] if isinstance(events, (str, Path)) else list(events)
    return replay_events(rules, read_events(inputs), pipeline, on_loaded, engine)


def replay_events(
    rules: Any,
    loaded: list[Event],
    pipeline: Any = None,
    on_loaded: Callable[[int], None] | None = None,
    engine: Any = None,
) -> ReplayResult:
    """Run `rules` on events already read (:func:`read_events`)."""
    from .engine import Engine

    converted, failures = convert(rules, pipeline)
    result = ReplayResult()
    result.failures = failures
    result.events = loaded
    engine = engine or Engine()
    by_table: dict[str, list[Event]] = {}
    for event in loaded:
        by_table.setdefault(event.table, []).append(event)
    for table, table_events in by_table.items():
        engine.load(table, (event.row for event in table_events))
        if on_loaded is not None:
            on_loaded(len(table_events))
    queries = [c.query for c in converted]
    for item, outcome in zip(converted, engine.matches_many(queries), strict=True):
        key = _rule_key(item.rule)
        if isinstance(outcome, Exception):
            result.failures.append(f"{item.path}: {key}: {outcome}")
            continue
        table_events = by_table.get(item.table, [])
        hit = RuleHit(
            key,
            str(item.rule.title),
            str(item.path),
            item.table,
            item.query,
            [table_events[row] for row in outcome],
        )
        result.hits.append(hit)
        result[key] = [event.event_id for event in hit.events]
    return result
