"""Two Sigma field names of one column, required to equal two different values, in every source.

Generated from the sources' field maps: for every column that more than one Sigma name reaches,
a selection requiring different values through two of those names can match no event when the
column holds one value, so it is refused naming both fields; where the column is an array or a
structure (whose elements may hold both values) or its values are routed, it converts.
"""

from __future__ import annotations

import warnings

import pytest
from sigma.collection import SigmaCollection

from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.pipelines.contradictions import scalar
from sigma_azure_aks.sources import Source, all_sources


def _aliases(source: Source) -> list[tuple[str, str, str]]:
    assert source.field_map is not None
    by_column: dict[str, list[str]] = {}
    for name, target in source.field_map.exact.items():
        by_column.setdefault(target.kql(), []).append(name)
    return [(column, names[0], names[1]) for column, names in sorted(by_column.items()) if len(names) > 1]


CASES = [
    pytest.param(source, column, first, second, id=f"{source.table}-{column}")
    for source in all_sources()
    if source.default and source.pipeline and source.field_map is not None
    for column, first, second in _aliases(source)
]


def _rule(source: Source, first: str, second: str, values: tuple[str, str]) -> str:
    logsource = source.logsources[0]
    return (
        f"title: t\nlogsource:\n  product: {logsource.product}\n  service: {logsource.service}\n"
        f"detection:\n  sel:\n    {first!r}: {values[0]!r}\n    {second!r}: {values[1]!r}\n  condition: sel\n"
    )


def _convert(text: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (query,) = SentinelBackend().convert(SigmaCollection.from_yaml(text))
    return query


def test_every_default_source_has_aliases() -> None:
    assert len(CASES) > 250


@pytest.mark.parametrize("source, column, first, second", CASES)
def test_different_values_through_two_names(source: Source, column: str, first: str, second: str) -> None:
    assert source.field_map is not None
    target = source.field_map.resolve(first)
    assert target is not None
    text = _rule(source, first, second, ("alpha-1", "beta-2"))
    if scalar(source.field_map, first, target) and scalar(source.field_map, second, target):
        with pytest.raises(Exception, match=f"field '{first}'.*field '{second}'.*never matches"):
            _convert(text)
    else:
        assert _convert(text).startswith(source.table)


@pytest.mark.parametrize("source, column, first, second", CASES)
def test_one_value_through_two_names_converts(source: Source, column: str, first: str, second: str) -> None:
    assert _convert(_rule(source, first, second, ("alpha-1", "ALPHA-1"))).startswith(source.table)
