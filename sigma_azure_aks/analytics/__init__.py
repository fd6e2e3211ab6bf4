"""Sentinel scheduled analytics rules from converted Sigma rules (formats `yaml`, `arm`, `json`).

Import-light: the model and renderers load when a rule is first rendered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["combine_output", "render_rule"]


def render_rule(
    rule: Any,
    query: str,
    table: str | None,
    output_format: str,
    backend_options: Mapping[str, Any] | None,
    notes: Sequence[str] = (),
) -> str:
    """One converted rule as one complete document: an Azure-Sentinel YAML template (`yaml`), an
    ARM template with one alertRules resource (`arm`) or a REST API body (`json`). `notes` (what
    the conversion changed, e.g. Arc operations watched on AKS) go into the description.
    ValueError when the rule cannot become a valid Sentinel rule."""
    from .model import build_rule
    from .render import render

    return render(build_rule(rule, query, table, backend_options, notes), output_format)


def combine_output(queries: Sequence[Any], fmt: str) -> str:
    """The documents of several rules as one: YAML multi-document, one ARM template (at most 50
    rules, the Import limit), or a JSON array (a lone rule stays an object)."""
    from .render import combine

    return combine(list(queries), fmt)
