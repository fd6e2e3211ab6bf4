"""The registry of log sources: consistent facts, and a new source is one declaration.

A toy source (a tiny table with two fields) registered here gets a pipeline, conversions, an
analytics rule, a docs entry and replay ids with no other edit anywhere in the package.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from sigma.collection import SigmaCollection
from sigma.rule import SigmaLogSource

from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.batch import resolve_pipelines
from sigma_azure_aks.pipelines import all_pipelines
from sigma_azure_aks.sources import (
    AnalyticsProfile,
    EntityMappingSpec,
    FieldMap,
    FieldTarget,
    Source,
    all_sources,
    problems,
    registered,
    table_names,
)

PACKAGE = Path(__file__).resolve().parent.parent / "sigma_azure_aks"

TOY = Source(
    table="ToyEvents",
    title="Toy events",
    schema={"TimeGenerated": "datetime", "EventId": "string", "Actor": "string", "Action": "string"},
    logsources=(SigmaLogSource(product="toy", service="events"),),
    pipeline="toy_events",
    field_map=FieldMap(
        "ToyEvents",
        exact={"actor": FieldTarget("Actor"), "action": FieldTarget("Action"), "id": FieldTarget("EventId")},
    ),
    default=True,
    id_column="EventId",
    summary_columns=("TimeGenerated", "Action"),
    row_markers=("EventId",),
    profile=AnalyticsProfile(
        table="ToyEvents",
        extend=(),
        entity_mappings=(EntityMappingSpec("Account", (("Name", "Actor"),)),),
        custom_details=(("Action", "Action"),),
        alert_display_name_format="{{Action}} by {{Actor}}",
        connector_id="ToyConnector",
        data_types=("ToyEvents",),
    ),
)

TOY_RULE = """
title: Toy deletions
id: 0f3e1d2c-0000-4000-8000-00000000beef
status: test
author: pySigma-pipeline-azure
level: high
tags: [attack.impact]
logsource:
  product: toy
  service: events
detection:
  sel:
    action: delete
  filter:
    actor: 'svc-*'
  condition: sel and not filter
