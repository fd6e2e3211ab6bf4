"""Transformations of the `gcp_workspace` pipeline (Google Workspace rules -> GoogleWorkspaceReports),
named by the features of sources/gcp_workspace.py.

Decision, tested: a value on a parameter read by name (`parameters.is_suspicious: true`) matches the
parameter's `value` member only, and Google writes boolean, integer and multi-valued parameters under
boolValue, intValue and multiValue. A rule on a parameter other than the admin events' text ones
(SETTING_NAME, NEW_VALUE, OLD_VALUE) is converted as written, with a warning that says so and what to
match instead: the rule may be right (a text parameter), and its author learns when it is silent.
"""

from __future__ import annotations

from sigma.rule import SigmaDetectionItem

from ..notices import RuleWarning, emit
from ..sources.gcp_workspace import FIELD_MAP, PARAMETERS, typed_parameter_problem
from .state import rule_label
from .transformations import RuleDetectionItemTransformation


class GcpWorkspaceWarning(RuleWarning):
    """A Google Workspace rule was converted with a caveat."""


class TypedParameterWarnings(RuleDetectionItemTransformation):
    """Warns on values on a parameter that Google may write as boolValue, intValue or multiValue."""

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> SigmaDetectionItem | None:
        name = detection_item.field
        target = FIELD_MAP.resolve(name) if name else None
        if target is None or target.column != PARAMETERS or not target.path:
            return None
        problem = typed_parameter_problem(target.path[0])
        if problem is not None:
            emit(GcpWorkspaceWarning(f"{rule_label(self._rule)}: field '{name}': {problem}; converted as written"))
        return None
