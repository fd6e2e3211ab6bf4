"""Log sources: one file per Log Analytics table family, with every fact about it, and a registry.

See :mod:`.base` for the shape of a source and :mod:`.registry` for the list and the look-ups.
"""

from .base import (
    AnalyticsProfile,
    EntityMappingSpec,
    Enumeration,
    FieldMap,
    FieldTarget,
    PathPrefix,
    Refusal,
    Source,
    Spellings,
    Structure,
    ValueRoute,
    describe_logsource,
)
from .features import BuiltPipeline, Feature
from .raw_records import RawRecordReader
from .registry import (
    SOURCES,
    TABLES,
    all_sources,
    columns,
    problems,
    refusals,
    registered,
    schema_text,
    source_for_pipeline,
    source_for_table,
    sources_for_logsource,
    supported_logsources,
    table_names,
    union_tables,
)

__all__ = [
    "Enumeration",
    "Refusal",
    "Structure",
    "ValueRoute",
    "SOURCES",
    "TABLES",
    "AnalyticsProfile",
    "BuiltPipeline",
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
    "union_tables",
    "problems",
    "refusals",
    "registered",
    "schema_text",
    "source_for_pipeline",
    "source_for_table",
    "sources_for_logsource",
    "supported_logsources",
    "table_names",
]
