"""Two exports of a small rule set and a workspace holding the first: what the lifecycle tests share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sigma_azure_aks.commands import main

RULE = """title: {title}
id: {rule_id}
status: test
author: Jane Doe
logsource:
  product: azure
  service: activitylogs
detection:
  selection:
    operationName: {operation}
  condition: selection
level: {level}
"""
OPERATIONS = {
    "kept": "MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE",
    "changed": "MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/DELETE",
    "removed": "MICROSOFT.AUTHORIZATION/LOCKS/DELETE",
    "edited": "MICROSOFT.INSIGHTS/DIAGNOSTICSETTINGS/DELETE",
}
IDS = {name: f"00000000-0000-4000-8000-{number:012d}" for number, name in enumerate(OPERATIONS, start=1)}
NEW_ID = "00000000-0000-4000-8000-0000000000aa"
UNMANAGED = "BuiltInFusion"


def write_rule(folder: Path, name: str, level: str = "high", rule_id: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = RULE.format(
        title=f"Rule {name}",
        rule_id=rule_id or IDS[name],
        operation=OPERATIONS.get(name, OPERATIONS["kept"]),
        level=level,
    )
    (folder / f"{name}.yml").write_text(text, encoding="utf-8")


def export(rules: Path, out: Path, formats: str = "arm,yaml,kql") -> int:
    return main(["export", str(rules), "--out", str(out), "--format", formats])


def first_and_second(tmp_path: Path) -> tuple[Path, Path]:
    """`one`: four rules exported; `two`: `removed` gone, `changed` at another level, the rest as before."""
    for name in OPERATIONS:
        write_rule(tmp_path / "rules1", name)
    for name in ("kept", "edited"):
        write_rule(tmp_path / "rules2", name)
    write_rule(tmp_path / "rules2", "changed", level="low")
    one, two = tmp_path / "one", tmp_path / "two"
    assert export(tmp_path / "rules1", one) == 0
    assert export(tmp_path / "rules2", two) == 0
    return one, two


def bundle(out: Path) -> dict[str, Any]:
    return json.loads((out / "bundles" / "azure-sentinel-rules-001.json").read_text(encoding="utf-8"))


def resource_of(template: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(r for r in template["resources"] if r["name"].endswith(f"/{rule_id}')]"))


def portal_export(one: Path, path: Path) -> Path:
    """The workspace after deploying `one`, as Analytics > Export writes it: `edited` changed in the
    portal (query and enabled), service fields added, a built-in Fusion rule we never managed."""
    template = bundle(one)
    for resource in template["resources"]:
        resource["apiVersion"] = "2023-12-01-preview"
        resource["properties"]["lastModifiedUtc"] = "2026-11-30T09:00:00.0000000Z"
        resource["properties"]["alertRuleTemplateName"] = None
    edited = resource_of(template, IDS["edited"])["properties"]
    edited["query"] += '\n| where Caller != "breakglass@contoso.com"'
    edited["enabled"] = False
    template["resources"].append(
        {
            "type": "Microsoft.OperationalInsights/workspaces/providers/alertRules",
            "apiVersion": "2023-12-01-preview",
            "name": f"[concat(parameters('workspace'),'/Microsoft.SecurityInsights/{UNMANAGED}')]",
            "kind": "Fusion",
            "properties": {"displayName": "Advanced Multistage Attack Detection", "enabled": True},
        }
    )
    path.write_text(json.dumps(template, indent=4), encoding="utf-8")
    return path
