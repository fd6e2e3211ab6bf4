"""Every log source of the package, in one list, and the look-ups the rest of the package uses.

Adding a table is one file in this package plus one line in :data:`SOURCES`. A test registers a
source of its own with :func:`registered`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from sigma.rule import SigmaLogSource

from . import (
    aks_audit,
    aws_cloudtrail,
    azure_activity,
    cisco_duo,
    entra_auditlogs,
    entra_riskdetection,
    entra_signinlogs,
    gcp_audit,
    gcp_workspace,
    github,
    github_legacy,
    m365_audit,
    okta,
    okta_legacy,
    onelogin,
)
from .base import Source, describe_logsource
from .connectors import CONNECTOR_DATA_TYPES

SOURCES: list[Source] = [
    azure_activity.SOURCE,
    *aks_audit.SOURCES,
    entra_auditlogs.SOURCE,
    *entra_signinlogs.SOURCES,
    entra_riskdetection.SOURCE,
    m365_audit.SOURCE,
    aws_cloudtrail.SOURCE,
    gcp_audit.SOURCE,
    # SaaS identity and code platforms (their Sentinel connectors' tables)
    okta.SOURCE,
    okta_legacy.SOURCE,
    github.SOURCE,
    github_legacy.SOURCE,
    onelogin.SOURCE,
    cisco_duo.SOURCE,
    # Google Workspace (the Reports API activities the Google Workspace connector writes)
    gcp_workspace.SOURCE,
]


def all_sources() -> tuple[Source, ...]:
    return tuple(SOURCES)


_BY_TABLE: dict[str, Source] = {}  # the first source of each table; emptied when SOURCES changes


def source_for_table(table: str | None) -> Source | None:
    if not _BY_TABLE:
        for source in SOURCES:
            _BY_TABLE.setdefault(source.table, source)
    return _BY_TABLE.get(table) if table is not None else None


def union_tables(table: str | None, claimer: str | None) -> tuple[str, ...]:
    """The tables a query searches beside `table`: the source's union tables when the rule was
    claimed by its union pipeline (e.g. `azure_signinlogs_all`), else none."""
    source = source_for_table(table)
    if source is None or claimer is None or claimer != source.union_pipeline:
        return ()
    return source.union


def source_for_pipeline(pipeline: str) -> Source | None:
    return next((source for source in SOURCES if pipeline in (source.pipeline, source.union_pipeline)), None)


def table_names() -> tuple[str, ...]:
    return tuple(source.table for source in SOURCES)


class _Tables(Mapping[str, Mapping[str, str]]):
    """Table name -> {column: Log Analytics type}, read from the registry as it is now."""

    def __getitem__(self, table: str) -> Mapping[str, str]:
        source = source_for_table(table)
        if source is None:
            raise KeyError(table)
        return source.schema

    def __iter__(self) -> Iterator[str]:
        return iter(table_names())

    def __len__(self) -> int:
        return len(SOURCES)


TABLES: Mapping[str, Mapping[str, str]] = _Tables()


def columns(table: str) -> Mapping[str, str]:
    """Columns of a known table; KeyError names the known tables."""
    source = source_for_table(table)
    if source is None:
        raise KeyError(f"unknown table {table!r}; known tables: {', '.join(sorted(table_names()))}")
    return source.schema


def schema_text(table: str) -> str:
    """The table's schema in Kusto's `(col:type, ...)` notation."""
    columns(table)
    source = source_for_table(table)
    assert source is not None
    return source.schema_text()


def supported_logsources() -> list[str]:
    """The Sigma log sources some source answers, described once each, for messages."""
    seen: list[str] = []
    for source in SOURCES:
        for logsource in source.logsources:
            text = describe_logsource(logsource)
            if text not in seen:
                seen.append(text)
    return seen


def refusals() -> list[tuple[SigmaLogSource, str]]:
    """Log sources no table holds, with the reason their rules are refused."""
    return [(refusal.logsource, refusal.reason) for source in SOURCES for refusal in source.refused]


def sources_for_logsource(logsource: SigmaLogSource) -> list[Source]:
    return [s for s in SOURCES if any(logsource in candidate for candidate in s.logsources)]


def problems() -> list[str]:
    """Every inconsistency between the sources' facts (the tests require none)."""
    found = [problem for source in SOURCES for problem in source.problems()]
    tables = table_names()
    found += [f"table {t!r} is declared twice" for t in set(tables) if tables.count(t) > 1]
    pipelines = [p for s in SOURCES for p in (s.pipeline, s.union_pipeline) if p]
    pipelines += [built.pipeline for s in SOURCES for built in s.built_pipelines]
    known = set(tables)
    found += [f"{s.table}: its union names {t!r}, not a declared table" for s in SOURCES for t in s.union if t not in known]
    found += [f"pipeline {p!r} is declared twice" for p in set(pipelines) if pipelines.count(p) > 1]
    found += [problem for source in SOURCES for problem in connector_problems(source)]
    return found


def connector_problems(source: Source) -> list[str]:
    """A source's analytics profile against Sentinel's connectors (`sentinel_facts`): a known
    connector id, and only data types that connector declares."""
    if source.profile is None:
        return []
    connector = source.profile.connector_id
    declared = CONNECTOR_DATA_TYPES.get(connector)
    if declared is None:
        return [f"{source.table}: analytics connector {connector!r} is not a known Sentinel connector "
                f"(known: {', '.join(sorted(CONNECTOR_DATA_TYPES))})"]
    found = [f"{source.table}: analytics connector {connector!r} declares no data type {t!r}"
             for t in source.profile.data_types if t not in declared]
    if not source.profile.data_types:
        found.append(f"{source.table}: analytics connector {connector!r} is named with no data type")
    return found


@contextlib.contextmanager
def registered(*sources: Source) -> Iterator[None]:
    """Sources added to the registry for the duration of a `with` block (tests, experiments)."""
    added = [source for source in sources if source not in SOURCES]
    SOURCES.extend(added)
    _BY_TABLE.clear()
    try:
        yield
    finally:
        for source in added:
            SOURCES.remove(source)
        _BY_TABLE.clear()

