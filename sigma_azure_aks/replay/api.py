"""Convert rules, load events, run every rule: the replay behind the Python API and the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ..correlation import plan_of
from ..correlation_windows import evidence_events
from .errors import ReplayQueryError, ReplayUnsupportedError
from .kql_rewrite import columns_read
from .loaders import Event, check_readable, event_ids, kept_columns, read_events

# Events listed per alert; an alert also tells how many events it holds.
ALERT_EVENTS = 100


@dataclass
class Alert:
    """One alert of a correlation rule, as the deployed rule reports a group: an episode of
    overlapping alerting windows of one group (each window starting before the one before it
    ends), from its first window (`window_start`, `window_end`) to its last, its highest metric
    and the events inside it (up to ALERT_EVENTS of them, the earliest; `event_total` counts
    them all). Listing every window (`replay(..., every_window=True)`), an alert is one window and
    its events, all of them."""

    groups: dict[str, Any]
    window_start: Any
    window_end: Any
    metric: Any
    event_ids: list[str]
    last_window_start: Any = None
    last_window_end: Any = None
    windows: int = 1
    event_total: int = 0

    def __post_init__(self) -> None:
        if self.last_window_start is None:
            self.last_window_start, self.last_window_end = self.window_start, self.window_end
        self.event_total = max(self.event_total, len(self.event_ids))


@dataclass
class RuleHit:
    """One converted rule and the events it matched (a correlation: the events of its alerts)."""

    rule_id: str
    title: str
    path: str
    table: str
    query: str
    events: list[Event] = field(default_factory=list)
    alerts: list[Alert] | None = None  # correlation rules only


@dataclass(frozen=True)
class Segment:
    """Rows an export file put into the engine itself (:meth:`Engine.load_export`): rows
    `start` to `start + count` of `table`, the first of them record `number` of the inputs."""

    table: str
    start: int
    count: int
    source: str
    number: int


def _segment_events(engine: Any, segments: list[Segment], table: str, rows: list[int]) -> list[Event]:
    """Events (their id and summary columns) of rows the engine loaded from export files."""
    if not rows:
        return []
    details = engine.fetch(table, rows, kept_columns(table))
    found = []
    for row in rows:
        for segment in segments:
            if segment.table == table and segment.start <= row < segment.start + segment.count:
                found.append(Event(table, details[row], segment.source, segment.number + row - segment.start))
                break
    return found


class ReplayResult(dict[str, list[Any]]):
    """rule id -> ids of the matched events; also the details (`hits`, `failures`, `events`).

    `failures` holds a line per rule that did not run: not converted, or (also in
    `not_replayed`) converted to a query valid for Microsoft Sentinel that the local engine
    cannot run. `notices`: a line per table some rule reads that the events hold no row of
    (such a rule matches nothing, whatever it says)."""

    def __init__(self) -> None:
        super().__init__()
        self.hits: list[RuleHit] = []
        self.failures: list[str] = []
        self.not_replayed: list[str] = []
        self.notices: list[str] = []
        self.events: list[Event] = []  # the events read by the loaders (all but scanned files')
        self.event_count = 0  # every event replayed, scanned files' included
        self.tables_read: dict[str, int] = {}  # table -> how many converted rules read it
        self.tables_with_rows: set[str] = set()

    def note_missing_tables(self, where: str) -> None:
        """One notice per table the rules read with no row in the events (`where`: the files)."""
        self.notices = [
            f"no rows of table {table} in {where} ({count} rule(s) read it, so they match nothing)"
            for table, count in self.tables_read.items()
            if table not in self.tables_with_rows
        ]


def _inputs_named(inputs: list[Any]) -> str:
    """The events files as a notice names them (events given as rows: "the events given")."""
    names = [str(item) for item in inputs if isinstance(item, (str, Path))]
    return ", ".join(names) if names and len(names) == len(inputs) else "the events given"


def convert(rules: Any, pipeline: Any = None) -> tuple[list[Any], list[str]]:
    """(converted rules, failure lines) for any rule input the batch funnel takes
    (:func:`..batch.load_inputs`: paths, YAML text, pySigma rules and collections, or a list)."""
    from ..batch import ConvertedRule, iter_convert

    converted: list[Any] = []
    failures: list[str] = []
    for outcome in iter_convert(rules, pipeline):
        if isinstance(outcome, ConvertedRule):
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
    *,
    scan: bool = False,
    on_file: Callable[[int], None] | None = None,
    on_reading: Callable[[str], None] | None = None,
    on_progress: Callable[[str, float], None] | None = None,
    memory_limit: str | None = None,
    every_window: bool = False,
) -> ReplayResult:
    """Run `rules` on `events`; see the package docstring.

    With `scan`, each file that is a Log Analytics export of one table is read by the engine in
    one pass that runs every rule, and none of its rows becomes a Python value: its hit events
    carry only their id and summary columns (:func:`loaders.summary_columns`), and it adds to ``event_count`` but not to
    ``events``. Other inputs are read by the loaders as without `scan`. The rules match the same
    events either way. `on_reading(name)` is called as each file is opened, `on_file(1)` as each
    input has been read or scanned, `on_progress(name, share)` (from another thread) as a scan
    of a file goes on. `memory_limit` bounds the engine's memory (see :class:`Engine`); a
    given `engine` keeps its own. A correlation rule reports one alert per episode of a group
    (see :class:`Alert`); `every_window` lists every alerting window with all its events instead
    (their number grows with the square of a burst: for tests and small inputs)."""
    inputs = [events] if isinstance(events, (str, Path)) else list(events)
    result = _replay_inputs(
        rules, inputs, pipeline, on_loaded, engine, scan, on_file, on_reading, on_progress, memory_limit, every_window
    )
    result.note_missing_tables(_inputs_named(inputs))
    return result


def _replay_inputs(
    rules: Any,
    inputs: list[Any],
    pipeline: Any,
    on_loaded: Callable[[int], None] | None,
    engine: Any,
    scan: bool,
    on_file: Callable[[int], None] | None,
    on_reading: Callable[[str], None] | None,
    on_progress: Callable[[str, float], None] | None,
    memory_limit: str | None,
    every_window: bool,
) -> ReplayResult:
    """:func:`replay` on its inputs, before its notices."""
    if not scan:
        return replay_events(rules, read_events(inputs), pipeline, on_loaded, engine, every_window=every_window)
    from .engine import Engine

    converted, failures = convert(rules, pipeline)
    engine = engine or Engine(memory_limit)
    if any(plan_of(c.rule) is not None for c in converted):
        # a correlation reads events of every file at once: load them all, scan none; an export
        # is loaded by the engine itself (no Python value per cell), other files by the loaders
        read: list[Event] = []
        segments: list[Segment] = []
        number = 1
        for item in inputs:
            native = None
            if isinstance(item, (str, Path)):
                if on_reading is not None:
                    on_reading(str(item))
                before = dict(engine.row_counts)
                native = engine.load_export(item)
            if native is not None:
                table, total = native
                start = before.get(table, 0)
                segments.append(Segment(table, start, total - start, str(item), number))
                number += total - start
                if on_loaded is not None:
                    on_loaded(total - start)
            else:
                events = read_events([item], first_number=number)
                read.extend(events)
                number += len(events)
            if on_file is not None:
                on_file(1)
        return _run_loaded(
            converted, read, failures, on_loaded, engine, every_window=every_window, segments=segments
        )
    queries = [c.query for c in converted]
    found: list[list[Event]] = [[] for _ in queries]
    errors: dict[int, Exception] = {}
    loaded: list[Event] = []
    scanned = files = 0
    scanned_tables: set[str] = set()
    number = 1
    for item in inputs:
        outcome = None
        if isinstance(item, (str, Path)):
            if on_reading is not None:
                on_reading(str(item))
            told = None if on_progress is None else partial(on_progress, str(item))
            outcome = engine.scan_export(item, queries, kept_columns, told)
        if outcome is None:
            read = read_events([item], first_number=number)
            loaded.extend(read)
            number += len(read)
            if on_file is not None:
                on_file(1)
            continue
        for index, rows in enumerate(outcome.matches):
            if isinstance(rows, Exception):
                errors[index] = rows
                continue
            table, details, name = outcome.table, outcome.details, str(item)
            found[index].extend([Event(table, details[row], name, number + row) for row in rows])
        number += outcome.rows
        scanned += outcome.rows
        if outcome.rows:
            scanned_tables.add(outcome.table)
        files += 1
        if on_loaded is not None:
            on_loaded(outcome.rows)
        if on_file is not None:
            on_file(1)
    # a scan checked every query; without one, the loaded engine checks them
    result = _run_loaded(
        converted, loaded, failures, on_loaded, engine, found if files else None, errors, every_window=every_window
    )
    result.event_count += scanned
    result.tables_with_rows |= scanned_tables
    return result


def replay_events(
    rules: Any,
    loaded: list[Event],
    pipeline: Any = None,
    on_loaded: Callable[[int], None] | None = None,
    engine: Any = None,
    *,
    every_window: bool = False,
) -> ReplayResult:
    """Run `rules` on events already read (:func:`read_events`); `every_window`: see :func:`replay`."""
    from .engine import Engine

    converted, failures = convert(rules, pipeline)
    return _run_loaded(converted, loaded, failures, on_loaded, engine or Engine(), every_window=every_window)


def _reader(converted: list[Any]) -> Callable[[str], set[str]]:
    """table -> the columns the converted rules on it read (a refused query reads none)."""

    def reads(table: str) -> set[str]:
        found: set[str] = set()
        for item in converted:
            if item.table != table:
                continue
            try:
                found |= columns_read(item.query)[1]
            except ReplayQueryError:
                continue
        return found

    return reads


def _run_loaded(
    converted: list[Any],
    loaded: list[Event],
    failures: list[str],
    on_loaded: Callable[[int], None] | None,
    engine: Any,
    found: list[list[Event]] | None = None,
    errors: dict[int, Exception] | None = None,
    *,
    every_window: bool = False,
    segments: list[Segment] | None = None,
) -> ReplayResult:
    """Load `loaded` into the engine, run every rule, and add hits already `found` (per rule, by
    a scan) and refusals already met (`errors`). `segments`: rows the engine holds already, loaded
    from export files before `loaded`."""
    segments = segments or []
    result = ReplayResult()
    result.failures = failures
    result.events = loaded
    result.event_count = len(loaded) + sum(segment.count for segment in segments)
    result.tables_with_rows = {event.table for event in loaded} | {s.table for s in segments if s.count}
    for item in converted:
        for table in dict.fromkeys((*item.table.split(","), *getattr(item, "union", ()))):
            if table:
                result.tables_read[table] = result.tables_read.get(table, 0) + 1
    offsets: dict[str, int] = {}
    for segment in segments:
        offsets[segment.table] = offsets.get(segment.table, 0) + segment.count
    hits = found or [[] for _ in converted]
    errors = dict(errors or {})
    check_readable(loaded, _reader(converted))
    by_table: dict[str, list[Event]] = {}
    for event in loaded:
        by_table.setdefault(event.table, []).append(event)
    for table, table_events in by_table.items():
        engine.load(table, (event.row for event in table_events))
        if on_loaded is not None:
            on_loaded(len(table_events))
    plans = [plan_of(c.rule) for c in converted]
    # a correlation runs on its own below; in the batch it stands as a query that matches nothing
    queries = [
        c.query if plan is None else f"{plan.tables[0]} | where false"
        for c, plan in zip(converted, plans, strict=True)
    ]
    # every query is checked by the engine, by a scan or here, even with no events of its table
    run_here = by_table or segments or found is None
    outcomes = engine.matches_many(queries) if run_here else [[] for _ in queries]
    for index, (item, outcome) in enumerate(zip(converted, outcomes, strict=True)):
        key = _rule_key(item.rule)
        if plans[index] is not None:
            _run_correlation(result, item, plans[index], loaded, engine, every_window, segments)
            continue
        error = errors.get(index) or (outcome if isinstance(outcome, Exception) else None)
        if error is not None:
            line = f"{item.path}: {key}: {error}"
            result.failures.append(line)
            if isinstance(error, ReplayUnsupportedError):
                result.not_replayed.append(line)
            continue
        table_events = by_table.get(item.table, [])
        offset = offsets.get(item.table, 0)
        rows: list[int] = outcome  # type: ignore[assignment]
        events = (
            hits[index]
            + _segment_events(engine, segments, item.table, [row for row in rows if row < offset])
            + [table_events[row - offset] for row in rows if row >= offset]
        )
        events.sort(key=lambda event: event.number)
        hit = RuleHit(key, str(item.rule.title), str(item.path), item.table, item.query, events)
        result.hits.append(hit)
        result[key] = event_ids(hit.events)
    return result


def _run_correlation(
    result: ReplayResult,
    item: Any,
    plan: Any,
    loaded: list[Event],
    engine: Any,
    every_window: bool,
    segments: list[Segment],
) -> None:
    """A correlation rule's alerts on the loaded events; its events are those its alerts list."""
    key = _rule_key(item.rule)
    try:
        if every_window:
            alerts = _window_alerts(plan, engine.alerts(plan, evidence=True))
            alerts.sort(key=lambda a: (a.window_end, [str(v) for v in a.groups.values()]))
        else:
            members: list[tuple[Alert, Any, Any]] = []
            alerts = _episodes(plan, _window_alerts(plan, engine.alerts(plan)), members)
            spans = [(a.groups, a.window_start, a.last_window_end) for a in alerts]
            if plan.chained:  # a chain's events are its referenced alerts' events, down to the base rules
                # a temporal_ordered chain: each window's earliest chain of referenced alerts
                ordered = plan.kind == "temporal_ordered"
                listed = engine.chain_events(plan, spans, ALERT_EVENTS, _windows_of(alerts, members) if ordered else None)
            else:
                listed = engine.events_between(plan.groups, spans, ALERT_EVENTS, evidence_events(plan))
            for alert, (ids, total) in zip(alerts, listed, strict=True):
                alert.event_ids, alert.event_total = ids, total
    except ValueError as error:
        result.failures.append(f"{item.path}: {key}: {error}")
        return
    behind = {event_id for alert in alerts for event_id in alert.event_ids}
    events = [event for event in loaded if event.table in plan.tables and str(event.event_id) in behind]
    for table in {segment.table for segment in segments} & set(plan.tables):
        events += _segment_events(engine, segments, table, engine.rows_with_ids(table, sorted(behind)))
    events.sort(key=lambda event: event.number)
    hit = RuleHit(key, str(item.rule.title), str(item.path), item.table, item.query, events, alerts)
    result.hits.append(hit)
    result[key] = event_ids(events)


