"""sigma-cli discovery leaf: the processing pipelines of pySigma-pipeline-azure."""

from sigma_azure_aks.pipelines import PIPELINES, azure_activity_pipeline

pipelines = dict(PIPELINES)

__all__ = ["azure_activity_pipeline"]
