"""Every source's schema (columns and their Log Analytics types, in order) is Microsoft's table
reference, as transcribed in ../shared/reference/tables/<Table>.json: a column added, dropped,
renamed or retyped by hand in a source file fails here. Skipped when the shared folder is absent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import shared_path

from sigma_azure_aks.sources import all_sources

# Tables no reference file describes, with the reason. AzureDiagnostics is the shared resource-log
# table: its columns depend on the resources that write to it, and the legacy kube-audit source
# declares only the ones its route reads.
UNREFERENCED = {"AzureDiagnostics": "shared resource-log table; the source declares only the kube-audit columns"}


def _reference(table: str) -> list[tuple[str, str]]:
    document: dict[str, Any] = json.loads(
        shared_path("reference", "tables", f"{table}.json").read_text(encoding="utf-8")
    )
    assert document["Name"] == table
    return [(column["Name"], column["Type"]) for column in document["Properties"]]


@pytest.mark.parametrize(
    "source",
    [s for s in all_sources() if s.table not in UNREFERENCED],
    ids=lambda s: s.table,
)
def test_schema_is_the_table_reference(source: Any) -> None:
    reference = _reference(source.table)
    declared = list(source.schema.items())
    missing = [column for column in reference if column not in declared]
    extra = [column for column in declared if column not in reference]
    assert (missing, extra) == ([], []), f"{source.table}: not in the source {missing}; not in the reference {extra}"
    assert declared == reference, f"{source.table}: the columns are in another order than the reference"


def test_unreferenced_tables_are_declared_sources_without_a_reference() -> None:
    base = shared_path("reference", "tables")
    tables = {source.table for source in all_sources()}
    assert set(UNREFERENCED) <= tables
    assert [t for t in UNREFERENCED if (base / f"{t}.json").exists()] == []
