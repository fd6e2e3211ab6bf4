"""String columns that hold JSON text (AWSCloudTrail `RequestParameters`, AzureActivity `HTTPRequest`):
member access through ``parse_json``, declared by a source as path prefixes of its field map."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .base import PathPrefix


def json_text_prefixes(
    columns: Mapping[str, str], arrays: Mapping[str, tuple[str, ...]] = MappingProxyType({})
) -> tuple[PathPrefix, ...]:
    """Member access into string columns that hold JSON text ({field name: column}): ``<name>.<path>``
    reads ``parse_json(<column>).<path>`` (AWSCloudTrail ``requestParameters.attribute``). A value on
    the whole field still compares the text. `arrays` ({column: member paths}): members that hold
    arrays of objects, whose elements' members are refused (:attr:`PathPrefix.arrays`)."""
    return tuple(
        PathPrefix(f"{name}.", column, json_text=True, note=f"{column} holds JSON text", arrays=arrays.get(column, ()))
        for name, column in columns.items()
    )
