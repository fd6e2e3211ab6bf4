"""sigma-cli discovery leaf: the processing pipelines of pySigma-pipeline-azure, one factory
`<id>_pipeline` per pipeline the package's sources declare (generated from the registry)."""

from sigma_azure_aks.pipelines import all_pipelines

pipelines = all_pipelines()

globals().update({factory.__name__: factory for factory in pipelines.values()})

__all__ = [factory.__name__ for factory in pipelines.values()]
