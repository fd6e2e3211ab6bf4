"""Rule values the sentinel target refuses before conversion, with the rule and the Sigma field named.

Checked on the rule as written (Sigma field names, before any pipeline maps them):

* `null` inside a value list (`caller: [x, null]`): the Sigma specification lists it as invalid;
  write a separate selection with `field: null` instead.
* a number pySigma could not keep exact: pySigma stores an integer that does not round-trip
  through a float (``123456789012345678901234567890``, ``9007199254740993``) as the rounded
  float, so the value the query would compare with is not the rule's number.
* an integer outside Kusto's long range (-2^63 .. 2^63-1): no column or member can equal it.
"""

from __future__ import annotations

from typing import Any

from sigma.exceptions import SigmaFeatureNotSupportedByBackendError
from sigma.rule import SigmaDetectionItem, SigmaRule
from sigma.types import SigmaCompareExpression, SigmaNull, SigmaNumber

from .semantics import detection_items

LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1


def value_problem(item: SigmaDetectionItem) -> str | None:
    """Why one detection item's values cannot be expressed exactly, or None."""
    field = f"field '{item.field}'" if item.field else "a keyword list"
    if len(item.value) > 1 and any(isinstance(value, SigmaNull) for value in item.value):
        return (
            f"{field} has null inside a list of values, which the Sigma specification does not allow; "
            f"write `{item.field or 'field'}: null` in a selection of its own and join it with `or`"
        )
    for value in item.value:
        if isinstance(value, SigmaCompareExpression):
            value = value.number
        if not isinstance(value, SigmaNumber):
            continue
        number = value.number
        if isinstance(number, float) and number.is_integer():
            return (
                f"{field}: the integer value arrives rounded to {number!r} (pySigma keeps an integer "
                "that a float cannot hold exactly only as the rounded float), so the exact number is "
                "lost; quote it ('...') to compare it as text"
            )
        if isinstance(number, int) and not LONG_MIN <= number <= LONG_MAX:
            return (
                f"{field}: the integer {number} is outside Kusto's long range (-2^63 to 2^63-1); "
                "quote it ('...') to compare it as text"
            )
    return None


def check_rule_values(rule: Any, label: str) -> None:
    """Raise SigmaFeatureNotSupportedByBackendError for the first value problem of the rule."""
    if not isinstance(rule, SigmaRule):
        return
    for detection in rule.detection.detections.values():
        for item in detection_items(detection):
            problem = value_problem(item)
            if problem:
                raise SigmaFeatureNotSupportedByBackendError(f"{label}: {problem}")
