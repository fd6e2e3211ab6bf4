"""sigma-cli discovery leaf: the processing pipelines of pySigma-pipeline-azure, one factory
`<id>_pipeline` per pipeline the package's sources declare (generated from the registry).

sigma-cli names a pipeline's plugin after the module its function is defined in
(`sigma.pipelines.<plugin>`), so each factory is listed through a function defined here:
`sigma list pipelines` shows `azure_aks`.
"""

from collections.abc import Callable

from sigma.processing.pipeline import ProcessingPipeline

from sigma_azure_aks.pipelines import all_pipelines


def _listed(factory: Callable[..., ProcessingPipeline]) -> Callable[..., ProcessingPipeline]:
    """`factory` (same name, same arguments), defined in this module."""

    def pipeline(table: str | None = None) -> ProcessingPipeline:
        return factory(table)

    pipeline.__name__ = pipeline.__qualname__ = factory.__name__
    pipeline.__doc__ = factory.__doc__
    return pipeline


pipelines = {pipeline_id: _listed(factory) for pipeline_id, factory in all_pipelines().items()}

globals().update({factory.__name__: factory for factory in pipelines.values()})

__all__ = [factory.__name__ for factory in pipelines.values()]
