"""Sigma's meaning on concrete values: walking parsed conditions, `not` above a detection,
Kleene three-valued evaluation, and whether a Sigma value matches a text.

Used where the package reasons about a rule rather than rendering it: the data-plane translation
(which operations a detection accepts), the AKS value rewrites, the stock-target guard and the
backend (what sits under `not`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import (
    SigmaCasedString,
    SigmaExists,
    SigmaExpansion,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from . import kql

Unknown = None  # Kleene's third value: the detection item is about a field we do not evaluate
Lookup = Callable[[str, Any], "bool | None"]


# ---- walking conditions ---------------------------------------------------------------------------
def parsed_conditions(rule: SigmaRule) -> list[Any]:
    """The rule's condition trees, parsed once (pySigma parses anew on every `.parsed`)."""
    return [condition.parsed for condition in rule.detection.parsed_condition]


def leaves(conditions: list[Any]) -> Iterator[Any]:
    """Every leaf of the condition trees (field = value and keyword nodes), left to right."""
    for condition in conditions:
        if isinstance(condition, (ConditionAND, ConditionOR, ConditionNOT)):
            yield from leaves(list(condition.args))
        else:
            yield condition


def field_nodes(conditions: list[Any]) -> list[ConditionFieldEqualsValueExpression]:
    """Every field = value node of the condition trees."""
    return [node for node in leaves(conditions) if isinstance(node, ConditionFieldEqualsValueExpression)]


def condition_fields(rule: SigmaRule, conditions: list[Any] | None = None) -> tuple[set[str], bool]:
    """The field names a rule's conditions use, and whether it has keyword (field-less) items
    (`conditions`: the rule's parsed conditions, when the caller already has them)."""
    nodes = list(leaves(parsed_conditions(rule) if conditions is None else conditions))
    fields = {node.field for node in nodes if isinstance(node, ConditionFieldEqualsValueExpression)}
    keywords = any(isinstance(node, ConditionValueExpression) for node in nodes)
    return fields, keywords


def values_of(value: Any) -> list[Any]:
    """The values of a node's value (the alternatives of an expansion, else the value itself)."""
    return list(value.values) if isinstance(value, SigmaExpansion) else [value]


# ---- under `not` ------------------------------------------------------------------------------------
def under_not(node: Any) -> bool:
    """Whether a parsed condition node, or a detection item linked into a parsed condition, has
    a `not` above it."""
    parent = getattr(node, "parent", None)
    while parent is not None:
        if isinstance(parent, ConditionNOT):
            return True
        parent = getattr(parent, "parent", None)
    return False


def detection_items(detection: SigmaDetection) -> Iterator[SigmaDetectionItem]:
    """Every detection item of a detection, at every depth."""
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            yield from detection_items(item)
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
        found.update(id(item) for detection in detections for item in detection_items(detection) if under_not(item))
    return found


# ---- evaluation ------------------------------------------------------------------------------------
def evaluate(node: Any, lookup: Lookup) -> bool | None:
    """Kleene three-valued evaluation of a parsed Sigma condition."""
    if type(node) is ConditionFieldEqualsValueExpression:  # the common leaf, without ABC checks
        return lookup(node.field, node.value)
    if isinstance(node, ConditionAND):
        results = [evaluate(arg, lookup) for arg in node.args]
        return False if False in results else (True if all(r is True for r in results) else None)
    if isinstance(node, ConditionOR):
        results = [evaluate(arg, lookup) for arg in node.args]
        return True if True in results else (False if all(r is False for r in results) else None)
    if isinstance(node, ConditionNOT):
        result = evaluate(node.args[0], lookup)
        return None if result is None else not result
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return lookup(node.field, node.value)
    return None  # keywords and anything else: undecided


def possibly_accepts(conditions: list[Any], lookup: Lookup) -> bool:
    """True when some condition may be true given `lookup` (unknown counts as maybe)."""
    return any(evaluate(condition, lookup) is not False for condition in conditions)


# ---- matching a value ---------------------------------------------------------------------------------
TextTest = Callable[[str], bool]


