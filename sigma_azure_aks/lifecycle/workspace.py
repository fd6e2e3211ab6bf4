"""Alert rules as a workspace exports them, read from JSON files.

Shapes read (each file may hold any of them):

- an ARM deployment template, as Sentinel's Analytics > Export writes it (and as `export` writes
  its own): `resources` of type `Microsoft.OperationalInsights/workspaces/providers/alertRules`
  (name `[concat(parameters('workspace'),'/Microsoft.SecurityInsights/<rule>')]`) or
  `Microsoft.SecurityInsights/alertRules` (name `<rule>`, with a `scope`); other resources are
  skipped;
- the REST API's list, `GET .../providers/Microsoft.SecurityInsights/alertRules`:
  `{"value": [{"id", "name", "etag", "type", "kind", "properties": {...}}, ...]}`, whole: a page
  with a `nextLink` (more pages follow) is refused, since a plan on part of a workspace would take
  the rules of the other pages for absent; the pages merged into one `value` list are read;
- the JSON list `az sentinel alert-rule list` prints: the same objects with `properties` flattened
  into each (the CLI flattens them), or with `properties` kept;
- one such object (`az sentinel alert-rule show`, a REST GET, `export`'s `json` format).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import arm
from . import LifecycleInputError

ALERT_RULE_TYPES = frozenset(
    {"microsoft.operationalinsights/workspaces/providers/alertrules", "microsoft.securityinsights/alertrules"}
)
RESOURCE_KEYS = frozenset({"id", "name", "etag", "type", "kind", "systemData", "resourceGroup", "properties"})
_LITERAL = re.compile(r"'((?:[^']|'')*)'")
PARTIAL_LIST = (
    "one page of the REST API's list (it has a `nextLink`): the workspace holds more alert rules than "
    "this file, and a plan on part of them would miss rules; give every page merged into one list "
    "(`jq -s '{value: (map(.value) | add)}' page-*.json > rules.json`) or `az sentinel alert-rule list`"
)
SHAPES = (
    "an ARM template with alertRules resources (Analytics > Export), the REST API's "
    '{"value": [...]} list, or the JSON list `az sentinel alert-rule list` prints'
)


@dataclass(frozen=True)
class WorkspaceRule:
    """One alert rule of a workspace: its resource name, kind, display name and properties."""

    name: str
    kind: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def key(self) -> str:
        return rule_key(self.name)

    @property
    def display_name(self) -> str:
        return str(self.properties.get("displayName") or "")


def rule_key(name: str) -> str:
    """How two alert rule names are matched: Azure resource names are case-insensitive."""
    return name.strip().lower()


def name_from_arm(name: str) -> str | None:
    """The alert rule's own name (the last path segment) of an ARM resource name or id: a plain
    `ws/Microsoft.SecurityInsights/<rule>` or `<rule>`, or an expression whose last string literal
    ends in it (`[concat(parameters('workspace'),'/Microsoft.SecurityInsights/<rule>')]`). None for
    an expression that computes it (a parameter, `guid()`)."""
    text = name.strip()
    if arm.is_expression(text):
        literals = list(_LITERAL.finditer(text))
        last = literals[-1] if literals else None
        prefix = text[: last.start()].rstrip().lower() if last else ""
        if last is None or not re.fullmatch(r"[\s)]*\]", text[last.end() :]):
            return None  # the name ends in something computed
        if not (prefix.endswith(",") or prefix.endswith("concat(")):
            return None  # the literal is an argument (`parameters('name')`), not the name
        text = last.group(1).replace("''", "'")
    else:
        text = arm.deployed(text)
    segment = text.rsplit("/", 1)[-1].strip()
    return segment or None


def _rule(item: Mapping[str, Any], source: str, where: str, from_arm: bool) -> WorkspaceRule:
    raw = item.get("properties")
    properties = (
        dict(raw) if isinstance(raw, Mapping) else {k: v for k, v in item.items() if k not in RESOURCE_KEYS}
    )
    if from_arm:  # an ARM template's literals as deployed (`[[x]` is `[x]`)
        properties = arm.deployed_values(properties)
    name = None
    for candidate in (item.get("name"), item.get("id")):
        if isinstance(candidate, str) and candidate.strip():
            name = name_from_arm(candidate) if from_arm else candidate.rstrip("/").rsplit("/", 1)[-1]
            if name:
                break
    if not name:
        raise LifecycleInputError(
            f"{source}: {where}: no alert rule name this tool can read (an ARM expression that "
            "computes it, or none); give the rule a literal name"
        )
    return WorkspaceRule(name=name, kind=str(item.get("kind") or ""), properties=properties, source=source)


def _is_rule_object(item: Any) -> bool:
    return isinstance(item, Mapping) and "kind" in item and ("properties" in item or "name" in item)


def rules_from_document(document: Any, source: str) -> list[WorkspaceRule]:
    """The alert rules of one parsed JSON document; LifecycleInputError for another shape."""
    if isinstance(document, Mapping) and isinstance(document.get("resources"), list):
        return list(_arm_rules(document["resources"], source))
    if isinstance(document, Mapping) and isinstance(document.get("value"), list):
        if document.get("nextLink"):
            raise LifecycleInputError(f"{source}: {PARTIAL_LIST}")
        items, what = document["value"], "value"
    elif isinstance(document, list):
        items, what = document, "item"
    elif _is_rule_object(document):
        return [_rule(document, source, "the rule", from_arm=False)]
    else:
        raise LifecycleInputError(f"{source}: not a workspace's alert rules: expected {SHAPES}")
    rules = []
    for number, item in enumerate(items):
        if not _is_rule_object(item):
            raise LifecycleInputError(
                f"{source}: {what} [{number}] is no alert rule (no `kind` and `name`/`properties`); "
                f"expected {SHAPES}"
            )
        rules.append(_rule(item, source, f"{what} [{number}]", from_arm=False))
    return rules


def _arm_rules(resources: list[Any], source: str) -> Iterator[WorkspaceRule]:
    for number, resource in enumerate(resources):
        if not isinstance(resource, Mapping):
            raise LifecycleInputError(f"{source}: resources [{number}] is not an object")
        if str(resource.get("type", "")).lower() in ALERT_RULE_TYPES:
            yield _rule(resource, source, f"resources [{number}]", from_arm=True)


def read_json(path: Path) -> Any:
    """A JSON file's content; LifecycleInputError naming the file, line and column when it is not JSON."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as problem:
        raise LifecycleInputError(f"{path}: cannot read: {problem.strerror or problem}") from problem
    except UnicodeDecodeError as problem:
        raise LifecycleInputError(
            f"{path}: not UTF-8 text ({problem.reason} at byte {problem.start})"
        ) from problem
    try:
        return json.loads(text)
    except json.JSONDecodeError as problem:
        raise LifecycleInputError(
            f"{path}: not valid JSON: {problem.msg} at line {problem.lineno}, column {problem.colno}"
        ) from problem


def workspace_files(path: Path) -> list[Path]:
    """`path` itself, or the `.json` files under a folder (recursively, sorted)."""
    if path.is_dir():
        found = sorted(p for p in path.rglob("*.json") if p.is_file())
        if not found:
            raise LifecycleInputError(f"{path}: no .json files in this folder")
        return found
    return [path]


def load_workspace_rules(paths: list[Path]) -> dict[str, WorkspaceRule]:
    """The alert rules of every file (folders: their `.json` files) by :func:`rule_key`;
    LifecycleInputError for a file that cannot be read or a rule given twice differently."""
    rules: dict[str, WorkspaceRule] = {}
    for path in paths:
        for file in workspace_files(path):
            for rule in rules_from_document(read_json(file), str(file)):
                earlier = rules.get(rule.key)
                if earlier is not None and (earlier.kind, earlier.properties) != (rule.kind, rule.properties):
                    raise LifecycleInputError(
                        f"{file}: alert rule {rule.name} is also in {earlier.source} with other properties; "
                        "give one export of the workspace"
                    )
                rules[rule.key] = rule
    return rules
