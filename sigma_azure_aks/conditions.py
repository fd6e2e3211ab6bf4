"""Where a detection sits in a rule's condition: under `not`, or not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sigma.conditions import ConditionNOT
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule


def under_not(node: Any) -> bool:
    """Whether a parsed condition node, or a detection item linked into a parsed condition, has
    a `not` above it."""
    parent = getattr(node, "parent", None)
    while parent is not None:
        if isinstance(parent, ConditionNOT):
            return True
        parent = getattr(parent, "parent", None)
    return False


def _items(detection: SigmaDetection) -> Iterator[SigmaDetectionItem]:
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            yield from _items(item)
        else:
            yield item


def negated_items(rule: SigmaRule) -> set[int]:
    """The ids of the rule's detection items that some condition places under `not`.

    Parsing a condition links every detection item it names into that condition's tree, so each
    condition is parsed in turn and the items read right after. An item a later condition does not
    name keeps its earlier links: at worst it counts as negated when it is not."""
    found: set[int] = set()
    detections = list(rule.detection.detections.values())
    for condition in rule.detection.parsed_condition:
        condition.parsed  # noqa: B018 -- links the detection items into this condition's tree
        found.update(id(item) for detection in detections for item in _items(detection) if under_not(item))
    return found
