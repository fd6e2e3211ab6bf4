"""What pySigma-backend-kusto 1.0.1 (`-t kusto`) renders wrong, as a check on one detection item.

Our pipelines also serve the stock target. Where it would write a query that runs but means
something else than the rule, the pipeline refuses the rule instead (see
RefuseStockMisrenderingTransformation). The `sentinel` target renders all of these exactly.
"""

from __future__ import annotations

import re

from sigma.conditions import ConditionAND
from sigma.rule import SigmaDetectionItem
from sigma.types import (
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SpecialChars,
)

from .. import kql
from ..sources import TABLES

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")


def _string_problem(value: SigmaString) -> str | None:
    if isinstance(value, SigmaCasedString):
        return "the |cased modifier (case-sensitive match)"
    parts = value.s
    if any(part == SpecialChars.WILDCARD_SINGLE for part in parts):
        return f"the value '{value}' has a '?' wildcard (the stock target makes it an unanchored, case-sensitive regex)"
    inner = parts[1:-1] if len(parts) > 2 else ()
    if any(part == SpecialChars.WILDCARD_MULTI for part in inner):
        return f"the value '{value}' has a wildcard inside it (the stock target makes it an unanchored, case-sensitive regex)"
    if all(isinstance(part, SpecialChars) for part in parts) and parts:
        return f"the value '{value}' is only wildcards"
    if any(isinstance(part, str) and _CONTROL.search(part) for part in parts):
        return "a value holds a control character such as a newline (the stock target breaks the query)"
    return None


def stock_kusto_problem(item: SigmaDetectionItem, table: str | None, negated: bool = False) -> str | None:
    """Why the stock Kusto target would render this detection item wrong, or None if it is fine.

    `negated`: the item is under `not` in the rule's condition, where a test that Kusto evaluates to null
    (an IP range on an empty address) drops the row instead of matching it."""
    if item.field is None:
        return "a keyword (unbound value) search (the stock target writes invalid KQL)"
    if not kql.is_column_name(item.field):
        return (
            f"the field '{item.field}' is a member of a dynamic column "
            "(the stock target quotes it into a constant string that never matches)"
        )
    column_type = TABLES.get(table or "", {}).get(item.field, "string")
    values = item.value
    if item.value_linking is ConditionAND and len(values) > 1:
        return "the |all modifier (the stock target uses term matching, has_all)"
    for value in values:
        if isinstance(value, SigmaString):
            problem = _string_problem(value)
        elif isinstance(value, SigmaNull):
            problem = "a null value (the stock target writes isnull(), never true for a string column)"
        elif isinstance(value, SigmaNumber) and (len(values) > 1 or column_type in {"string", "datetime"}):
            problem = f"the number {value} (the stock target compares it as the wrong type)"
        elif isinstance(value, SigmaCompareExpression) and column_type in {"string", "datetime"}:
            problem = f"a numeric comparison on the {column_type} column {item.field}"
        elif isinstance(value, SigmaCIDRExpression) and ":" in str(value.network):
            problem = f"the IPv6 range {value.network} (the stock target uses ipv4_is_in_range)"
        elif isinstance(value, (SigmaCIDRExpression, SigmaCompareExpression)) and negated:
            problem = (
                f"an IP range or numeric comparison on {item.field} under `not` (the stock target "
                "drops events without a value instead of matching them)"
            )
        elif isinstance(value, SigmaRegularExpression) and _CONTROL.search(value.to_plain()):
            problem = "a regular expression holding a control character"
        elif isinstance(value, SigmaFieldReference):
            problem = "the |fieldref modifier"
        else:
            problem = None
        if problem:
            return problem
    return None
