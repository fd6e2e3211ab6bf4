"""sigma-cli discovery leaf: the processing pipelines of pySigma-pipeline-azure."""

from sigma_azure_aks.pipelines import (
    aks_audit_admin_pipeline,
    aks_audit_legacy_pipeline,
    aks_audit_pipeline,
    aks_dataplane_pipeline,
    all_pipelines,
    azure_activity_pipeline,
)

pipelines = all_pipelines()

__all__ = [
    "aks_audit_admin_pipeline",
    "aks_audit_legacy_pipeline",
    "aks_audit_pipeline",
    "aks_dataplane_pipeline",
    "azure_activity_pipeline",
]