@functools.lru_cache(maxsize=4096)
def glob_matcher(parts: tuple[Any, ...], cased: bool) -> TextTest | None:
    """A Sigma glob (string parts and wildcards) as a whole-value test of a text; None when it
    holds an unexpanded placeholder. A value with `*` only at its ends is tested with string
    methods (no pattern to compile); any other glob with its compiled pattern."""
    flags = re.DOTALL | (0 if cased else re.IGNORECASE)
    affix = _affix_shape(parts)
    if affix is None or not (cased or affix[1].isascii()):
        body = kql.glob_pattern(parts, literal=re.escape)
        return None if body is None else _fullmatch_test(re.compile(body, flags))
    lead, text, trail = affix
    if cased:
        return _affix_test(lead, text, trail)
    # ASCII text ignoring case: lower-casing an ASCII candidate is exactly `re.IGNORECASE`; a
    # non-ASCII candidate may still match through Unicode case folding (the Kelvin sign reads as
    # `k`), so it goes through the pattern.
    lowered = _affix_test(lead, text.lower(), trail)

    def test(candidate: str) -> bool:
        if candidate.isascii():
            return lowered(candidate.lower())
        return re.fullmatch(kql.glob_pattern(parts, literal=re.escape) or "", candidate, flags) is not None

    return test


def _fullmatch_test(compiled: re.Pattern[str]) -> TextTest:
    def test(candidate: str) -> bool:
        return compiled.fullmatch(candidate) is not None

    return test


def _affix_shape(parts: tuple[Any, ...]) -> tuple[bool, str, bool] | None:
    """(a `*` leads, the text, a `*` trails) of a glob whose only wildcards are `*` at its ends;
    None for any other glob."""
    start, end = 0, len(parts)
    while start < end and parts[start] == SpecialChars.WILDCARD_MULTI:
        start += 1
    while end > start and parts[end - 1] == SpecialChars.WILDCARD_MULTI:
        end -= 1
    inner = parts[start:end]
    if not all(isinstance(part, str) for part in inner):
        return None
    return start > 0, "".join(inner), end < len(parts)


def _affix_test(lead: bool, text: str, trail: bool) -> TextTest:
    if lead and trail:
        return lambda candidate: text in candidate
    if lead:
        return lambda candidate: candidate.endswith(text)
    if trail:
        return lambda candidate: candidate.startswith(text)
    return lambda candidate: candidate == text


def string_matcher(value: SigmaString) -> TextTest | None:
    """The whole-value test of a Sigma string; None for an unexpanded placeholder."""
    try:
        return glob_matcher(tuple(value.s), isinstance(value, SigmaCasedString))
    except TypeError:
        return None  # an unexpanded placeholder (not hashable, not text)


_REGEX_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}


def value_matches(value: Any, text: str | None) -> bool | None:
    """Does a Sigma value (after modifiers) match `text`? None when it cannot be decided."""
    if isinstance(value, SigmaExpansion):
        results = [value_matches(v, text) for v in value.values]
        return True if True in results else (None if None in results else False)
    if isinstance(value, SigmaNull):
        return not text
    if isinstance(value, SigmaExists):
        return bool(text) == value.exists
    if text is None:
        return False
    if isinstance(value, SigmaString):
        test = string_matcher(value)
        return None if test is None else test(text)
    if isinstance(value, SigmaRegularExpression):
        flags = 0
        for flag in value.flags:
            flags |= _REGEX_FLAGS[flag]
        regexp = value.regexp  # a SigmaString (its `?` and `*` read as wildcards): the plain text
        try:
            plain = regexp if isinstance(regexp, str) else regexp.to_plain()
            return re.search(plain, text, flags) is not None
        except (re.error, TypeError, ValueError):
            return None  # not a Python pattern, or an unexpanded placeholder: undecided
    if isinstance(value, SigmaNumber):
        return str(value.number) == text
    return None


# ---- how a test is written safely (numbers, nulls, literal text) -----------------------------------

EXACT_REAL_INTEGERS = 2**53


def as_number(expression: str, number: int | float) -> str:
    """A dynamic value as a number for comparing with `number`: toreal(), exact for reals and
    for integers below 2^53; tolong() for larger integers (a fractional value lies below 2^53,
    where truncating it towards zero cannot change how it compares with such an integer)."""
    if isinstance(number, int) and abs(number) >= EXACT_REAL_INTEGERS:
        return f"tolong({expression})"
    return f"toreal({expression})"


def null_safe_always(test: str) -> str:
    return f"coalesce({test}, false)"


def null_safe(cond: Any, test: str) -> str:
    """A test that Kusto evaluates to null on a missing or unparsable value (a number, an IP
    range) counts as false, as in Sigma. Only `not` can tell null from false (`not(null)` drops
    the row), so the test is wrapped there only."""
    return f"coalesce({test}, false)" if under_not(cond) else test


def plain_text(value: SigmaString) -> str:
    """The characters of a Sigma string, wildcards read as literal `*`/`?` (only used where none are)."""
    return "".join(
        part if isinstance(part, str) else ("*" if part == SpecialChars.WILDCARD_MULTI else "?")
        for part in value.s
    )
