"""A correlation rule's threshold and percentile as its text writes them, against what pySigma read.

pySigma 1.x reads a condition's threshold with ``int()``: ``gt: 2.5`` becomes ``gt: 2``, a different
rule, without a word. pySigma 2.x keeps the fraction. Both read the percentile of value_percentile
with ``int()``: ``percentile: 99.5`` becomes 99. A value written as ``true`` becomes 1 on both.
:func:`exact_condition` refuses a condition whose written number is not the one pySigma read.

The written condition comes from the rule's own text: the YAML the batch funnel parsed
(:func:`remember_text`), else the rule's file (``rule.source.path``: sigma-cli loads every rule
from its file), matched by id, name and title. A rule object built from text without its file (a
caller's own ``SigmaCollection.from_yaml``) has neither: its condition stands as pySigma read it.

A count (event_count, value_count, temporal, temporal_ordered) is a whole number, so a fractional
threshold of ``gt``, ``gte``, ``lt`` or ``lte`` has one exact whole-number form (``gt: 2.5`` is
``gte: 3``), which the query compares with; ``eq`` or ``neq`` with a fraction never, or always,
holds, and is refused as the slip it is.
"""

from __future__ import annotations

import json
import math
import weakref
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import yaml
from sigma.correlations import SigmaCorrelationRule

# The kinds whose metric is a count of events, values or rules.
COUNT_KINDS = frozenset({"event_count", "value_count", "temporal", "temporal_ordered"})
OPERATORS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "eq": "==", "neq": "!="}
PYSIGMA = f"pySigma {version('pysigma')}"


class ConditionProblem(ValueError):
    """A correlation condition the query cannot compare with exactly: why, and what to write."""


@dataclass(frozen=True)
class ExactCondition:
    operator: str  # KQL: >, >=, <, <=, ==, !=
    threshold: float
    percentile: float | None


class _Unknown:
    """The rule's text is not at hand."""


UNKNOWN = _Unknown()
# Written conditions of rules parsed from text, by id(rule); an entry leaves with its rule.
_REMEMBERED: dict[int, tuple[weakref.ref[Any], Any]] = {}


def remember_text(rules: list[Any], text: str) -> None:
    """Keep the written condition of every correlation rule in `rules`, parsed from `text`."""
    correlations = [rule for rule in rules if isinstance(rule, SigmaCorrelationRule)]
    if not correlations:
        return
    documents = _documents(text)
    for rule in correlations:
        key = id(rule)
        written = _written_in(documents, rule) if documents is not None else UNKNOWN
        _REMEMBERED[key] = (weakref.ref(rule, lambda _, key=key: _REMEMBERED.pop(key, None)), written)


def written_condition(rule: Any) -> Any:
    """The condition mapping the rule's text writes (None when it writes none), else UNKNOWN."""
    remembered = _REMEMBERED.get(id(rule))
    if remembered is not None and remembered[0]() is rule:
        return remembered[1]
    path = getattr(getattr(rule, "source", None), "path", None)
    if path is None:
        return UNKNOWN
    try:
        stat = Path(path).stat()
    except (OSError, ValueError):
        return UNKNOWN
    documents = _file_documents(str(path), stat.st_mtime_ns, stat.st_size)
    return _written_in(documents, rule) if documents is not None else UNKNOWN


@lru_cache(maxsize=64)
def _file_documents(path: str, _mtime_ns: int, _size: int) -> tuple[Any, ...] | None:
    try:
        return _documents(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None


def _documents(text: str) -> tuple[Any, ...] | None:
    try:
        return tuple(yaml.safe_load_all(text))  # as pySigma reads rule files
    except yaml.YAMLError:
        return None


def _written_in(documents: tuple[Any, ...], rule: Any) -> Any:
    """The condition of the one correlation document that is `rule` (its id, name and title), or
    UNKNOWN when none or several different ones are."""
    rule_id = str(rule.id).lower() if rule.id else None
    found = set()
    for document in documents:
        if not isinstance(document, dict) or document.get("action") is not None:
            continue
        body = document.get("correlation")
        if not isinstance(body, dict):
            continue
        written_id = document.get("id")
        if (str(written_id).lower() if written_id else None, document.get("name"), document.get("title")) != (
            rule_id,
            rule.name,
            rule.title,
        ):
            continue
        found.add(json.dumps(body.get("condition"), sort_keys=True, default=str))
    return json.loads(found.pop()) if len(found) == 1 else UNKNOWN


def _shown(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (bool, str)) else str(value)


def _number(value: Any) -> int | float | None:
    """A written count as a number (None for a boolean or text that is none)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _whole_count(name: str, threshold: float) -> tuple[str, int] | None:
    """The whole-number condition a count meets exactly when it meets `name: threshold`."""
    if float(threshold).is_integer():
        return OPERATORS[name], int(threshold)
    return {
        "gt": (">=", math.ceil(threshold)),
        "gte": (">=", math.ceil(threshold)),
        "lt": ("<=", math.floor(threshold)),
        "lte": ("<=", math.floor(threshold)),
    }.get(name)


def _never_whole(kind: str, name: str, threshold: Any) -> str:
    holds = "never holds" if name == "eq" else "holds for every window"
    return f"{kind} is a whole number, so condition {name}: {_shown(threshold)} {holds}; write the count you meant"


def _misread(kind: str, name: str, written: Any, read: Any) -> str:
    said = f"condition {name}: {_shown(written)} is read by {PYSIGMA} as {name}: {read}, a different condition; "
    number = _number(written)
    if number is None:
        return said + "write a number"
    if kind in COUNT_KINDS:
        whole = _whole_count(name, number)
        if whole is None:
            return said + _never_whole(kind, name, written)
        key = {">=": "gte", "<=": "lte"}.get(whole[0], name)
        return (
            said + f"write {key}: {whole[1]} (the same condition on a count), or use pySigma 2.x, which keeps "
            "fractional thresholds"
        )
    return said + f"use pySigma 2.x, which keeps fractional thresholds (no whole number is the same threshold for {kind})"


def _check_written(kind: str, condition: Any, written: Any) -> None:
    if not isinstance(written, dict):
        return
    name = condition.op.name.lower()
    if name in written and _number(written[name]) != condition.count:
        raise ConditionProblem(_misread(kind, name, written[name], condition.count))
    if "percentile" in written and _number(written["percentile"]) != condition.percentile:
        said = (
            f"percentile {_shown(written['percentile'])} is read by {PYSIGMA} as {condition.percentile}, "
            "a different condition; "
        )
        what = "a whole-number percentile (pySigma reads only whole ones)"
        raise ConditionProblem(said + f"write {what if _number(written['percentile']) is not None else 'a number'}")


def exact_condition(rule: Any, kind: str) -> ExactCondition:
    """The operator, threshold and percentile the query compares with: exactly the rule's written
    condition, or ConditionProblem."""
    condition = rule.condition
    _check_written(kind, condition, written_condition(rule))
    name = condition.op.name.lower()
    threshold = condition.count
    operator = OPERATORS[name]
    if kind in COUNT_KINDS:
        whole = _whole_count(name, threshold)
        if whole is None:
            raise ConditionProblem(_never_whole(kind, name, threshold))
        operator, threshold = whole
    percentile = None if condition.percentile is None else float(condition.percentile)
    return ExactCondition(operator, float(threshold), percentile)
