"""The manifest `export` writes beside its files: the alert rules it manages and their content.

`DIR/sentinel-manifest.json` (written when the export has a deployable format, `arm` or `json`):

    {
      "format": "sigma-azure-aks/sentinel-manifest",
      "version": 1,
      "generator": "sigma-azure-aks 0.1.0",
      "target": "sentinel",
      "pipelines": [],                      # the -p names as given; [] = the target's defaults
      "rules": [                            # by alert rule name
        {
          "alert_rule": "<name>",           # the alertRules resource name, as the ARM output has it
          "kind": "Scheduled",
          "display_name": "...",
          "sigma_id": "...", "title": "...", "source": "rules/x.yml", "table": "AzureActivity",
          "target": "sentinel", "pipelines": [],
          "files": {"arm": "arm/x_1234abcd.json", ...},
          "content_hash": "sha256:<hex>",   # over the canonical deployable content
          "property_hashes": {"query": "<16 hex>", ...}   # one per property the export writes
        }
      ],
      "failures": [{"source": "...", "sigma_id": "..." | null, "error": "..."}]
    }

No timestamp: two exports of the same rules give the same manifest. The canonical form and the
hashes: :mod:`.canonical`. A reader refuses a newer `version` than it knows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..analytics import EXTENSIONS
from . import LifecycleInputError
from .canonical import content_hash, property_hashes
from .workspace import name_from_arm, read_json, rule_key

MANIFEST_NAME = "sentinel-manifest.json"
MANIFEST_FORMAT = "sigma-azure-aks/sentinel-manifest"
MANIFEST_VERSION = 1
TARGET = "sentinel"
DEPLOYABLE_FORMATS = ("arm", "json")
_REQUIRED = ("alert_rule", "kind", "content_hash", "property_hashes")
RULE_FIELDS = {
    "alert_rule": "the alert rule's resource name, as the ARM output names it (the last segment of "
    "`[concat(parameters('workspace'),'/Microsoft.SecurityInsights/<name>')]`; the REST and `az` name)",
    "kind": "the alert rule kind (`Scheduled`)",
    "display_name": "the rule's name in the portal (`displayName`)",
    "sigma_id": "the Sigma rule's `id`",
    "title": "the Sigma rule's `title`",
    "source": "the rule file, as found under the paths given to `export`",
    "table": "the Log Analytics table the query reads",
    "target": "`sentinel`",
    "pipelines": "the `-p` pipelines as given (`[]`: the target's defaults)",
    "files": "the files written for the rule, by format (paths relative to the export folder)",
    "content_hash": "`sha256:` and the SHA-256 of the canonical deployable content: `kind` and every "
    "property of the ARM resource",
    "property_hashes": "per property of the ARM resource, the first 16 hex digits of the SHA-256 of its "
    "canonical value: what names the properties that differ",
}
"""Every field of a rule in the manifest, with its meaning (docs/lifecycle.md shows the table)."""


@dataclass(frozen=True)
class ManagedRule:
    """One alert rule a manifest manages."""

    alert_rule: str
    kind: str
    content_hash: str
    property_hashes: Mapping[str, str]
    display_name: str = ""
    sigma_id: str = ""
    title: str = ""
    source: str = ""
    table: str = ""

    @property
    def key(self) -> str:
        return rule_key(self.alert_rule)

    @property
    def label(self) -> str:
        return self.title or self.display_name or self.alert_rule


@dataclass(frozen=True)
class Manifest:
    """A manifest as read: its rules by :func:`.workspace.rule_key`, the export's failures."""

    path: str
    rules: Mapping[str, ManagedRule]
    failures: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)


# ---- writing -------------------------------------------------------------------------------------


def _deployable(documents: Mapping[str, str]) -> tuple[str, str, dict[str, Any]]:
    """(alert rule name, kind, properties) from a rule's ARM template or REST body."""
    if "arm" in documents:
        resource = json.loads(documents["arm"])["resources"][0]
        name = name_from_arm(str(resource["name"]))
    else:
        resource = json.loads(documents["json"])
        name = str(resource["name"])
    if not name:
        raise ValueError(f"cannot read the alert rule name of {resource.get('name')!r}")
    return name, str(resource["kind"]), dict(resource["properties"])


