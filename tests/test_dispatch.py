"""The `-t sentinel` default pipeline dispatches each rule to the source that claims it: the same
queries, refusals and warnings as every default source's pipeline applied one after the other, and
the items a rule goes through do not grow with the number of sources."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import shared_path
from sigma.collection import SigmaCollection
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.rule import SigmaLogSource
from sigma_helpers import rule_yaml
from test_sources import TOY, TOY_RULE

from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.pipelines import sentinel_default_pipeline, source_pipeline
from sigma_azure_aks.pipelines.dispatch import DispatchTransformation
from sigma_azure_aks.sources import Feature, all_sources, registered
from sigma_azure_aks.sources.base import Source

REPO = Path(__file__).resolve().parent.parent


def one_after_another() -> ProcessingPipeline:
    """Every default source's pipeline, one after the other (given as `-p`, so the target adds no
    default pipeline of its own)."""
    sources = [source for source in all_sources() if source.default and source.pipeline]
    return sum((source_pipeline(source) for source in sources), ProcessingPipeline())


def results(pipeline: ProcessingPipeline | None, texts: list[str]) -> tuple[list[Any], list[str], list[str]]:
    """(queries, refusals, warning lines) of `texts` converted together."""
    collection = SigmaCollection.from_yaml("\n---\n".join(texts), collect_errors=True)
    backend = SentinelBackend(pipeline, collect_errors=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        queries = backend.convert(collection)
    refusals = [f"{rule.title}: {error}" for rule, error in backend.errors]
    return queries, refusals, [str(warning.message) for warning in caught]


def rule_texts(*folders: Path) -> list[str]:
    return [path.read_text() for folder in folders for path in sorted(folder.rglob("*.yml"))]


UNKNOWN_LOGSOURCE = rule_yaml("sel: {a: b}\ncondition: sel", logsource="product: nowhere\n  service: at_all")
# A source only the user can choose: its rules are refused by the default pipeline, naming every
# claim it made and the pipeline that takes them.
HIDDEN = replace(TOY, default=False)


def test_dispatch_gives_what_the_sources_pipelines_give_one_after_another() -> None:
    corpus = shared_path("corpus", "sigmahq")
    texts = rule_texts(REPO / "rules", *sorted(p for p in corpus.iterdir() if p.is_dir()))
    texts += [UNKNOWN_LOGSOURCE, TOY_RULE]
    with registered(HIDDEN):
        dispatched = results(None, texts)
        sequential = results(one_after_another(), texts)
    assert dispatched == sequential
    queries, refusals, lines = dispatched
    assert len(queries) > 250 and lines  # the corpus was converted, and warned about
    assert any("no table for log source (product: toy, service: events) in the pipelines applied" in r for r in refusals)


def test_the_missing_table_message_names_every_default_claim() -> None:
    with registered(HIDDEN):
        _, [refusal], _ = results(None, [TOY_RULE])
    claimers = ", ".join(source.pipeline or "" for source in all_sources() if source.default and source.pipeline)
    assert refusal.endswith(f"in the pipelines applied ({claimers}); -p toy_events takes it")


def toy_source(number: int, features: tuple[Feature, ...] = ()) -> Source:
    table = f"Toy{number}Events"
    return replace(
        TOY,
        table=table,
        pipeline=f"toy{number}_events",
        logsources=(SigmaLogSource(product=f"toy{number}", service="events"),),
        field_map=replace(TOY.field_map, table=table),
        profile=replace(TOY.profile, table=table, data_types=(table,)),
        features=features,
    )


def items_run(text: str) -> list[str]:
    """The identifiers of the processing items whose `apply` the default target calls for one rule
    (each item once, at any depth)."""
    run: list[str] = []
    backend = SentinelBackend()
    pipeline = backend.backend_processing_pipeline
    [dispatch] = pipeline.items
    assert isinstance(dispatch.transformation, DispatchTransformation)
    for item in [dispatch, *dispatch.transformation.nested_items()]:
        item.apply = _counting(item, run)  # type: ignore[method-assign]
    backend.convert(SigmaCollection.from_yaml(text))
    return run


def _counting(item: ProcessingItem, run: list[str]) -> Any:
    apply = item.apply

    def counted(rule: Any) -> bool:
        run.append(item.identifier or "")
        return apply(rule)

    return counted


ACTIVITY_RULE = rule_yaml("sel: {operationName: x}\ncondition: sel")


def test_a_rule_runs_the_items_of_its_source_only() -> None:
    alone = items_run(ACTIVITY_RULE)
    assert alone == [
        "azure_aks_sources_by_logsource",
        "azure_aks_azure_activity_claim_table",
        "azure_aks_aks_dataplane_notice",
        "azure_aks_azure_activity_fields",
        "azure_aks_azure_activity_ActivityStatusValue_spellings",
        "azure_aks_azure_activity_refuse_stock_misrendering",
    ]
    with registered(*(toy_source(number) for number in range(20))):
        assert items_run(ACTIVITY_RULE) == alone
        toy = TOY_RULE.replace("product: toy", "product: toy7")
        assert items_run(toy) == [
            "azure_aks_sources_by_logsource",
            "azure_aks_aks_dataplane_notice",
            "azure_aks_toy7_events_claim_table",
            "azure_aks_toy7_events_fields",
            "azure_aks_toy7_events_refuse_stock_misrendering",
        ]


NOTICE = Feature("toy_notice", "looks at every rule", "aks_dataplane:DataPlaneNoticeTransformation", claimed=False)


def test_items_for_every_rule_keep_their_place_in_every_route() -> None:
    with registered(toy_source(1, features=(NOTICE,))):
        [dispatch] = sentinel_default_pipeline().items
    routes = {route.claimer: [item.identifier for item in route.items] for route in dispatch.transformation.routes}
    # After the claimer's items when its source comes first, before its claim when it comes after.
    assert routes["azure_activity"][-1] == "azure_aks_toy_notice"
    assert routes["toy1_events"][:3] == ["azure_aks_aks_dataplane_notice", "azure_aks_toy1_events_claim_table", "azure_aks_toy_notice"]
    assert [item.identifier for item in dispatch.transformation.unclaimed] == ["azure_aks_aks_dataplane_notice", "azure_aks_toy_notice"]


@pytest.mark.parametrize("combined", [False, True])
def test_the_dispatch_survives_the_targets_pipeline_combination(combined: bool) -> None:
    """pySigma adds the target's pipeline to the user's and the output format's, clearing and setting
    every item's pipeline: the items the dispatch holds follow."""
    pipeline = sentinel_default_pipeline()
    if combined:
        pipeline = pipeline + ProcessingPipeline()
    [dispatch] = pipeline.items
    assert all(item._pipeline is pipeline for item in dispatch.transformation.nested_items())
