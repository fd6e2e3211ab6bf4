"""Processing pipelines of the package, built from the log sources (:mod:`sigma_azure_aks.sources`).

One factory `<id>_pipeline` per pipeline id the registry's sources declare (docs/sources.md lists
them), generated from the registry: :func:`all_pipelines` maps the ids to them, and each is an
attribute of this module under its name.
"""

from .factories import (
    PRIORITY,
    all_pipelines,
    named_pipelines,
    require_table_pipeline,
    sentinel_default_pipeline,
    source_pipeline,
)

globals().update(named_pipelines())

__all__ = [
    "PRIORITY",
    "all_pipelines",
    "named_pipelines",
    "require_table_pipeline",
    "sentinel_default_pipeline",
    "source_pipeline",
    *named_pipelines(),
]
