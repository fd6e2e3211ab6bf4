"""Sentinel scheduled analytics rules from converted Sigma rules (formats `yaml`, `arm`, `json`), and
Defender XDR custom detection rules (format `defender`).

Import-light: the model and renderers load when a rule is first rendered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["EXTENSIONS", "FORMATS", "OutputFormat", "combine_output", "output_format", "render_rule"]


@dataclass(frozen=True)
class OutputFormat:
    """One output format of the `sentinel` target.

    name         the sigma-cli format name (`-f`)
    description  what `sigma list formats` shows
    export_name  its name in `sigma-azure-aks export --format`
    extension    the file extension `export` writes
    analytics    whether it wraps the query into an analytics rule (else it is the query itself)
    look_back    whether the rule it writes carries a look-back (Sentinel's query_period); a Defender
                 custom detection carries only its frequency, and Defender sets the look-back
    """

    name: str
    description: str
    export_name: str
    extension: str
    analytics: bool = True
    look_back: bool = True


FORMATS: tuple[OutputFormat, ...] = (
    OutputFormat("default", "KQL query: the table, then one where clause", "kql", "kql", analytics=False),
    OutputFormat("yaml", "Azure-Sentinel analytics rule template (YAML)", "yaml", "yaml"),
    OutputFormat(
        "arm", "ARM template of Sentinel scheduled analytics rules (Analytics > Import, az deployment)", "arm", "json"
    ),
    OutputFormat("json", "Sentinel REST API analytics rule bodies (JSON)", "json", "json"),
    OutputFormat(
        "defender",
        "Defender XDR custom detection rule bodies (Microsoft Graph v1.0 security/rules/detectionRules, JSON)",
        "defender",
        "json",
        look_back=False,
    ),
)
EXTENSIONS = {f.export_name: f.extension for f in FORMATS}
"""The file extension of each export name (`kql/<name>.kql`, `arm/<name>.json`, ...)."""


def output_format(name: str) -> OutputFormat | None:
    """The format of a sigma-cli or export name, or None."""
    return next((f for f in FORMATS if name in (f.name, f.export_name)), None)


def render_rule(
    rule: Any,
    query: str,
    table: str | None,
    output_format: str,
    backend_options: Mapping[str, Any] | None,
    notes: Sequence[str] = (),
    union: Sequence[str] = (),
) -> str:
    """One converted rule as one complete document: an Azure-Sentinel YAML template (`yaml`), an
    ARM template with one alertRules resource (`arm`) or a REST API body (`json`). `notes` (what
    the conversion changed, e.g. Arc operations watched on AKS) go into the description; `union`:
    the tables the query searches beside `table` (a union pipeline), whose data types it requires.
    ValueError when the rule cannot become a valid Sentinel rule."""
    from .model import build_rule
    from .render import render

    look_back = all(f.look_back for f in FORMATS if output_format in (f.name, f.export_name))
    return render(build_rule(rule, query, table, backend_options, notes, union, look_back), output_format)


def combine_output(queries: Sequence[Any], fmt: str) -> str:
    """The documents of several rules as one: YAML multi-document, one ARM template (at most 50
    rules, the Import limit), or a JSON array (a lone rule stays an object)."""
    from .render import combine

    return combine(list(queries), fmt)
