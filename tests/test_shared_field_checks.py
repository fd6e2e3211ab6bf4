"""Field checks that hold for every source of the registry, whatever case a name is written in, and
the refusal of a `|fieldref` naming a field with no one value per event.

A name that resolves only ignoring case goes through the checks of the name as written: a field into
an array of objects (member access on an array is null in KQL) and a name declared missing are refused
with the same reason. A `|fieldref` to a list (an array of objects or of strings, a pair column, a
member of their elements) is refused with the reason: KQL would compare with a null member or with the
list's JSON text, and the rule would silently match nothing.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from sigma.collection import SigmaCollection

from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.pipelines import all_pipelines
from sigma_azure_aks.sources import FieldMap, Source, all_sources

MAPPED = [source for source in all_sources() if source.field_map is not None]
RULE_ID = "5d6e7f80-1a2b-4c3d-8e9f-0a1b2c3d4e5f"


def table(source: Source) -> str:
    return source.table


def field_map(source: Source) -> FieldMap:
    assert source.field_map is not None
    return source.field_map


def other_cases(name: str) -> set[str]:
    return {name.lower(), name.upper(), name.swapcase()} - {name}


@pytest.mark.parametrize(
    "source", [s for s in MAPPED if any(p.arrays for p in field_map(s).prefixes)], ids=table
)
def test_a_field_into_an_array_of_objects_is_refused_in_any_case(source: Source) -> None:
    fields = field_map(source)
    checked = 0
    for prefix in fields.prefixes:
        for array in prefix.arrays:
            written = f"{prefix.prefix}{array}.someMember"
            reason = fields.missing_reason(written)
            assert reason.startswith(f"{prefix.prefix}{array} is an array of objects in {prefix.column}")
            # the array's members in another case read the array (or nothing) too; the whole name
            # in another case resolves only in a map that ignores case
            spellings = {f"{prefix.prefix}{array.upper()}.someMember", f"{prefix.prefix}{array.lower()}.x"}
            spellings |= other_cases(written) if fields.any_case else set()
            for name in (written, *spellings):
                assert fields.resolve(name) is None, name
                # named in the spelling of the prefix as written, or of a dialect's when none is
                assert fields.missing_reason(name).lower().startswith(reason.lower()[: len(written)]), name
            checked += 1
    assert checked


@pytest.mark.parametrize("source", [s for s in MAPPED if field_map(s).any_case and field_map(s).missing], ids=table)
def test_a_name_declared_missing_is_missing_in_any_case(source: Source) -> None:
    fields = field_map(source)
    for name, reason in fields.missing.items():
        for other in other_cases(name):
            assert fields.resolve(other) is None, other
            assert fields.missing_reason(other) == reason, other


# ---- |fieldref to a field with no one value per event --------------------------------------------
def list_fields(source: Source) -> list[str]:
    """Names of the map (as written) whose target holds a list: a structure of kind array or pairs
    (the whole column; each member of an array's elements), an array of strings."""
    fields = field_map(source)
    found: list[str] = []
    for name in fields.exact:
        target = fields.resolve(name)
        structure = fields.structure(target.column) if target is not None else None
        if target is None or fields.route(name) is not None:
            continue
        if structure is not None and structure.kind in ("array", "pairs"):
            found.append(name)
            if structure.kind == "array" and not target.path:
                found += [f"{name}.{member}" for member in structure.members[:1]]
        elif fields.is_array(target):
            found.append(name)
    return found


def scalar_field(source: Source) -> str | None:
    """A name of the map that reads one value as it is: a string column, else a member of a dynamic
    column that is no structure, list or opaque column."""
    fields = field_map(source)
    plain = [
        (bool(target.path) or source.schema.get(target.column) != "string", name)
        for name, target in fields.exact.items()
        if fields.route(name) is None
        and fields.resolve(name) == target
        and fields.structure(target.column) is None
        and not fields.is_array(target)
        and target.column not in fields.opaque
    ]
    return min(plain)[1] if plain else None


def convert(source: Source, detection: str) -> str:
    logsource = source.logsources[0]
    lines = "".join(
        f"    {key}: {value}\n"
        for key in ("category", "product", "service")
        if (value := getattr(logsource, key, None))
    )
    text = (
        f"title: t\nid: {RULE_ID}\nstatus: test\nlogsource:\n{lines}detection:\n    sel: {detection}\n"
        "    condition: sel\nlevel: low\n"
    )
    pipeline = all_pipelines()[str(source.pipeline)]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result: Any = SentinelBackend(processing_pipeline=pipeline).convert(SigmaCollection.from_yaml(text))
    return str(result[0])


CONVERTIBLE = [s for s in MAPPED if s.pipeline and s.logsources and list_fields(s) and scalar_field(s)]


@pytest.mark.parametrize("source", CONVERTIBLE, ids=table)
def test_a_fieldref_to_a_list_is_refused_on_every_source(source: Source) -> None:
    scalar = scalar_field(source)
    for listed in list_fields(source)[:6]:
        with pytest.raises(Exception) as error:
            convert(source, f"{{{scalar}|fieldref: '{listed}'}}")
        line = str(error.value)
        assert f"rule 't' ({RULE_ID}): field '{scalar}': its |fieldref '{listed}' " in line, line
        assert line.endswith(
            "and KQL reads no single value of it to compare with (the query would silently match nothing); "
            f"compare '{scalar}' with plain values, or reference a field that holds one value per event"
        ), line
    # a field with one value converts
    assert "isnotempty(" in convert(source, f"{{{scalar}|fieldref: '{scalar}'}}")


def test_every_source_with_lists_is_checked() -> None:
    """The sources whose maps declare lists are the ones the fieldref test converts (none is left out
    for want of a plain string field)."""
    with_lists = {s.table for s in MAPPED if s.pipeline and s.logsources and list_fields(s)}
    assert with_lists == {s.table for s in CONVERTIBLE}
    assert {"GCPAuditLogs", "GoogleWorkspaceReports", "AuditLogs"} <= with_lists
