"""Processing pipelines (factories with no required arguments that never raise), one per source
that declares a pipeline id, built from the source's facts; plus `aks_dataplane`, which reads two.

Every pipeline claims the rules of its log sources for one table and leaves all other rules
untouched, so it composes with other pipelines, including pySigma-backend-kusto's.
"""

from __future__ import annotations

from collections.abc import Callable

from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline, QueryPostprocessingItem

from ..sources import (
    Source,
    aks_audit,
    all_sources,
    azure_activity,
    refusals,
    source_for_pipeline,
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


def pipeline_factory(pipeline_id: str) -> Callable[[], ProcessingPipeline]:
    """A factory with no arguments for a source's pipeline (or union pipeline), looked up when called."""

    def factory() -> ProcessingPipeline:
        source = source_for_pipeline(pipeline_id)
        if source is None:
            return ProcessingPipeline()
        return source_pipeline(source, union=pipeline_id == source.union_pipeline)

    factory.__name__ = f"{pipeline_id}_pipeline"
    factory.__qualname__ = factory.__name__
    factory.__doc__ = f"The `{pipeline_id}` pipeline."
    return factory


def azure_activity_pipeline() -> ProcessingPipeline:
    """Sigma azure/activitylogs rules -> AzureActivity, with both field dialects."""
    return source_pipeline(azure_activity.SOURCE)


def aks_audit_pipeline(table: str = aks_audit.TABLE) -> ProcessingPipeline:
    """Sigma kubernetes/audit rules -> AKSAudit (or AKSAuditAdmin, or legacy AzureDiagnostics).

    An unknown `table` falls back to AKSAudit (factories never raise)."""
    chosen = next((s for s in aks_audit.SOURCES if s.table == table), aks_audit.SOURCE)
    return source_pipeline(chosen)


def aks_audit_admin_pipeline() -> ProcessingPipeline:
    """Sigma kubernetes/audit rules -> AKSAuditAdmin (no get and list events)."""
    return source_pipeline(aks_audit.ADMIN_SOURCE)


def aks_audit_legacy_pipeline() -> ProcessingPipeline:
    """Sigma kubernetes/audit rules -> legacy AzureDiagnostics kube-audit records."""
    return source_pipeline(aks_audit.LEGACY_SOURCE)


def aks_dataplane_pipeline() -> ProcessingPipeline:
    """Sigma azure/activitylogs rules about Kubernetes objects -> AKSAudit; the other
    azure/activitylogs rules -> AzureActivity (azure_activity's items follow)."""
    from .items import dataplane_items, source_postprocessing_items

    return ProcessingPipeline(
        name=f"Azure activity logs about Kubernetes objects to Microsoft Sentinel {aks_audit.TABLE} "
        f"{NAME_SUFFIX}",
        priority=PRIORITY,
        items=dataplane_items(azure_activity.SOURCE),
        postprocessing_items=source_postprocessing_items(azure_activity.SOURCE),
    )


# Named factories of the sources this package ships (the discovery leaf lists them by name).
_NAMED: dict[str, Callable[[], ProcessingPipeline]] = {
    "azure_activity": azure_activity_pipeline,
    "aks_audit": aks_audit_pipeline,
    "aks_audit_admin": aks_audit_admin_pipeline,
    "aks_audit_legacy": aks_audit_legacy_pipeline,
}
# Pipelines that are not one source's.
_COMPOSED: dict[str, Callable[[], ProcessingPipeline]] = {"aks_dataplane": aks_dataplane_pipeline}


def all_pipelines() -> dict[str, Callable[[], ProcessingPipeline]]:
    """Pipeline id -> factory, for every source in the registry now (and the composed ones)."""
    found = {
        source.pipeline: _NAMED.get(source.pipeline) or pipeline_factory(source.pipeline)
        for source in all_sources()
        if source.pipeline
    }
    found.update(
        {source.union_pipeline: pipeline_factory(source.union_pipeline) for source in all_sources() if source.union_pipeline}
    )
    return {**found, **_COMPOSED}


def sentinel_default_pipeline() -> ProcessingPipeline:
    """What `-t sentinel` applies when the user gives none of our pipelines: the pipelines of the
    sources marked default, each claiming only its own log sources."""
    combined = sum(
        (source_pipeline(source) for source in all_sources() if source.default and source.pipeline),
        ProcessingPipeline(),
    )
    # Each source's pipeline ends with the same table prepend; a prepend right after another finds
    # the table written already, so one of a run of them does the same for every query.
    combined.postprocessing_items = [
        item
        for index, item in enumerate(combined.postprocessing_items)
        if not (index and _same_prepend(combined.postprocessing_items[index - 1], item))
    ]
    return combined


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
