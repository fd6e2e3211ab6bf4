"""Processing pipelines (factories with no required arguments that never raise).

`azure_activity`: Sigma azure/activitylogs rules -> the AzureActivity table.
`aks_audit` (and `aks_audit_admin`, `aks_audit_legacy`): Sigma kubernetes/audit rules -> AKSAudit
(AKSAuditAdmin, legacy AzureDiagnostics); `aks_dataplane`: azure/activitylogs rules about Kubernetes
objects -> AKSAudit, the others -> AzureActivity (see aks_pipelines.py).
Every pipeline claims the rules of its log sources for one table and leaves all other rules
untouched, so it composes with other pipelines, including pySigma-backend-kusto's.
"""

from __future__ import annotations

from sigma.processing.conditions import RuleProcessingStateCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline, QueryPostprocessingItem
from sigma.rule import SigmaLogSource

from .field_maps import AZURE_ACTIVITY, FieldMap
from .transformations import (
    CLAIMED_BY,
    ClaimTableTransformation,
    ExpandStatusSpellingsTransformation,
    MapFieldsTransformation,
    PrependTableTransformation,
    RefuseStockMisrenderingTransformation,
    RequireTableTransformation,
)

ITEM_PREFIX = "azure_aks_"
# Lower than pySigma-backend-kusto's pipelines (10): our table claim comes first, so their
# table selection finds `query_table` already set when both are given.
PRIORITY = 5

AZURE_ACTIVITY_LOGSOURCES = (
    SigmaLogSource(product="azure", service="activitylogs"),
    SigmaLogSource(product="azure", service="azureactivity"),
)


def _claimed_by(claimer: str) -> list[RuleProcessingStateCondition]:
    return [RuleProcessingStateCondition(CLAIMED_BY, claimer)]


def claim_item(claimer: str, table: str, logsources: tuple[SigmaLogSource, ...]) -> ProcessingItem:
    return ProcessingItem(
        identifier=f"{ITEM_PREFIX}{claimer}_claim_table",
        transformation=ClaimTableTransformation(claimer, table, logsources),
    )


def field_mapping_item(claimer: str, field_map: FieldMap) -> ProcessingItem:
    return ProcessingItem(
        identifier=f"{ITEM_PREFIX}{claimer}_fields",
        transformation=MapFieldsTransformation(field_map),
        rule_conditions=_claimed_by(claimer),
    )


def status_spellings_item(claimer: str) -> ProcessingItem:
    return ProcessingItem(
        identifier=f"{ITEM_PREFIX}{claimer}_status_spellings",
        transformation=ExpandStatusSpellingsTransformation(),
        rule_conditions=_claimed_by(claimer),
    )


def stock_guard_item(claimer: str) -> ProcessingItem:
    return ProcessingItem(
        identifier=f"{ITEM_PREFIX}{claimer}_refuse_stock_misrendering",
        transformation=RefuseStockMisrenderingTransformation(),
        rule_conditions=_claimed_by(claimer),
    )


def prepend_table_item() -> QueryPostprocessingItem:
    return QueryPostprocessingItem(
        identifier=f"{ITEM_PREFIX}prepend_table",
        transformation=PrependTableTransformation(),
    )


def azure_activity_items() -> list[ProcessingItem]:
    """The items of `azure_activity`, reused by pipelines that fall back to AzureActivity."""
    from .aks_pipelines import dataplane_notice_item  # it builds on the factories of this module

    claimer = "azure_activity"
    return [
        claim_item(claimer, AZURE_ACTIVITY.table, AZURE_ACTIVITY_LOGSOURCES),
        dataplane_notice_item(),
        field_mapping_item(claimer, AZURE_ACTIVITY),
        status_spellings_item(claimer),
        stock_guard_item(claimer),
    ]


def azure_activity_pipeline() -> ProcessingPipeline:
    """Sigma azure/activitylogs rules -> AzureActivity, with both field dialects."""
    return ProcessingPipeline(
        name="Azure activity logs to Microsoft Sentinel AzureActivity (sigma_azure_aks)",
        priority=PRIORITY,
        items=azure_activity_items(),
        postprocessing_items=[prepend_table_item()],
    )


from .aks_pipelines import (  # noqa: E402  (they build on the item factories above)
    aks_audit_admin_pipeline,
    aks_audit_legacy_pipeline,
    aks_audit_pipeline,
    aks_dataplane_pipeline,
)

PIPELINES = {
    "azure_activity": azure_activity_pipeline,
    "aks_audit": aks_audit_pipeline,
    "aks_audit_admin": aks_audit_admin_pipeline,
    "aks_audit_legacy": aks_audit_legacy_pipeline,
    "aks_dataplane": aks_dataplane_pipeline,
}


def sentinel_default_pipeline() -> ProcessingPipeline:
    """What `-t sentinel` applies when the user gives none of our pipelines: all of them, each
    claiming only its own log sources."""
    return sum((factory() for factory in DEFAULT_FOR_SENTINEL), ProcessingPipeline())


def require_table_pipeline() -> ProcessingPipeline:
    """Appended last by `-t sentinel`: a rule no pipeline gave a table is an error, not a query."""
    return ProcessingPipeline(
        name="sigma_azure_aks: every rule needs a table",
        items=[
            ProcessingItem(
                identifier=f"{ITEM_PREFIX}require_table",
                transformation=RequireTableTransformation(supported_logsources()),
            )
        ],
    )


def supported_logsources() -> list[str]:
    return [
        "product: azure, service: activitylogs (or azureactivity)",
        "product: kubernetes, service: audit (category: application or none)",
    ]


DEFAULT_FOR_SENTINEL = (azure_activity_pipeline, aks_audit_pipeline)
