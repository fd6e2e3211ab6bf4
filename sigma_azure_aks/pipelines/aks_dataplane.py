"""Azure activity-log rules about Kubernetes objects -> the AKS audit log (`aks_dataplane`).

SigmaHQ's AKS activitylogs rules match operation names such as
``MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/BATCH/CRONJOBS/WRITE``: Azure RBAC DataActions checked
when a Kubernetes API call is authorized, not Azure Resource Manager operations, so AzureActivity
most likely never holds them. Kubernetes API calls are in the audit log (AKSAudit).

How a rule is translated: every catalogued operation (:mod:`..sources.k8s_catalogue`), plus every operation
the rule names literally, is evaluated against the rule's whole detection with Sigma's matching
rules (case-insensitive, wildcards, prefixes and suffixes, regular expressions, `not`). The set of
operations the detection accepts is then grouped into conditions on ``ObjectRef.apiGroup``,
``ObjectRef.resource``, ``ObjectRef.subresource`` and ``Verb``. No string of the rule is rewritten.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sigma.conditions import (
    ConditionAND,
)
from sigma.exceptions import SigmaTransformationError
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations.base import PreprocessingTransformation
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaDetections, SigmaLogSource, SigmaRule
from sigma.types import (
    SigmaNull,
    SigmaString,
)

from ..notices import RuleWarning, emit
from ..sources import aks_audit, azure_activity
from ..sources.k8s_catalogue import (
    VERB_ORDER,
    KubernetesOperation,
)
from .aks_dataplane_analysis import (
    accepted_operations,
    names_kubernetes_provider,
    names_no_kubernetes_operation,
)
from .factories import NAME_SUFFIX
from .items import source_items, source_postprocessing_items, stock_guard_item
from .state import CLAIMED_BY, PRIORITY, QUERY_TABLE, add_note, claim_identifier, rule_label
from .transformations import logsource_matches

CLAIMER = "aks_dataplane"
TABLE = aks_audit.TABLE
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
    emit(AksDataPlaneWarning(message, details))


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
                "left out, the query covers the others; --verbose names them and why",
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
        if not names_kubernetes_provider(rule):
            return  # cheap pre-check: a rule about Kubernetes names its provider (or uses a regex)
        if names_no_kubernetes_operation(rule):
            return  # second pre-check: only whole names, none a Kubernetes operation, none negated
        accepted = accepted_operations(rule)
        if accepted.kubernetes and not accepted.generic:
            _warn(*dataplane_warning_text(rule, accepted.kubernetes))


def dataplane_pipeline() -> ProcessingPipeline:
    """`aks_dataplane` (declared by sources/azure_activity.py): activity-log rules about Kubernetes
    objects -> AKSAudit; the other activity-log rules -> AzureActivity (azure_activity's items follow)."""
    fallback = azure_activity.SOURCE
    return ProcessingPipeline(
        name=f"Azure activity logs about Kubernetes objects to Microsoft Sentinel {TABLE} {NAME_SUFFIX}",
        priority=PRIORITY,
        items=[
            ProcessingItem(identifier=claim_identifier(CLAIMER), transformation=DataPlaneTransformation()),
            stock_guard_item(CLAIMER),
            *source_items(fallback),
        ],
        postprocessing_items=source_postprocessing_items(fallback),
    )
