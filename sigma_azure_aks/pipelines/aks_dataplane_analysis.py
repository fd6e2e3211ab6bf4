"""What a rule's operation names mean for AKS: which Kubernetes data-plane operations of the
catalogue its values accept (exactly, by pattern, or through a generic probe), and the cheap
pre-checks that let most rules skip the analysis."""


from __future__ import annotations

import bisect
import functools
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sigma.rule import SigmaDetection, SigmaRule
from sigma.types import (
    SigmaRegularExpression,
    SigmaString,
)

from ..semantics import (
    Unknown,
    condition_fields,
    detection_items,
    field_nodes,
    leaves,
    parsed_conditions,
    possibly_accepts,
    string_matcher,
    under_not,
    value_matches,
    values_of,
)
from ..sources import azure_activity
from ..sources.k8s_catalogue import (
    KubernetesOperation,
    arm_operations,
    catalogue_operations,
    parse_operation,
)

# Sigma field names (both activity-log dialects) that hold the operation name.
# Every Sigma name of the operation-name field, from the AzureActivity field map.
OPERATION_FIELDS = frozenset(
    name for name, target in azure_activity.FIELD_MAP.exact.items() if target.column == "OperationNameValue"
)


def _plain(value: Any) -> bool:
    return isinstance(value, SigmaString) and not value.contains_special()


def literal_operations(nodes: list[Any]) -> set[str]:
    """Operation names a rule's operation-name nodes (of its parsed conditions) write out in full."""
    return {
        value.to_plain()
        for node in nodes
        for value in values_of(node.value)
        if isinstance(value, SigmaString) and not value.contains_special()
    }


@dataclass(frozen=True)
class Accepted:
    """What a rule's detection accepts among operation names."""

    kubernetes: tuple[KubernetesOperation, ...]
    arm: tuple[str, ...]
    other_fields: tuple[str, ...]
    keywords: bool
    # The detection accepts the same operation paths under any resource provider (e.g. every
    # operation ending in /DELETE): it is about operations in general, not about Kubernetes.
    generic: bool = False


def accepted_operations(rule: SigmaRule) -> Accepted:
    """Enumerate the catalogue (and the rule's literal operations) against the whole detection."""
    conditions = parsed_conditions(rule)
    all_leaves = list(leaves(conditions))
    fields, keywords = condition_fields(rule, all_leaves)
    other = tuple(sorted(f for f in fields if f not in OPERATION_FIELDS))
    if not fields & OPERATION_FIELDS:
        return Accepted((), (), other, keywords)

    # The detection's truth depends on an operation name only through its operation-name values:
    # match those (a few patterns) per name, and evaluate the condition once per distinct outcome.
    nodes = [node for node in field_nodes(all_leaves) if node.field in OPERATION_FIELDS]
    values = [node.value for node in nodes]
    outcomes: dict[tuple[bool | None, ...], bool] = {}
    catalogue: dict[str, KubernetesOperation] = {}
    arm_base: frozenset[str] = frozenset()
    if not all(_plain(value) and not under_not(node) for node, value in zip(nodes, values, strict=True)):
        # Patterns, or names under `not`: any catalogued operation may be accepted. (Otherwise
        # only whole operation names, none under `not`: nothing but those names can be accepted.)
        catalogue, arm_base = _catalogue_dict(), _arm_names()
    extra: dict[str, KubernetesOperation] = {}
    extra_arm: set[str] = set()
    for literal in literal_operations(nodes):
        parsed = parse_operation(literal)
        if parsed is not None:
            if parsed.name not in catalogue:
                extra.setdefault(parsed.name, parsed)
        elif literal.upper() not in arm_base:
            extra_arm.add(literal.upper())  # another operation: it stays on AzureActivity
    # In catalogue order, whichever way they were found, so that the grouping is stable: the
    # catalogue is in that order, and names outside it follow it in the order the rule gives them.
    candidates = {**catalogue, **extra} if extra else catalogue
    if extra and not catalogue:
        order = _catalogue_order()
        candidates = dict(sorted(extra.items(), key=lambda item: order.get(item[0], len(order))))
    # Each value matched against the names at once (a compiled pattern run by filter()): against
    # the catalogue through its index, which hands over only the names the value's literal prefix
    # or suffix allows; a name that no value matches has the all-False outcome, decided once.
    index = _catalogue_index() if catalogue else None
    rest = [*extra, *extra_arm]
    results = [
        _matches_by_name(value, [*index.candidates(value), *rest] if index else rest) for value in values
    ]
    matched = {name for result in results for name, hit in result.items() if hit is not False}
    unmatched = tuple(False for _ in values)

    def decide(outcome: tuple[bool | None, ...]) -> bool:
        if outcome not in outcomes:
            truth = {id(value): result for value, result in zip(values, outcome, strict=True)}

            def lookup(field_name: str, value: Any) -> bool | None:
                return truth.get(id(value), Unknown) if field_name in OPERATION_FIELDS else Unknown

            outcomes[outcome] = possibly_accepts(conditions, lookup)
        return outcomes[outcome]

    def accepts(name: str) -> bool:
        if name not in matched:
            return decide(unmatched)
        return decide(tuple(result.get(name, False) for result in results))

    if decide(unmatched):
        kubernetes = tuple(op for name, op in candidates.items() if accepts(name))
        arm = tuple(sorted(name for name in arm_base | extra_arm if accepts(name)))
    else:  # only names some value matches can be accepted
        kubernetes = (
            tuple(op for name, op in candidates.items() if name in matched and accepts(name)) if matched else ()
        )
        arm = tuple(
            sorted(name for name in matched if (name in arm_base or name in extra_arm) and accepts(name))
        )
    generic = bool(kubernetes) and _generic(kubernetes, values, decide)  # nothing to probe without them
    return Accepted(kubernetes, arm, other, keywords, generic)


