"""Log sources: one file per Log Analytics table family, with every fact about it, and a registry.

See :mod:`.base` for the shape of a source and :mod:`.registry` for the list and the look-ups.
"""

from .base import (
    AnalyticsProfile,
    EntityMappingSpec,
    Feature,
    FieldMap,
    FieldTarget,
    PathPrefix,
    RawRecordReader,
    Source,
    Spellings,
    describe_logsource,
)
from .registry import (
    SOURCES,
    TABLES,
    all_sources,
    columns,
    problems,
    registered,
    schema_text,
    source_for_pipeline,
    source_for_table,
    sources_for_logsource,
    supported_logsources,
    table_names,
)

__all__ = [
    "SOURCES",
    "TABLES",
    "AnalyticsProfile",
    "EntityMappingSpec",
    "Feature",
    "FieldMap",
    "FieldTarget",
    "PathPrefix",
    "RawRecordReader",
    "Source",
    "Spellings",
    "all_sources",
    "columns",
    "describe_logsource",
    "problems",
    "registered",
    "schema_text",
    "source_for_pipeline",
    "source_for_table",
    "sources_for_logsource",
    "supported_logsources",
    "table_names",
]
