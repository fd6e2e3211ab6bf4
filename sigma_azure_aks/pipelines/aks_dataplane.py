"""Azure activity-log rules about Kubernetes objects -> the AKS audit log (`aks_dataplane`).

SigmaHQ's AKS activitylogs rules match operation names such as
``MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/BATCH/CRONJOBS/WRITE``: Azure RBAC DataActions checked
when a Kubernetes API call is authorized, not Azure Resource Manager operations, so AzureActivity
most likely never holds them. Kubernetes API calls are in the audit log (AKSAudit).

How a rule is translated: every catalogued operation (:mod:`k8s_catalogue`), plus every operation
the rule names literally, is evaluated against the rule's whole detection with Sigma's matching
rules (case-insensitive, wildcards, prefixes and suffixes, regular expressions, `not`). The set of
operations the detection accepts is then grouped into conditions on ``ObjectRef.apiGroup``,
``ObjectRef.resource``, ``ObjectRef.subresource`` and ``Verb``. No string of the rule is rewritten.
"""

from __future__ import annotations

import bisect
import functools
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sigma.conditions import (
    ConditionAND,
)
from sigma.exceptions import SigmaTransformationError
from sigma.processing.transformations.base import PreprocessingTransformation
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaDetections, SigmaLogSource, SigmaRule
from sigma.types import (
    SigmaNull,
    SigmaRegularExpression,
    SigmaString,
)

from ..notices import RuleWarning, emit
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
from ..sources import aks_audit, azure_activity
from ..sources.k8s_catalogue import (
    VERB_ORDER,
    KubernetesOperation,
    arm_operations,
    catalogue_operations,
    parse_operation,
)
from .transformations import CLAIMED_BY, QUERY_TABLE, add_note, logsource_matches, rule_label

CLAIMER = "aks_dataplane"
TABLE = aks_audit.TABLE
# Sigma field names (both activity-log dialects) that hold the operation name.
# Every Sigma name of the operation-name field, from the AzureActivity field map.
OPERATION_FIELDS = frozenset(
    name for name, target in azure_activity.FIELD_MAP.exact.items() if target.column == "OperationNameValue"
)
DETECTION_PREFIX = "k8s_operations_"

ARC_WARNING = (
    "Azure Arc-enabled Kubernetes operations (MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/...) were "
    "translated to the AKS audit log (AKSAudit): the query now watches AKS clusters. Arc clusters' "
    "audit events are in no Sentinel table by default; collect them yourself to cover Arc clusters."
)
ARC_LINE = (
    "Arc-enabled cluster operations are watched on AKS clusters only; collect Arc audit logs to cover Arc"
)


class AksDataPlaneWarning(RuleWarning):
    """A rule about Kubernetes data-plane operations was converted with a caveat."""


def show_warning(message: str, category: type[RuleWarning], details: str = "") -> None:
    """A warning shown once per rule: the message names the rule, and no registry is kept, so two
    rules with the same caveat both show it (on stderr under sigma-cli)."""
    emit(category(message, details))


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
@dataclass(frozen=True)
class AuditSelector:
    """Audit events of some resources of some API groups, one subresource condition, some verbs."""

    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    subresource: str | None
    verbs: tuple[str, ...]


def _verb_key(verb: str) -> int:
    return VERB_ORDER.index(verb) if verb in VERB_ORDER else len(VERB_ORDER)


def group_operations(operations: Iterable[KubernetesOperation]) -> list[AuditSelector]:
    """Group operations (providers merged) into as few selectors as keep the set exact."""
    verbs: dict[tuple[str, str, str | None], set[str]] = {}
    for op in operations:
        if not op.verbs:
            continue
        verbs.setdefault((op.api_group, op.resource, op.subresource_condition), set()).update(op.verbs)
    # (subresource, verbs) -> api group -> resources
    by_shape: dict[tuple[str | None, tuple[str, ...]], dict[str, set[str]]] = {}
    for (group, resource, subresource), verb_set in verbs.items():
        shape = (subresource, tuple(sorted(verb_set, key=_verb_key)))
        by_shape.setdefault(shape, {}).setdefault(group, set()).add(resource)
    selectors = []
    for (subresource, verb_tuple), groups in by_shape.items():
        # API groups with the same resource set share one selector.
        by_resources: dict[tuple[str, ...], list[str]] = {}
        for group, resources in groups.items():
            by_resources.setdefault(tuple(sorted(resources)), []).append(group)
        for resources, group_list in by_resources.items():
            selectors.append(AuditSelector(tuple(group_list), resources, subresource, verb_tuple))
    return sorted(selectors, key=lambda s: (s.api_groups, s.resources, s.subresource or "", s.verbs))


def _field(name: str) -> str:
    target = aks_audit.FIELD_MAP.resolve(name)
    assert target is not None
    return target.kql()


def selector_detection(selector: AuditSelector) -> SigmaDetection:
    groups: list[Any] = [SigmaNull() if g == "" else SigmaString(g) for g in selector.api_groups]
    items = [
        SigmaDetectionItem(_field("objectRef.apiGroup"), [], groups),
        SigmaDetectionItem(_field("objectRef.resource"), [], [SigmaString(r) for r in selector.resources]),
    ]
    if selector.subresource is not None:
        items.append(
            SigmaDetectionItem(_field("objectRef.subresource"), [], [SigmaString(selector.subresource)])
        )
    items.append(SigmaDetectionItem(_field("verb"), [], [SigmaString(v) for v in selector.verbs]))
    return SigmaDetection(detection_items=items, item_linking=ConditionAND)


