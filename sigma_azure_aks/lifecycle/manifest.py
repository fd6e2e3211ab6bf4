"""The manifest `export` writes beside its files: the alert rules it manages and their content.

`DIR/sentinel-manifest.json` (written when the export has a deployable format, `arm` or `json`):

    {
      "format": "sigma-azure-aks/sentinel-manifest",
      "version": 1,
      "generator": "sigma-azure-aks 0.1.0",
      "target": "sentinel",
      "pipelines": [],                      # the -p names as given; [] = the target's defaults
      "root": "../rules",                   # the rules root, relative to this file's folder
      "rules": [                            # by alert rule name
        {
          "alert_rule": "<name>",           # the alertRules resource name, as the ARM output has it
          "kind": "Scheduled",
          "display_name": "...",
          "sigma_id": "...", "title": "...", "source": "x.yml", "table": "AzureActivity",
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
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__, arm
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
    "source": "the rule file, relative to the rules root (see `root`), with `/`: the same whatever "
    "spelling `export` was given the paths in (relative, absolute, from another folder)",
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
    root: Path | None = None  # the rules root, where `root` puts it from the manifest's folder

    def still_there(self, source: str) -> bool:
        """Whether the rule file `source` (relative to a rules root) is a file under this root."""
        if self.root is None or not source or Path(source).is_absolute():
            return False
        return (self.root / source).is_file()

    def unreadable(self) -> list[str]:
        """The files of failures that name no Sigma id (the file itself could not be read)."""
        return sorted({str(f.get("source") or "") for f in self.failures if not f.get("sigma_id")})


# ---- writing -------------------------------------------------------------------------------------


def _deployable(documents: Mapping[str, str]) -> tuple[str, str, dict[str, Any]]:
    """(alert rule name, kind, properties) from a rule's ARM template or REST body."""
    if "arm" in documents:
        resource = json.loads(documents["arm"])["resources"][0]
        name = name_from_arm(str(resource["name"]))
        properties = arm.deployed_values(resource["properties"])  # what the deployment writes
    else:
        resource = json.loads(documents["json"])
        name = str(resource["name"])
        properties = resource["properties"]
    if not name:
        raise ValueError(f"cannot read the alert rule name of {resource.get('name')!r}")
    return name, str(resource["kind"]), dict(properties)


def rules_root(paths: Iterable[str | Path]) -> Path:
    """The folder rule sources are named relative to: the top of the git work tree holding the
    paths given (so `rules/x.yml` whatever paths or spelling `export` was given), else the common
    folder of the paths (a file counts by its folder). Absolute; symbolic links are not followed."""
    folders = [os.path.abspath(p if Path(p).is_dir() else Path(p).parent) for p in paths]
    if not folders:
        return Path(os.path.abspath("."))
    common = Path(os.path.commonpath(folders))
    for folder in (common, *common.parents):
        if (folder / ".git").exists():
            return folder
    return common


def source_name(path: str | Path, root: Path) -> str:
    """A rule file's name in the manifest: relative to `root`, with `/`."""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute, root)
    return Path(absolute if relative.startswith("..") else relative).as_posix()


def same_file(one: str, other: str) -> bool:
    """Whether two manifest sources name one file: equal, or one ends with the other as whole path
    segments (a manifest written before sources were root-relative spells them as given)."""
    a, b = (re.sub(r"^(?:\./)+", "", text.replace("\\", "/")) for text in (one, other))
    if not a or not b:
        return False
    return a == b or a.endswith("/" + b) or b.endswith("/" + a)


def manifest_document(
    result: Any, pipelines: list[str], rule_paths: Iterable[str | Path] = (), out: Path | None = None
) -> dict[str, Any] | None:
    """The manifest of an :class:`..export.ExportResult` (None without a deployable format).
    `rule_paths`: the paths `export` was given (default: the files of the result); `out`: the
    export folder, which `root` is written relative to."""
    if not any(fmt in result.formats for fmt in DEPLOYABLE_FORMATS):
        return None
    given = list(rule_paths) or [e.source for e in result.exported] + [f[0] for f in result.failed]
    root = rules_root(given)
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
                "source": source_name(exported.source, root),
                "table": exported.table,
                "target": TARGET,
                "pipelines": list(pipelines),
                "files": {fmt: f"{fmt}/{exported.name}.{EXTENSIONS[fmt]}" for fmt in exported.documents},
                "content_hash": content_hash(kind, properties, properties),
                "property_hashes": property_hashes(properties, properties),
            }
        )
    failures = [
        {"source": source_name(source, root), "sigma_id": sigma_id, "error": error}
        for source, sigma_id, error in result.failed
    ]
    return {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "generator": f"sigma-azure-aks {__version__}",
        "target": TARGET,
        "pipelines": list(pipelines),
        "root": Path(os.path.relpath(root, os.path.abspath(out or "."))).as_posix(),
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
    root = document.get("root")
    if root is not None and not isinstance(root, str):
        raise LifecycleInputError(f"{file}: `root` is not a path")
    return Manifest(
        path=str(file),
        rules=rules,
        failures=tuple(failures),
        root=Path(os.path.normpath(file.parent / root)) if root else None,
    )
