"""Processing pipelines (factories with no required arguments that never raise), one per pipeline
id the registry's sources declare, built from the source's facts: its plain pipeline (`pipeline`),
its union pipeline (`union_pipeline`) and the pipelines built by code of their own
(`built_pipelines`). Each factory is named `<id>_pipeline`, as sigma-cli lists it.

Every pipeline claims the rules of its log sources for one table and leaves all other rules
untouched, so it composes with other pipelines, including pySigma-backend-kusto's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline, QueryPostprocessingItem

from ..sources import (
    Source,
    all_sources,
    refusals,
    source_for_pipeline,
    source_for_table,
    supported_logsources,
)
from .state import ITEM_PREFIX, PRIORITY

# The items and transformations are imported when a pipeline is built, not with this module:
# sigma-cli imports the discovery leaves (which list these factories) on every command.
NAME_SUFFIX = "(sigma_azure_aks)"


def source_pipeline(source: Source, union: bool = False) -> ProcessingPipeline:
    """A source's pipeline: its log sources' rules -> its table (`union`: its table and the tables
    of its union, searched as one)."""
    from .items import source_items, source_postprocessing_items

    tables = " + ".join((source.table, *source.union)) if union else source.table
    return ProcessingPipeline(
        name=f"{source.title} to Microsoft Sentinel {tables} {NAME_SUFFIX}",
        priority=PRIORITY,
        items=source_items(source, union),
        postprocessing_items=source_postprocessing_items(source, union),
    )


def _sibling(source: Source, table: str | None) -> Source:
    """The source of `table` when it answers the same log sources as `source` and has a pipeline
    (`aks_audit_pipeline(table="AKSAuditAdmin")`); else `source` itself."""
    other = source_for_table(table) if table else None
    if other is None or other.pipeline is None or other.logsources != source.logsources:
        return source
    return other


def _built_pipeline(pipeline_id: str) -> Callable[[], ProcessingPipeline] | None:
    """The function that builds a pipeline a source declares in `built_pipelines`, or None."""
    for source in all_sources():
        for built in source.built_pipelines:
            if built.pipeline == pipeline_id:
                from .items import behaviour

                return behaviour(built.factory)
    return None


@functools.cache
def pipeline_factory(pipeline_id: str) -> Callable[..., ProcessingPipeline]:
    """The factory `<pipeline_id>_pipeline`, looked up in the registry when called (the same
    function on every call, so that sigma-cli sees one object per id).

    `table` picks another source answering the same log sources (an unknown or unrelated table
    is ignored: factories never raise)."""

    def factory(table: str | None = None) -> ProcessingPipeline:
        built = _built_pipeline(pipeline_id)
        if built is not None:
            return built()
        source = source_for_pipeline(pipeline_id)
        if source is None:
            return ProcessingPipeline()
        if pipeline_id == source.union_pipeline:
            return source_pipeline(source, union=True)
        return source_pipeline(_sibling(source, table))

    factory.__name__ = f"{pipeline_id}_pipeline"
    factory.__qualname__ = factory.__name__
    factory.__doc__ = f"The `{pipeline_id}` pipeline (see docs/sources.md)."
    return factory


def pipeline_ids() -> list[str]:
    """Every pipeline id the registry's sources declare: the plain pipelines in registry order, then
    the union pipelines, then the built ones."""
    sources = all_sources()
    declared = [s.pipeline for s in sources] + [s.union_pipeline for s in sources]
    declared += [built.pipeline for s in sources for built in s.built_pipelines]
    return list(dict.fromkeys(p for p in declared if p))


def all_pipelines() -> dict[str, Callable[..., ProcessingPipeline]]:
    """Pipeline id -> factory, for every source in the registry now."""
    return {pipeline_id: pipeline_factory(pipeline_id) for pipeline_id in pipeline_ids()}


def named_pipelines() -> dict[str, Callable[..., ProcessingPipeline]]:
    """`<id>_pipeline` -> factory, for every pipeline of the registry now (the public names)."""
    return {factory.__name__: factory for factory in all_pipelines().values()}


def sentinel_default_pipeline() -> ProcessingPipeline:
    """What `-t sentinel` applies when the user gives none of our pipelines: the pipelines of the
    sources marked default, each claiming only its own log sources.

    Its processing is one item that sends each rule through the items of the source claiming it
    (`items.dispatch_item`), so a rule's cost does not grow with the number of sources; the result
    is that of the sources' pipelines applied one after the other."""
    from .items import dispatch_item, source_postprocessing_items

    sources = [source for source in all_sources() if source.default and source.pipeline]
    postprocessing = [item for source in sources for item in source_postprocessing_items(source)]
    # Each source's pipeline ends with the same table prepend; a prepend right after another finds
    # the table written already, so one of a run of them does the same for every query.
    return ProcessingPipeline(
        name=f"Every default source to its Microsoft Sentinel table, by log source {NAME_SUFFIX}",
        priority=PRIORITY,
        items=[dispatch_item(sources)],
        postprocessing_items=[
            item
            for index, item in enumerate(postprocessing)
            if not (index and _same_prepend(postprocessing[index - 1], item))
        ],
    )


def _same_prepend(previous: QueryPostprocessingItem, item: QueryPostprocessingItem) -> bool:
    from .transformations import PrependTableTransformation

    return (
        previous.identifier == item.identifier
        and type(previous.transformation) is type(item.transformation) is PrependTableTransformation
        and not previous.rule_conditions
        and not item.rule_conditions
    )


def require_table_pipeline() -> ProcessingPipeline:
    """Appended last by `-t sentinel`: a rule no pipeline gave a table is an error, not a query."""
    from .transformations import RequireTableTransformation

    return ProcessingPipeline(
        name="sigma_azure_aks: every rule needs a table",
        items=[
            ProcessingItem(
                identifier=f"{ITEM_PREFIX}require_table",
                transformation=RequireTableTransformation(supported_logsources(), refusals()),
            )
        ],
    )