"""
TOY_QUERY = 'ToyEvents\n| where Action =~ "delete" and (not(Actor startswith "svc-"))'


def test_registry_facts_are_consistent() -> None:
    assert problems() == []


@pytest.mark.parametrize(
    ("connector", "data_types", "problem"),
    [
        ("ToyConnector", ("ToyEvents",), "ToyEvents: analytics connector 'ToyConnector' is not a known Sentinel connector"),
        ("AzureActivity", ("ToyEvents",), "ToyEvents: analytics connector 'AzureActivity' declares no data type 'ToyEvents'"),
        ("AzureActivity", (), "ToyEvents: analytics connector 'AzureActivity' is named with no data type"),
        ("AzureActivity", ("AzureActivity",), None),
    ],
)
def test_registry_checks_connectors_and_data_types(connector: str, data_types: tuple[str, ...], problem: str | None) -> None:
    from dataclasses import replace

    toy = replace(TOY, profile=replace(TOY.profile, connector_id=connector, data_types=data_types))
    with registered(toy):
        found = problems()
    assert [line[: len(problem or "")] for line in found] == ([problem] if problem else []), found


def test_toy_source_pipeline_and_conversion() -> None:
    assert "toy_events" not in all_pipelines()
    with registered(TOY):
        assert "toy_events" in all_pipelines()
        # -t sentinel alone applies it (default source) ...
        assert SentinelBackend().convert(SigmaCollection.from_yaml(TOY_RULE)) == [TOY_QUERY]
        # ... and so does -p with its id.
        backend = SentinelBackend(resolve_pipelines(["toy_events"]))
        assert backend.convert(SigmaCollection.from_yaml(TOY_RULE)) == [TOY_QUERY]
    assert "ToyEvents" not in table_names()


def test_toy_source_features_and_preamble_are_its_declarations() -> None:
    """A feature declared by a source adds its item (named by the feature, built from the module
    it names); a preamble replaces the table before the condition."""
    from dataclasses import replace

    from sigma_azure_aks.pipelines import source_pipeline
    from sigma_azure_aks.sources.aks_audit import ADMIN_VERBS
    from sigma_azure_aks.sources.azure_activity import DATAPLANE_NOTICE

    toy = replace(TOY, features=(DATAPLANE_NOTICE, ADMIN_VERBS), preamble='ToyEvents\n| where Kind == "toy"')
    pipeline = source_pipeline(toy)
    ids = [item.identifier for item in pipeline.items]
    assert ids[:3] == [
        "azure_aks_toy_events_claim_table",
        "azure_aks_aks_dataplane_notice",
        "azure_aks_toy_events_verbs",
    ]
    assert type(pipeline.items[2].transformation).__name__ == "AdminVerbsTransformation"
    assert [item.identifier for item in pipeline.postprocessing_items][0] == "azure_aks_toy_events_preamble"
    [query] = SentinelBackend(pipeline).convert(SigmaCollection.from_yaml(TOY_RULE))
    assert query == 'ToyEvents\n| where Kind == "toy"\n| where ' + TOY_QUERY.partition("| where ")[2]


def test_pipeline_factories_are_generated_from_the_registry() -> None:
    import sigma_azure_aks.pipelines as package
    from sigma_azure_aks.pipelines import named_pipelines

    ids = list(all_pipelines())
    assert {f"{i}_pipeline" for i in ids} <= set(package.__all__)
    for pipeline_id, factory in all_pipelines().items():
        assert factory.__name__ == f"{pipeline_id}_pipeline"
        assert getattr(package, factory.__name__) is factory  # one object per id, as sigma-cli sees it
    with registered(TOY):
        factory = named_pipelines()["toy_events_pipeline"]
        assert factory is all_pipelines()["toy_events"]
        assert SentinelBackend(factory()).convert(SigmaCollection.from_yaml(TOY_RULE)) == [TOY_QUERY]
    # a factory picks another table of the same log sources, and never raises on an unknown one
    assert package.aks_audit_pipeline(table="AKSAuditAdmin").name.startswith("Kubernetes audit to Microsoft Sentinel AKSAuditAdmin")
    assert package.aks_audit_pipeline(table="NoSuchTable").name == package.aks_audit_pipeline().name
    assert package.aks_audit_pipeline(table="AzureActivity").name == package.aks_audit_pipeline().name


def test_discovery_leaf_lists_every_factory_once() -> None:
    import sigma.pipelines.azure_aks as leaf

    # (the leaf lists the registry as it was when first imported: a test may have added a toy)
    assert all(leaf.pipelines[i]().name == factory().name for i, factory in all_pipelines().items())
    assert all(leaf.pipelines[i].__name__ == factory.__name__ for i, factory in all_pipelines().items())
    assert leaf.__all__ == [factory.__name__ for factory in leaf.pipelines.values()]
    assert all(getattr(leaf, name) is leaf.pipelines[name.removesuffix("_pipeline")] for name in leaf.__all__)


def test_toy_source_field_errors_name_its_fields() -> None:
    rule = TOY_RULE.replace("action: delete", "verb: delete")
    with registered(TOY), pytest.raises(Exception, match="field 'verb' has no ToyEvents column") as error:
        SentinelBackend().convert(SigmaCollection.from_yaml(rule))
    assert error.value.details == "ToyEvents accepts: action, actor, id"


def test_toy_source_analytics_rule() -> None:
    with registered(TOY):
        [arm] = [json.loads(SentinelBackend().convert(SigmaCollection.from_yaml(TOY_RULE), "arm"))]
    properties = arm["resources"][0]["properties"]
    # the analytics rule reads one run's slice of ingestion (docs/formats.md, Schedule)
    assert properties["query"] == TOY_QUERY.replace("\n", "\n| where ingestion_time() > ago(1h)\n", 1)
    assert properties["entityMappings"] == [
        {"entityType": "Account", "fieldMappings": [{"identifier": "Name", "columnName": "Actor"}]}
    ]
    assert properties["tactics"] == ["Impact"]


def test_toy_source_replay_ids() -> None:
    pytest.importorskip("duckdb_kql", reason="replay engine (duckdb-kql) not installed")
    from sigma_azure_aks.replay import replay

    rows = [
        {"EventId": "e1", "TimeGenerated": "2026-01-01T00:00:00Z", "Actor": "alice", "Action": "delete"},
        {"EventId": "e2", "TimeGenerated": "2026-01-01T00:00:01Z", "Actor": "svc-backup", "Action": "delete"},
        {"EventId": "e3", "TimeGenerated": "2026-01-01T00:00:02Z", "Actor": "bob", "Action": "read"},
    ]
    with registered(TOY):
        result = replay(TOY_RULE, rows)
    assert not result.failures, result.failures
    assert result.get("0f3e1d2c-0000-4000-8000-00000000beef") == ["e1"]


def test_toy_source_raw_records_are_not_scanned_as_an_export(tmp_path: Path) -> None:
    """The native export load asks the sources' raw-record readers which keys mark a raw record."""
    pytest.importorskip("duckdb_kql", reason="replay engine (duckdb-kql) not installed")
    from dataclasses import replace

    from sigma_azure_aks.replay.engine import Engine
    from sigma_azure_aks.sources import RawRecordReader

    rows = tmp_path / "toy.jsonl"
    rows.write_text(
        json.dumps({"$table": "ToyEvents", "EventId": "e1", "Action": "delete", "toyRecord": 1}) + "\n"
    )
    query = 'ToyEvents\n| where Action =~ "delete"'
    reader = RawRecordReader("a toy record", lambda r: "toyRecord" in r, dict, frozenset({"toyRecord"}), dict)
    with registered(TOY):
        scanned = Engine().scan_export(rows, [query], ["EventId"])
    with registered(replace(TOY, raw_records=(reader,))):
        declined = Engine().scan_export(rows, [query], ["EventId"])
    assert scanned is not None and scanned.matches == [[0]]
    assert declined is None