def _generic(
    kubernetes: tuple[KubernetesOperation, ...],
    values: list[Any],
    decide: Callable[[tuple[bool | None, ...]], bool],
) -> bool:
    """Does the detection accept the same operation paths under a provider that is not Kubernetes?
    Probed on the first accepted operations, every value matched against all probes at once."""
    probes = [_under_other_provider(op.name) for op in kubernetes[:GENERIC_PROBES]]
    results = [_matches_by_name(value, probes) for value in values]
    return any(decide(tuple(result.get(probe, False) for result in results)) for probe in probes)


@functools.lru_cache(maxsize=1)
def _catalogue_by_name() -> tuple[tuple[str, KubernetesOperation], ...]:
    return tuple((op.name, op) for op in catalogue_operations())


@functools.lru_cache(maxsize=1)
def _catalogue_dict() -> dict[str, KubernetesOperation]:
    """The catalogue by operation name (shared: never modify it)."""
    return dict(_catalogue_by_name())


@functools.lru_cache(maxsize=1)
def _arm_names() -> frozenset[str]:
    return frozenset(arm_operations())


class NameIndex:
    """Operation names sorted by their lower-cased text and by its reverse: the names a Sigma string
    can match whole are among those that start with its literal prefix (or end with its literal
    suffix), found by bisection. Only a prefilter: the caller still matches each name it gets."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(names)
        self._usable = all(name.isascii() for name in self.names)
        self._forward = sorted((name.lower(), name) for name in self.names)
        self._backward = sorted((name.lower()[::-1], name) for name in self.names)

    def candidates(self, value: Any) -> Sequence[str]:
        if not (self._usable and isinstance(value, SigmaString)):
            return self.names  # regular expressions, expansions, null, exists: every name
        parts = value.s
        prefix = "".join(itertools.takewhile(lambda part: isinstance(part, str), parts))
        suffix = "".join(
            reversed(list(itertools.takewhile(lambda part: isinstance(part, str), reversed(parts))))
        )
        # Case-insensitive matching of ASCII text is lower-casing; other text keeps every name.
        if prefix and prefix.isascii():
            return self._range(self._forward, prefix.lower())
        if suffix and suffix.isascii():
            return self._range(self._backward, suffix.lower()[::-1])
        return self.names

    @staticmethod
    def _range(keyed: list[tuple[str, str]], start: str) -> list[str]:
        first = bisect.bisect_left(keyed, (start, ""))
        found = []
        for key, name in itertools.islice(keyed, first, None):
            if not key.startswith(start):
                break
            found.append(name)
        return found


@functools.lru_cache(maxsize=1)
def _catalogue_index() -> NameIndex:
    return NameIndex([*_catalogue_dict(), *_arm_names()])


@functools.lru_cache(maxsize=1)
def _catalogue_order() -> dict[str, int]:
    return {name: index for index, (name, _) in enumerate(_catalogue_by_name())}


def _matches_by_name(value: Any, names: list[str]) -> dict[str, bool | None]:
    """value_matches(value, name) for every name, as a mapping in which a missing name is False;
    plain Sigma strings go through one whole-value test."""
    if isinstance(value, SigmaString):
        test = string_matcher(value)
        if test is not None:
            return dict.fromkeys(filter(test, names), True)
    return {name: value_matches(value, name) for name in names}


GENERIC_PROBES = 25
_PROBE_PROVIDER = "MICROSOFT.SIGMAPROBE/RESOURCES"


def _under_other_provider(name: str) -> str:
    """The same operation path under a resource provider that is not Kubernetes."""
    parts = name.split("/", 2)
    return f"{_PROBE_PROVIDER}/{parts[2]}" if len(parts) == 3 else name


# ---- grouping into audit-log conditions ----------------------------------------------------------
_KUBERNETES_PROVIDERS = ("MANAGEDCLUSTERS", "CONNECTEDCLUSTERS")


def names_no_kubernetes_operation(rule: SigmaRule) -> bool:
    """True when every operation-name value of the rule is a whole name (no wildcard, no pattern)
    that is not a Kubernetes data-plane operation, and no condition can negate one. Then
    accepted_operations() weighs only the rule's own names, none of them Kubernetes ones: it accepts
    no Kubernetes operation, which this tells without parsing the condition."""
    if any("not" in condition.lower() for condition in rule.detection.condition):
        return False  # (a conservative reading: any `not`, or a name containing it)
    for detection in rule.detection.detections.values():
        for item in detection_items(detection):
            if item.field in OPERATION_FIELDS:
                for value in item.value:
                    if not _plain(value) or parse_operation(value.to_plain()) is not None:
                        return False
    return True


def names_kubernetes_provider(rule: SigmaRule) -> bool:
    """True when an operation-name value of the rule mentions a Kubernetes cluster provider or is a
    regular expression. Rules without either (e.g. `endswith: /DELETE`) are about operations in
    general and never get the data-plane warning, so their values need no costly analysis."""

    def mentions(detection: Any) -> bool:
        for item in detection.detection_items:
            if isinstance(item, SigmaDetection):
                if mentions(item):
                    return True
            elif item.field in OPERATION_FIELDS:
                for value in item.value:
                    if isinstance(value, SigmaRegularExpression):
                        return True
                    text = str(value).upper()
                    if any(provider in text for provider in _KUBERNETES_PROVIDERS):
                        return True
        return False

    return any(mentions(detection) for detection in rule.detection.detections.values())


# ---- the pipeline ----------------------------------------------------------------------------------
