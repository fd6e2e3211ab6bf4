"""Transformations of the `gcp_audit` pipeline (gcp/gcp.audit rules -> GCPAuditLogs), named by the
features of sources/gcp_audit.py.

Decision, tested: a methodName value that names a Kubernetes method in a form GKE never logs
(`admissionregistration.k8s.io.v...`, `io.k8s.api.batch.v*.Job`), or a logName value that is not a
full log name (`cloudaudit.googleapis.com/activity`), is converted as written, with a warning that
says why it matches no entry and what Cloud Logging writes instead: the rule's meaning is kept, and
its author learns that it is silent on real logs.
"""

from __future__ import annotations

from sigma.rule import SigmaDetectionItem
from sigma.types import SigmaString

from ..notices import RuleWarning, emit
from ..sources.gcp_audit import (
    FIELD_MAP,
    LOG_NAME_COLUMN,
    METHOD_NAME_COLUMN,
    kubernetes_method_problem,
    log_name_problem,
)
from .state import rule_label
from .transformations import RuleDetectionItemTransformation


class GcpAuditWarning(RuleWarning):
    """A gcp/gcp.audit rule was converted with a caveat."""


def _leading_text(value: SigmaString) -> str | None:
    """The value's text before its first wildcard, or None when it begins with one (not anchored)."""
    leading = []
    for part in value.s:
        if not isinstance(part, str):
            break
        leading.append(part)
    return "".join(leading) or None


class KubernetesMethodNameWarnings(RuleDetectionItemTransformation):
    """Warns on methodName values naming a Kubernetes method in a form GKE never logs."""

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> SigmaDetectionItem | None:
        name = detection_item.field
        target = FIELD_MAP.resolve(name) if name else None
        if target is None or target.is_member or target.column != METHOD_NAME_COLUMN:
            return None
        for value in detection_item.value:
            if not isinstance(value, SigmaString) or "k8s" not in "".join(
                part for part in value.s if isinstance(part, str)
            ).lower():
                continue
            leading = _leading_text(value)
            problem = kubernetes_method_problem(leading) if leading is not None else None
            if problem is not None:
                emit(
                    GcpAuditWarning(
                        f"{rule_label(self._rule)}: field '{name}': the value '{value}' matches no method name "
                        f"GKE logs ({problem}, e.g. io.k8s.batch.v1.cronjobs.create); converted as written"
                    )
                )
        return None


class LogNameWarnings(RuleDetectionItemTransformation):
    """Warns on logName values anchored at their start that are not a full log name."""

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> SigmaDetectionItem | None:
        name = detection_item.field
        target = FIELD_MAP.resolve(name) if name else None
        if target is None or target.is_member or target.column != LOG_NAME_COLUMN:
            return None
        for value in detection_item.value:
            leading = _leading_text(value) if isinstance(value, SigmaString) else None
            problem = log_name_problem(leading) if leading is not None else None
            if problem is not None:
                emit(
                    GcpAuditWarning(
                        f"{rule_label(self._rule)}: field '{name}': the value '{value}' matches no logName "
                        f"({problem}); converted as written; write |endswith to match the log's id"
                    )
                )
        return None