def _window_alerts(plan: Any, rows: list[dict[str, Any]]) -> list[Alert]:
    """One alert per alerting window row (its events when the row lists them), by group and time."""
    from ..correlation import EVIDENCE, WINDOW_END, WINDOW_START

    alerts = []
    for row in sorted(rows, key=lambda r: ([str(r[g]) for g in plan.groups], r[WINDOW_END])):
        ids = row.get(EVIDENCE)
        ids = json.loads(ids) if isinstance(ids, str) else list(ids or [])
        groups = {column: row[column] for column in plan.groups}
        alerts.append(Alert(groups, row[WINDOW_START], row[WINDOW_END], row[plan.metric], sorted(ids)))
    return alerts


def _episodes(plan: Any, windows: list[Alert], members: list[tuple[Alert, Any, Any]] | None = None) -> list[Alert]:
    """Per group, each run of alerting windows (by group, then end) where every window starts
    at or before the end of the one before it, as one alert; the events of its windows, up to
    ALERT_EVENTS. `members` is given each window as (its episode, its start, its end)."""
    episodes: list[Alert] = []
    for window in windows:
        last = episodes[-1] if episodes else None
        if last is not None and not (last.groups == window.groups and window.window_start <= last.last_window_end):
            last = None  # the window starts an episode
        if members is not None:
            members.append((last if last is not None else window, window.window_start, window.window_end))
        if last is not None:
            last.last_window_start, last.last_window_end = window.window_start, window.window_end
            last.windows += 1
            last.metric = window.metric if _higher(window.metric, last.metric) else last.metric
            last.event_ids = sorted(set(last.event_ids) | set(window.event_ids))
            last.event_total = len(last.event_ids)
            continue
        episodes.append(window)
    for episode in episodes:
        episode.event_ids = episode.event_ids[:ALERT_EVENTS]
    episodes.sort(key=lambda a: (a.window_end, [str(v) for v in a.groups.values()]))
    return episodes


def _windows_of(episodes: list[Alert], members: list[tuple[Alert, Any, Any]]) -> list[tuple[int, Any, Any]]:
    """Each window of `members` as (the index of its episode in `episodes`, its start, its end)."""
    index = {id(episode): n for n, episode in enumerate(episodes)}
    return [(index[id(episode)], start, end) for episode, start, end in members]


def _higher(metric: Any, than: Any) -> bool:
    return than is None or (metric is not None and metric > than)
