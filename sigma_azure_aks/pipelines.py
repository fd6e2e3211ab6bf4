"""Processing pipelines (factories with no required arguments that never raise).

`azure_activity`: Sigma azure/activitylogs rules -> the AzureActivity table.
`aks_audit` (and `aks_audit_admin`, `aks_audit_legacy`): Sigma kubernetes/audit rules -> AKSAudit
(AKSAuditAdmin, legacy AzureDiagnostics); `aks_dataplane`: azure/activitylogs rules about Kubernetes
objects -> AKSAudit, the others -> AzureActivity.
Every pipeline claims the rules of its log sources for one table and leaves all other rules
untouched, so it composes with other pipelines, including pySigma-backend-kusto's.
"""

from __future__ import annotations

from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline

from .aks_transformations import AUDIT_TABLES
from .items import (
    ITEM_PREFIX,
    aks_audit_items,
    azure_activity_items,
    dataplane_items,
    legacy_preamble_item,
    prepend_table_item,
)
from .logsources import supported_logsources
from .transformations import RequireTableTransformation

# Lower than pySigma-backend-kusto's pipelines (10): our table claim comes first, so their
# table selection finds `query_table` already set when both are given.
PRIORITY = 5


def azure_activity_pipeline() -> ProcessingPipeline:
    """Sigma azure/activitylogs rules -> AzureActivity, with both field dialects."""
    return ProcessingPipeline(
        name="Azure activity logs to Microsoft Sentinel AzureActivity (sigma_azure_aks)",
        priority=PRIORITY,
        items=azure_activity_items(),
        postprocessing_items=[prepend_table_item()],
    )


def aks_audit_pipeline(table: str = "AKSAudit") -> ProcessingPipeline:
    """Sigma kubernetes/audit rules -> AKSAudit (or AKSAuditAdmin, or legacy AzureDiagnostics).

    An unknown `table` falls back to AKSAudit (factories never raise)."""
    table = table if table in AUDIT_TABLES else "AKSAudit"
    claimer = AUDIT_TABLES[table][0]
    postprocessing = [prepend_table_item()]
    if table == "AzureDiagnostics":
        postprocessing.insert(0, legacy_preamble_item(claimer))
    return ProcessingPipeline(
        name=f"Kubernetes audit to Microsoft Sentinel {table} (sigma_azure_aks)",
        priority=PRIORITY,
        items=aks_audit_items(table),
        postprocessing_items=postprocessing,
    )


def aks_audit_admin_pipeline() -> ProcessingPipeline:
    """Sigma kubernetes/audit rules -> AKSAuditAdmin (no get and list events)."""
    return aks_audit_pipeline("AKSAuditAdmin")


def aks_audit_legacy_pipeline() -> ProcessingPipeline:
    """Sigma kubernetes/audit rules -> legacy AzureDiagnostics kube-audit records."""
    return aks_audit_pipeline("AzureDiagnostics")


def aks_dataplane_pipeline() -> ProcessingPipeline:
    """Sigma azure/activitylogs rules about Kubernetes objects -> AKSAudit; the other
    azure/activitylogs rules -> AzureActivity (azure_activity's items follow)."""
    return ProcessingPipeline(
        name="Azure activity logs about Kubernetes objects to Microsoft Sentinel AKSAudit (sigma_azure_aks)",
        priority=PRIORITY,
        items=dataplane_items(),
        postprocessing_items=[prepend_table_item()],
    )


PIPELINES = {
    "azure_activity": azure_activity_pipeline,
    "aks_audit": aks_audit_pipeline,
    "aks_audit_admin": aks_audit_admin_pipeline,
    "aks_audit_legacy": aks_audit_legacy_pipeline,
    "aks_dataplane": aks_dataplane_pipeline,
}

# What `-t sentinel` applies when the user gives none of our pipelines: each claims only its own
# log sources.
DEFAULT_FOR_SENTINEL = (azure_activity_pipeline, aks_audit_pipeline)


def sentinel_default_pipeline() -> ProcessingPipeline:
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
