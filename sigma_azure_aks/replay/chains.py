"""The events behind a chained correlation's alerts (:func:`chain_events`), found from the
temporary tables its query left (:meth:`.engine.Engine.alerts`): each level's windows reached
from the level above, down to the base rules' events, without pairing an event with every window
that holds it; a temporal_ordered level by each window's earliest chain (as-of joins)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def chain_events(
    con: Any,
    plan: Any,
    spans: Sequence[tuple[Mapping[str, Any], Any, Any]],
    cap: int,
    windows: Sequence[tuple[int, Any, Any]] | None = None,
) -> list[tuple[list[str], int]]:
    """:meth:`.engine.Engine.events_between` for a chained correlation: for each (group keys,
    first time, last time) of the last run (:meth:`.engine.Engine.alerts`), the events of the
    referenced alerts ending in that range, and theirs in turn, down to the base rules' events
    (of a referenced temporal_ordered alert, its window's earliest chain). Each level's ranges
    are merged per span and group first, so that no event is paired with many overlapping
    windows. A temporal_ordered plan lists its alerting `windows` (each: the index of its span,
    its start, its end) instead: each window's earliest chain, as the evidence form does, found
    for every window at once."""
    if not spans:
        return []
    if windows is None:
        reach = [(n, keys, low, high) for n, (keys, low, high) in enumerate(spans)]
    else:
        reach = [(n, spans[n][0], low, high) for n, low, high in windows]
    columns = ["sigma_span", *plan.groups, "sigma_low", "sigma_high"]
    values = [
        [n for n, _, _, _ in reach],
        *([str(keys[g]) for _, keys, _, _ in reach] for g in plan.groups),
        [low for _, _, low, _ in reach],
        [high for _, _, _, high in reach],
    ]
    selected = ", ".join(f'unnest(${n + 1}) AS "{c}"' for n, c in enumerate(columns))
    con.execute(f"CREATE OR REPLACE TEMP TABLE sigma_reach AS SELECT {selected}", values)
    parts: list[str] = []
    if windows is None:
        _reach(con, plan, "", "sigma_reach", parts)
    else:
        _earliest_chains(con, plan, "", "sigma_reach", parts)
    rows = con.execute(
        "SELECT sigma_span, list(sigma_event ORDER BY sigma_time, sigma_event) FILTER (WHERE sigma_rank <= ?), "
        "count(*) FROM (SELECT sigma_span, sigma_event, sigma_time, row_number() OVER "
        "(PARTITION BY sigma_span ORDER BY sigma_time, sigma_event) AS sigma_rank FROM "
        "(SELECT sigma_span, sigma_event, min(sigma_time) AS sigma_time FROM ("
        + " UNION ALL ".join(parts)
        + ") GROUP BY sigma_span, sigma_event)) GROUP BY sigma_span",
        [cap],
    ).fetchall()
    found = {span: (list(ids or []), total) for span, ids, total in rows}
    return [found.get(n, ([], 0)) for n in range(len(spans))]


def _reach(con: Any, plan: Any, suffix: str, reach: str, parts: list[str]) -> None:
    """Add to `parts` the SELECTs of (sigma_span, sigma_event, sigma_time) of the events behind
    the windows of `plan` (its `let` names end in `suffix`) listed in the table `reach`
    (sigma_span, the plan's group columns, sigma_low, sigma_high)."""
    from ..correlation import ChildSource
    from ..correlation_windows import evidence_events

    groups = [f'"{g}"' for g in plan.groups]
    within = ", ".join(["sigma_span", *groups])
    merged = f"{reach}_merged"
    con.execute(
        f'CREATE OR REPLACE TEMP TABLE "{merged}" AS SELECT {within}, min(sigma_low) AS sigma_low, '
        f"max(sigma_high) AS sigma_high FROM (SELECT *, sum(sigma_new) OVER (PARTITION BY {within} ORDER BY "
        "sigma_low, sigma_high ROWS UNBOUNDED PRECEDING) AS sigma_island FROM (SELECT *, CASE WHEN sigma_low <= "
        f"max(sigma_high) OVER (PARTITION BY {within} ORDER BY sigma_low, sigma_high ROWS BETWEEN UNBOUNDED "
        f'PRECEDING AND 1 PRECEDING) THEN 0 ELSE 1 END AS sigma_new FROM "{reach}")) '
        f"GROUP BY {within}, sigma_island"
    )
    on = "".join(f" AND e.{g} = m.{g}" for g in groups)
    labels = [s.label for s in plan.sources if not isinstance(s, ChildSource)]
    if labels:
        rule = " AND e.sigma_rule IN (SELECT unnest(?))" if len(labels) < len(plan.sources) else ""
        select = (
            f'SELECT m.sigma_span, e.sigma_event, e.sigma_time FROM "{merged}" m JOIN '
            f'"{evidence_events(plan, suffix)}" e ON e.sigma_time BETWEEN m.sigma_low AND m.sigma_high{on}'
        )
        con.execute(f'CREATE OR REPLACE TEMP TABLE "{reach}_found" AS {select}{rule}', [labels] if rule else [])
        parts.append(f'SELECT * FROM "{reach}_found"')
    for index, source in enumerate(plan.sources):
        if not isinstance(source, ChildSource):
            continue
        child = source.plan
        alerts = f"sigma_alerts{suffix}_{index + 1}"
        matched = "".join(f' AND a."{theirs}" = m."{ours}"' for ours, theirs in source.groups)
        child_groups = "".join(f'a."{g}", ' for g in child.groups)
        deeper = f"{reach}_{index + 1}"
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{deeper}" AS SELECT m.sigma_span, {child_groups}'
            f'a.window_start AS sigma_low, a.window_end AS sigma_high FROM "{merged}" m JOIN "{alerts}" a '
            f"ON a.window_end BETWEEN m.sigma_low AND m.sigma_high{matched}"
        )
        if child.kind == "temporal_ordered":  # an alert's events are its window's earliest chain
            _earliest_chains(con, child, f"{suffix}_{index + 1}", deeper, parts)
        else:
            _reach(con, child, f"{suffix}_{index + 1}", deeper, parts)


def _earliest_chains(con: Any, plan: Any, suffix: str, windows: str, parts: list[str]) -> None:
    """Add to `parts` the SELECTs of (sigma_span, sigma_event, sigma_time) of the earliest chain
    of each window of a temporal_ordered plan (the table `windows`: sigma_span, the plan's
    group columns, sigma_low, sigma_high): the earliest time of the first source in the window,
    then of each next source strictly after the one before (an as-of join each: n log n), as
    the evidence form chooses them (:func:`ordered_evidence`). A rule's step lists its events
    at its time; a referenced correlation's step, its alerts ending at that time, each with
    its own events in turn (:func:`_reach`, or their earliest chains)."""
    from ..correlation import ChildSource

    groups = [f'"{g}"' for g in plan.groups]
    on = "".join(f" AND w.{g} = t.{g}" for g in groups)
    events = f"sigma_events{suffix}"
    step, found = windows, []
    for index, source in enumerate(plan.sources):
        times, chained = f"{windows}_times{index}", f"{windows}_chain{index}"
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{times}" AS SELECT DISTINCT {"".join(g + ", " for g in groups)}'
            f'sigma_time FROM "{events}" WHERE sigma_rule = ?',
            [source.label],
        )
        after = "w.sigma_low <= t.sigma_time" if index == 0 else "w.sigma_at < t.sigma_time"
        kept = "w.* EXCLUDE (sigma_at)" if index else "w.*"
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{chained}" AS SELECT {kept}, t.sigma_time AS sigma_at, '
            f'? AS sigma_rule{index} FROM "{step}" w ASOF JOIN "{times}" t ON {after}{on} '
            "WHERE t.sigma_time <= w.sigma_high",
            [source.label],
        )
        found.append((chained, index, source))
        step = chained
    # a step counts where its window's chain is complete (the last step found it)
    complete = (
        f'EXISTS (SELECT 1 FROM "{step}" f WHERE f.sigma_span = w.sigma_span AND f.sigma_low = w.sigma_low'
        f"{''.join(f' AND f.{g} = w.{g}' for g in groups)})"
    )
    on_events = "".join(f" AND e.{g} = w.{g}" for g in groups)
    for chained, index, source in found:
        if not isinstance(source, ChildSource):
            parts.append(
                f'SELECT w.sigma_span, e.sigma_event, e.sigma_time FROM "{chained}" w JOIN "{events}" e '
                f"ON e.sigma_rule = w.sigma_rule{index} AND e.sigma_time = w.sigma_at{on_events} "
                f"WHERE {complete}"
            )
            continue
        child, deeper = source.plan, f"{windows}_{index + 1}"
        matched = "".join(f' AND a."{theirs}" = w."{ours}"' for ours, theirs in source.groups)
        child_groups = "".join(f'a."{g}", ' for g in child.groups)
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE "{deeper}" AS SELECT DISTINCT w.sigma_span, {child_groups}'
            f'a.window_start AS sigma_low, a.window_end AS sigma_high FROM "{chained}" w JOIN '
            f'"sigma_alerts{suffix}_{index + 1}" a ON a.window_end = w.sigma_at{matched} WHERE {complete}'
        )
        if child.kind == "temporal_ordered":
            _earliest_chains(con, child, f"{suffix}_{index + 1}", deeper, parts)
        else:
            _reach(con, child, f"{suffix}_{index + 1}", deeper, parts)