def _examples(names: Iterable[str], limit: int = 4) -> str:
    names = sorted(names)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _warn(message: str, details: str = "") -> None:
    show_warning(message, AksDataPlaneWarning, details)


# ---- transformations -----------------------------------------------------------------------------
@dataclass
class DataPlaneTransformation(PreprocessingTransformation):
    """Claims an activity-log rule about Kubernetes objects for AKSAudit and rewrites its detection.

    A rule whose detection accepts only Azure Resource Manager operations is left to the next
    pipeline items (azure_activity). A rule accepting both kinds is refused: one query cannot read
    two tables with one condition; split the rule.
    """

    logsources: tuple[SigmaLogSource, ...] = field(default=azure_activity.LOGSOURCES)

    def apply(self, rule: Any) -> None:
        super().apply(rule)
        state = self._pipeline.state
        if not isinstance(rule, SigmaRule) or state.get(CLAIMED_BY) is not None:
            return
        if not logsource_matches(rule.logsource, self.logsources):
            return
        accepted = accepted_operations(rule)
        if not accepted.kubernetes or accepted.generic:
            return  # ARM operations, or operations in general (e.g. any .../DELETE): AzureActivity
        label = rule_label(rule)
        if accepted.arm:
            raise SigmaTransformationError(
                f"{label}: the detection accepts Kubernetes data-plane operations "
                f"({_examples(op.name for op in accepted.kubernetes)}) and Azure Resource Manager "
                f"operations ({_examples(accepted.arm)}). The first are in the AKS audit log "
                "(AKSAudit), the second in AzureActivity; one query cannot hold both. Split the rule, "
                "or convert it without -p aks_dataplane to keep it on AzureActivity."
            )
        if accepted.other_fields or accepted.keywords:
            what = ", ".join(f"'{f}'" for f in accepted.other_fields) or "keywords"
            raise SigmaTransformationError(
                f"{label}: besides the operation name, the detection uses {what}, which has no "
                "equivalent in the AKS audit log; aks_dataplane translates operation names only. "
                "Write the rule for product: kubernetes, service: audit instead."
            )
        unobservable = [op for op in accepted.kubernetes if not op.verbs]
        selectors = group_operations(accepted.kubernetes)
        if unobservable:
            reasons = sorted(
                {f"'{op.action}' {op.form.unobservable_reason}" for op in unobservable if op.form}
            )
            names = _examples(op.name for op in unobservable)
            if not selectors:
                raise SigmaTransformationError(
                    f"{label}: {len(unobservable)} accepted operation(s) ({names}) have no audit-log "
                    f"equivalent: {'; '.join(reasons)}. Nothing of the rule is left to query."
                )
            _warn(
                f"{label}: {len(unobservable)} accepted operation(s) have no audit-log equivalent and are "
                "left out; the query covers the other operations",
                f"Left out: {', '.join(sorted(op.name for op in unobservable))}: {'; '.join(reasons)}.",
            )
        if any(op.is_arc for op in accepted.kubernetes):
            _warn(f"{label}: {ARC_LINE}", ARC_WARNING)
            add_note(state, ARC_WARNING)
        detections = {f"{DETECTION_PREFIX}{i + 1}": selector_detection(s) for i, s in enumerate(selectors)}
        rule.detection = SigmaDetections(
            detections=detections,
            condition=[f"1 of {DETECTION_PREFIX}*"],
            source=rule.detection.source,
        )
        state[QUERY_TABLE] = TABLE
        state[CLAIMED_BY] = CLAIMER


def dataplane_warning_text(rule: Any, operations: Iterable[KubernetesOperation]) -> tuple[str, str]:
    """(one line, details) of the warning on a data-plane rule left on AzureActivity."""
    names = sorted(op.name for op in operations)
    line = (
        f"{rule_label(rule)}: Kubernetes data-plane operations are not in AzureActivity (the query "
        "likely never fires); convert with -p aks_dataplane"
    )
    details = (
        f"Operations: {', '.join(names)}. They are Kubernetes data-plane operations (Azure RBAC "
        "DataActions); AzureActivity records Azure Resource Manager operations only. -p aks_dataplane "
        "translates them to the AKS audit log (AKSAudit)."
    )
    return line, details


@dataclass
class DataPlaneNoticeTransformation(PreprocessingTransformation):
    """For a rule claimed by azure_activity: warn when its detection accepts Kubernetes data-plane
    operations, which AzureActivity does not record. The query is still written."""

    claimers: tuple[str, ...] = ("azure_activity",)

    def apply(self, rule: Any) -> None:
        super().apply(rule)
        if not isinstance(rule, SigmaRule) or self._pipeline.state.get(CLAIMED_BY) not in self.claimers:
            return
        if not _names_kubernetes_provider(rule):
            return  # cheap pre-check: a rule about Kubernetes names its provider (or uses a regex)
        if names_no_kubernetes_operation(rule):
            return  # second pre-check: only whole names, none a Kubernetes operation, none negated
        accepted = accepted_operations(rule)
        if accepted.kubernetes and not accepted.generic:
            _warn(*dataplane_warning_text(rule, accepted.kubernetes))


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


def _names_kubernetes_provider(rule: SigmaRule) -> bool:
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
