"""What the dynamic columns of a table hold, as data: structures of objects, value routes,
documented values, and the member paths of objects (every level, in their real spelling).

:class:`~.base.FieldMap` holds these declarations; this module defines them and reads member
paths. Member paths are dotted strings (``"geoCoordinates.latitude"``), each level declared by the
table reference or the samples (``tests/declared_shapes.py`` derives them from the samples).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Structure:
    """A dynamic column that holds objects, where a rule value matches inside the structure.

    kind "array": an array of objects with scalar `members`; `nested` names members that are
    themselves arrays of flat objects, with their members (TargetResources[].modifiedProperties[]).
    kind "pairs": an array of ``{"key": k, "value": v}`` objects (member names in `pair`);
    ``<column>.<k>`` is the value of the element whose key is k (AdditionalDetails). kind "object": one object, whose members are
    read with plain member access; only a value on the whole column is matched in the structure.
    A value on the whole column (or a whole nested array) matches when some member value in it
    matches; a value on a member matches when that member of some element matches.
    A member of an element may itself hold an array of scalars (ConditionalAccessPolicies
    enforcedGrantControls): a value on that member matches when some element of it matches.
    """

    column: str
    kind: str = "array"
    members: tuple[str, ...] = ()
    nested: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    note: str = ""
    pair: tuple[str, str] = ("key", "value")


@dataclass(frozen=True)
class ValueRoute:
    """A Sigma field whose values mean something other than a comparison of one column.

    A plain value listed in `conditions` (compared case-insensitively) becomes that KQL condition;
    `null`, `|exists` and `*` test the Sigma field `itself` (the field the route stands for: is it
    there, does it hold a value); any other value is matched against the Sigma fields in `other`
    (any of them). SigninLogs `Status: Success` -> ``ResultType == "0"``; `Status: null` -> the
    Status column is empty; `Status|contains: MFA Denied` -> Status.additionalDetails.
    """

    fields: tuple[str, ...]
    conditions: Mapping[str, str]
    other: tuple[str, ...]
    itself: str
    note: str = ""


@dataclass(frozen=True)
class Enumeration:
    """The documented values of a target (a column or member access): a plain rule value outside
    them (case-insensitively) never matches, and conversion warns."""

    target: str
    values: tuple[str, ...]
    source: str = ""


def _declared(members: tuple[str, ...]) -> list[tuple[str, ...]]:
    return [tuple(dotted.split(".")) for dotted in members]


def _children(declared: list[tuple[str, ...]], parent: tuple[str, ...]) -> dict[str, str]:
    """The declared names one level below `parent`, by their lower case."""
    depth = len(parent)
    return {d[depth].lower(): d[depth] for d in declared if len(d) > depth and d[:depth] == parent}


def member_spelling(members: tuple[str, ...], path: tuple[str, ...]) -> tuple[tuple[str, ...], int | None]:
    """(`path` with every declared level in its real spelling, the index of the first level that
    is not declared under its parent, or None when every level is)."""
    declared = _declared(members)
    spelled: tuple[str, ...] = ()
    for index, segment in enumerate(path):
        real = _children(declared, spelled).get(segment.lower())
        if real is None:
            return (*spelled, *path[index:]), index
        spelled = (*spelled, real)
    return spelled, None


def unresolved_member(members: tuple[str, ...], column: str, path: tuple[str, ...]) -> str | None:
    """A message part naming the first level of `path` that `members` does not declare (None: all are)."""
    spelled, index = member_spelling(members, path)
    if index is None:
        return None
    children = sorted(_children(_declared(members), spelled[:index]).values())
    known = f"it declares {', '.join(children)}" if children else "it declares no members below it"
    return f"member '{spelled[index]}' of {'.'.join((column, *spelled[:index]))} is not declared ({known})"