def manifest_document(result: Any, pipelines: list[str]) -> dict[str, Any] | None:
    """The manifest of an :class:`..export.ExportResult` (None without a deployable format)."""
    if not any(fmt in result.formats for fmt in DEPLOYABLE_FORMATS):
        return None
    rules = []
    for exported in result.exported:
        name, kind, properties = _deployable(exported.documents)
        rules.append(
            {
                "alert_rule": name,
                "kind": kind,
                "display_name": str(properties.get("displayName") or ""),
                "sigma_id": exported.sigma_id,
                "title": exported.title,
                "source": exported.source,
                "table": exported.table,
                "target": TARGET,
                "pipelines": list(pipelines),
                "files": {fmt: f"{fmt}/{exported.name}.{EXTENSIONS[fmt]}" for fmt in exported.documents},
                "content_hash": content_hash(kind, properties, properties),
                "property_hashes": property_hashes(properties, properties),
            }
        )
    failures = [
        {"source": source, "sigma_id": sigma_id, "error": error} for source, sigma_id, error in result.failed
    ]
    return {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "generator": f"sigma-azure-aks {__version__}",
        "target": TARGET,
        "pipelines": list(pipelines),
        "rules": sorted(rules, key=lambda rule: rule_key(rule["alert_rule"])),
        "failures": sorted(failures, key=lambda failure: (failure["source"], failure["sigma_id"] or "")),
    }


def manifest_text(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# ---- reading -------------------------------------------------------------------------------------


def manifest_path(path: Path) -> Path:
    """The manifest file itself, or the one in a folder (an export's --out); LifecycleInputError."""
    if path.is_dir():
        inside = path / MANIFEST_NAME
        if not inside.is_file():
            raise LifecycleInputError(
                f"{path}: no {MANIFEST_NAME} in this folder (`sigma-azure-aks export` writes it with "
                "--format arm or json)"
            )
        return inside
    if not path.exists():
        raise LifecycleInputError(f"no such file or folder: {path}")
    return path


def _managed(item: Any, where: str) -> ManagedRule:
    if not isinstance(item, Mapping) or any(key not in item for key in _REQUIRED):
        raise LifecycleInputError(f"{where}: not a manifest rule (needs {', '.join(_REQUIRED)})")
    hashes = item["property_hashes"]
    if not isinstance(hashes, Mapping):
        raise LifecycleInputError(f"{where}: property_hashes is not an object")
    text = {key: str(item.get(key) or "") for key in ("display_name", "sigma_id", "title", "source", "table")}
    return ManagedRule(
        alert_rule=str(item["alert_rule"]),
        kind=str(item["kind"]),
        content_hash=str(item["content_hash"]),
        property_hashes={str(k): str(v) for k, v in hashes.items()},
        **text,
    )


def read_manifest(path: Path) -> Manifest:
    """A manifest file, or the one in a folder; LifecycleInputError naming the file and the problem."""
    file = manifest_path(path)
    document = read_json(file)
    if not isinstance(document, Mapping) or document.get("format") != MANIFEST_FORMAT:
        raise LifecycleInputError(
            f'{file}: not a sigma-azure-aks manifest (no "format": "{MANIFEST_FORMAT}"); give the '
            f"{MANIFEST_NAME} an export wrote, or its folder"
        )
    version = document.get("version")
    if not isinstance(version, int) or version < 1 or version > MANIFEST_VERSION:
        raise LifecycleInputError(
            f"{file}: manifest version {version!r}; this sigma-azure-aks reads version {MANIFEST_VERSION} "
            "(a newer manifest needs a newer sigma-azure-aks)"
        )
    items = document.get("rules")
    if not isinstance(items, list):
        raise LifecycleInputError(f"{file}: `rules` is not a list")
    rules: dict[str, ManagedRule] = {}
    for number, item in enumerate(items):
        rule = _managed(item, f"{file}: rules [{number}]")
        if rule.key in rules:
            raise LifecycleInputError(f"{file}: alert rule {rule.alert_rule} is listed twice")
        rules[rule.key] = rule
    failures = document.get("failures") or []
    if not isinstance(failures, list) or not all(isinstance(f, Mapping) for f in failures):
        raise LifecycleInputError(f"{file}: `failures` is not a list of objects")
    return Manifest(path=str(file), rules=rules, failures=tuple(failures))