def test_toy_source_in_docs_page() -> None:
    import importlib.util

    path = PACKAGE.parent / "docs" / "pages" / "sources.py"
    spec = importlib.util.spec_from_file_location("docs_page_sources", path)
    page = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(page)
    with registered(TOY):
        text = page.render()
    assert "| `ToyEvents` | product: toy, service: events | `toy_events` | yes | `EventId` |" in text


def test_list_valued_fields_come_from_the_field_map_declarations() -> None:
    from dataclasses import replace

    from sigma_azure_aks.sources import Structure

    field_map = replace(
        TOY.field_map,
        exact={**TOY.field_map.exact, "tags": FieldTarget("Tags"), "owner": FieldTarget("Owner", ("name",))},
        arrays=frozenset({("Tags", ())}),
        structures=(Structure("Owner", kind="object"),),
    )
    toy = replace(TOY, schema={**TOY.schema, "Tags": "dynamic", "Owner": "dynamic"}, field_map=field_map)
    assert [toy.is_list_valued(name) for name in ("tags", "owner", "actor", "nosuchfield")] == [
        True,
        False,
        False,
        False,
    ]
    assert not TOY.is_list_valued("actor")


# ---- the shape of the package ----------------------------------------------------------------------
def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_table_name_literal_outside_its_source_file() -> None:
    tables = {source.table for source in all_sources()}
    found = []
    for path in _modules():
        if path.parent.name == "sources" and path.name not in {"base.py", "registry.py", "__init__.py"}:
            continue
        if path.name == "sentinel_facts.py":  # Sentinel's data type names, some spelled as tables
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in tables:
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value!r}")
    assert found == []



def _particular_names() -> tuple[set[str], set[str]]:
    """(names of particular sources: tables, pipeline ids, source and behaviour modules; the files
    that may name them: the source files, the registry, the behaviour modules, Sentinel's facts)."""
    source_modules = {p.stem for p in (PACKAGE / "sources").glob("*.py")} - {
        "__init__", "base", "shapes", "raw_records", "registry", "features", "json_text", "nearest"
    }
    references = [f.transformation for s in all_sources() for f in s.features]
    references += [b.factory for s in all_sources() for b in s.built_pipelines]
    behaviour_modules = {reference.partition(":")[0] for reference in references}
    names = {s.table for s in all_sources()} | source_modules | behaviour_modules
    names |= {p for s in all_sources() for p in (s.pipeline, s.union_pipeline, *(b.pipeline for b in s.built_pipelines)) if p}
    allowed = {f"sources/{m}.py" for m in source_modules} | {f"pipelines/{m}.py" for m in behaviour_modules}
    # a behaviour's own helper modules carry its name as their prefix (pipelines/aks_dataplane_analysis.py)
    allowed |= {
        f"pipelines/{p.name}" for p in (PACKAGE / "pipelines").glob("*_*.py")
        if any(p.stem.startswith(f"{m}_") for m in behaviour_modules)
    }
    allowed |= {"sources/registry.py", "analytics/sentinel_facts.py"}  # the list; connector data types
    return names, allowed


def test_no_generic_module_names_a_particular_source() -> None:
    """A source's facts live in its file and its behaviours in their modules: no other module names
    a table, a pipeline id or a source's module in code (docstrings and comments may give examples)."""
    names, allowed = _particular_names()
    word = re.compile(r"\b(" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")\b")
    found = []
    for path in _modules():
        where = str(path.relative_to(PACKAGE))
        if where in allowed:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                texts = [node.value]
            elif isinstance(node, ast.ImportFrom):
                texts = [(node.module or "").rpartition(".")[2], *(alias.name for alias in node.names)]
            elif isinstance(node, ast.Name):
                texts = [node.id]
            elif isinstance(node, ast.Attribute):
                texts = [node.attr]
            else:
                continue
            found += [f"{where}:{node.lineno}: {m}" for text in texts for m in word.findall(text) if m in names]
    assert found == []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_over_500_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 500, f"{path.relative_to(PACKAGE)} has {lines} lines; split it by concern"
