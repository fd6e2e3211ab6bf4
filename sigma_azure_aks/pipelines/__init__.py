"""Processing pipelines of the package, built from the log sources (:mod:`sigma_azure_aks.sources`).

`azure_activity`: Sigma azure/activitylogs rules -> the AzureActivity table.
`aks_audit` (and `aks_audit_admin`, `aks_audit_legacy`): Sigma kubernetes/audit rules -> AKSAudit
(AKSAuditAdmin, legacy AzureDiagnostics); `aks_dataplane`: azure/activitylogs rules about Kubernetes
objects -> AKSAudit, the others -> AzureActivity.
"""

from .factories import (
    PRIORITY,
    aks_audit_admin_pipeline,
    aks_audit_legacy_pipeline,
    aks_audit_pipeline,
    aks_dataplane_pipeline,
    all_pipelines,
    azure_activity_pipeline,
    require_table_pipeline,
    sentinel_default_pipeline,
    source_pipeline,
)

__all__ = [
    "PRIORITY",
    "aks_audit_admin_pipeline",
    "aks_audit_legacy_pipeline",
    "aks_audit_pipeline",
    "aks_dataplane_pipeline",
    "azure_activity_pipeline",
    "all_pipelines",
    "require_table_pipeline",
    "sentinel_default_pipeline",
    "source_pipeline",
]
