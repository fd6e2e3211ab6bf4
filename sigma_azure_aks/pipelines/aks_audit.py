"""Transformations of the `aks_audit` pipelines (kubernetes/audit rules -> AKSAudit,
AKSAuditAdmin or legacy AzureDiagnostics), named by the features of sources/aks_audit.py.

Decisions, each tested:

- Arrays (`sourceIPs`, `user.groups`, `user.extra.<key>`): a value matches when it matches any
  element, as for multi-valued fields everywhere in Sigma. KQL has no per-element predicate in a
  `where`, so each value becomes an anchored RE2 pattern over the array's JSON text that matches
  exactly one whole element (`tostring(SourceIps) matches regex ...`). `|re`, `|cidr` and
  `|fieldref` on arrays are refused (a user's pattern cannot be confined to one element).
- `hostPath: '*'` / `capabilities: '*'` (presence): the pod spec in RequestObject has a volume
  with a hostPath / a container, init container or ephemeral container whose securityContext has
  capabilities. Written with `treepath()` (every member path of the spec, array indices
  included) and an anchored pattern, so a `hostPath` key anywhere else (CSI volume attributes,
  annotations) does not count. Any other value is refused.
- AKSAuditAdmin leaves out get and list events: a rule that can only match get/list is refused;
  one that can also match them warns that those matches are lost.
- Legacy AzureDiagnostics: ``AzureDiagnostics | where Category in ("kube-audit",
  "kube-audit-admin") | extend event = parse_json(log_s) | where ...``: the source's preamble
  (sources/aks_audit.py), written by the shared preamble item.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sigma.exceptions import SigmaTransformationError
from sigma.processing.transformations.base import PreprocessingTransformation
from sigma.rule import SigmaDetectionItem, SigmaRule
from sigma.types import (
    SigmaExists,
    SigmaQueryExpression,
    SigmaString,
    SpecialChars,
)

from .. import kql
from ..notices import RuleWarning, emit
from ..semantics import parsed_conditions, possibly_accepts, value_matches
from ..sources.aks_audit import canonical, is_array_field
from ..sources.k8s_catalogue import ALL_VERBS
from .arrays import array_value as _array_value
from .arrays import expression as _expression
from .state import rule_label
from .transformations import RuleDetectionItemTransformation

ADMIN_MISSING_VERBS = frozenset({"get", "list"})


class AksAuditWarning(RuleWarning):
    """A kubernetes/audit rule was converted with a caveat."""


def _warn(message: str) -> None:
    emit(AksAuditWarning(message))


# ---- pod spec --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PodSpecPresence:
    """A Sigma field that stands for the presence of something inside the pod spec."""

    field: str
    spec_field: str
    path_regex: str
    meaning: str


POD_SPEC_FIELDS: dict[str, PodSpecPresence] = {
    p.field: p
    for p in (
        PodSpecPresence(
            "hostPath",
            "requestObject.spec",
            r"\['volumes'\]\[\d+\]\['hostPath'\]",
            "a volume of the pod spec (requestObject.spec.volumes[]) has a hostPath",
        ),
        PodSpecPresence(
            "capabilities",
            "requestObject.spec",
            r"\['(?:containers|initContainers|ephemeralContainers)'\]\[\d+\]\['securityContext'\]\['capabilities'\]",
            "a container, init container or ephemeral container of the pod spec has "
            "securityContext.capabilities",
        ),
    )
}


def pod_spec_expression(presence: PodSpecPresence) -> SigmaQueryExpression:
    pattern = kql.string_literal(rf'"{presence.path_regex}(?:\[[^"]*)?"')
    return _expression(f"tostring(treepath({{field}})) matches regex {pattern}")


@dataclass
class AuditValuesTransformation(RuleDetectionItemTransformation):
    """Rewrites what the audit tables cannot compare directly: array fields (any element matches)
    and pod-spec presence fields (hostPath, capabilities); warns on values a field never holds."""

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> SigmaDetectionItem | None:
        name = detection_item.field
        if name is None:
            return None
        label = rule_label(self._rule)
        presence = POD_SPEC_FIELDS.get(name)
        if presence is not None:
            return self._pod_spec(detection_item, presence, label)
        if is_array_field(name):
            detection_item.value = [_array_value(v, label, name) for v in detection_item.value]
            return detection_item
        if canonical(name) in {"responseStatus.code", "ResponseStatus.code"}:
            for value in detection_item.value:
                if isinstance(value, SigmaString) and not value.contains_special():
                    if not value.to_plain().strip().isdigit():
                        _warn(
                            f"{label}: responseStatus.code is a number (the HTTP status), so the value "
                            f"'{value.to_plain()}' never matches it; use the status number (e.g. 403)"
                        )
        return None

    def _pod_spec(
        self, item: SigmaDetectionItem, presence: PodSpecPresence, label: str
    ) -> SigmaDetectionItem:
        values = []
        for value in item.value:
            present = (
                isinstance(value, SigmaString)
                and bool(value.s)
                and all(part == SpecialChars.WILDCARD_MULTI for part in value.s)
            ) or (isinstance(value, SigmaExists) and value.exists)
            if not present:
                raise SigmaTransformationError(
                    f"{label}: '{presence.field}' is not an audit event field; it lives inside the pod "
                    f"spec (requestObject.spec). Only its presence ('{presence.field}: \"*\"' or "
                    f"|exists: true) is translated: {presence.meaning}. Match the value with "
                    "requestObject.spec.<path> instead."
                )
            values.append(pod_spec_expression(presence))
        return SigmaDetectionItem(presence.spec_field, [], values)


# ---- AKSAuditAdmin -----------------------------------------------------------------------------
@dataclass
class AdminVerbsTransformation(PreprocessingTransformation):
    """AKSAuditAdmin has no get and list events: refuse a rule that can only match them, warn when
    some of its matches would be get or list."""

    def apply(self, rule: Any) -> None:
        super().apply(rule)
        if not isinstance(rule, SigmaRule):
            return

        conditions = parsed_conditions(rule)

        def verbs_possible() -> set[str]:
            possible = set()
            for verb in ALL_VERBS:

                def lookup(field_name: str, value: Any, verb: str = verb) -> bool | None:
                    return value_matches(value, verb) if canonical(field_name) in {"verb", "Verb"} else None

                if possibly_accepts(conditions, lookup):
                    possible.add(verb)
            return possible

        possible = verbs_possible()
        lost = possible & ADMIN_MISSING_VERBS
        if not lost:
            return
        label = rule_label(rule)
        if possible <= ADMIN_MISSING_VERBS:
            raise SigmaTransformationError(
                f"{label}: the rule matches only {' and '.join(sorted(lost))} requests, which AKSAuditAdmin "
                "leaves out; it could never fire there. Use the aks_audit pipeline (AKSAudit)."
            )
        _warn(
            f"{label}: AKSAuditAdmin leaves out get and list requests, so the rule's matches on "
            f"{' and '.join(sorted(lost))} requests are not seen there; use the aks_audit pipeline (AKSAudit) "
            "to see them"
        )
