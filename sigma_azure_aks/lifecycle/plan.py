"""What deploying a new export would do: rules to add, change, remove; what drifted; what is not ours.

A plan compares the manifest of a new export with the manifest of the last deployment
(`previous`) and/or the alert rules the workspace holds now (`workspace`), rule by rule (matched
by alert rule name, case-insensitive). Each rule gets one action out of :data:`ACTIONS` (docs/lifecycle.md shows the table).

A `change` may also have drifted (both are reported). Without `previous`, nothing can be known
to be removed; without `workspace`, nothing can be known to have drifted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .canonical import content_hash, differing, property_hashes
from .manifest import ManagedRule, Manifest, same_file
from .workspace import WorkspaceRule

ACTIONS = {
    "add": "in the new export; neither in the previous manifest nor in the workspace: deploying creates it",
    "change": "in both manifests with other content (or, in no previous manifest, in the workspace with other "
    "content than the new export's): deploying updates it; the properties that change are named",
    "remove": "in the previous manifest, not in the new export: to delete from the workspace (listed in "
    "`delete` of the JSON; nothing to do when the workspace given no longer holds it)",
    "drift": "the same in both manifests, but the workspace's copy differs from the last deployment (edited in "
    "the portal: the properties are named; or deleted there): deploying restores it",
    "keep": "in the previous manifest, not in the new export, but maybe still in the repository: its Sigma rule "
    "or file failed in the new export, its file is still there, or a file the new export could not read may "
    "hold it; kept, not removed",
    "unchanged": "the same content wherever it was compared (listed with `--verbose`)",
    "unmanaged": "only in the workspace: never managed by these exports; listed, left alone, never deleted",
}
"""Every action of a plan, with when it applies (in the order of the output)."""
SYMBOLS = {
    "add": "+",
    "change": "~",
    "remove": "-",
    "drift": "!",
    "keep": "=",
    "unchanged": " ",
    "unmanaged": "?",
}
PLAN_FORMAT = "sigma-azure-aks/plan"
PLAN_VERSION = 1
SIGMA_MARK = "Sigma rule "  # how the description of an exported rule credits its Sigma rule


@dataclass(frozen=True)
class PlanEntry:
    """One alert rule in a plan."""

    action: str
    alert_rule: str
    title: str
    sigma_id: str = ""
    source: str = ""
    properties: tuple[str, ...] = ()  # change: the properties the new export changes
    drifted: tuple[str, ...] = ()  # the properties the workspace's copy changed since the last deployment
    in_workspace: bool | None = None  # None: no workspace given
    note: str = ""

    @property
    def pending(self) -> bool:
        """Whether deploying this plan does something to this rule."""
        if self.action == "remove":
            return self.in_workspace is not False
        return self.action in {"add", "change", "drift"}

    def line(self) -> str:
        where = f" ({self.source})" if self.source else ""
        return (
            f"{SYMBOLS[self.action]} {self.action:<9} {self.alert_rule}  {self.title}{where}{self._detail()}"
        )

    def _detail(self) -> str:
        parts = []
        if self.properties:
            parts.append(f"changes {', '.join(self.properties)}")
        if self.drifted:
            parts.append(f"edited in the workspace since the last deployment: {', '.join(self.drifted)}")
        if self.note:
            parts.append(self.note)
        return f": {'; '.join(parts)}" if parts else ""

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "alert_rule": self.alert_rule,
            "title": self.title,
            "sigma_id": self.sigma_id or None,
            "source": self.source or None,
            "properties": list(self.properties),
            "drifted": list(self.drifted),
            "in_workspace": self.in_workspace,
            "pending": self.pending,
            "note": self.note,
        }


@dataclass
class Plan:
    entries: list[PlanEntry] = field(default_factory=list)
    compared: Mapping[str, Any] = field(default_factory=dict)  # the inputs, for the JSON

    def counts(self) -> dict[str, int]:
        return {action: sum(1 for e in self.entries if e.action == action) for action in ACTIONS}

    @property
    def pending(self) -> bool:
        return any(entry.pending for entry in self.entries)

    def to_delete(self) -> list[str]:
        """The alert rule names to delete from the workspace (removed rules it holds, or may hold)."""
        return [e.alert_rule for e in self.entries if e.action == "remove" and e.pending]

    def summary(self) -> str:
        counts = self.counts()
        words = {"add": "to add", "change": "to change", "remove": "to remove", "drift": "drifted"}
        text = ", ".join(f"{counts[action]} {word}" for action, word in words.items())
        rest = ", ".join(
            f"{counts[action]} {action}" for action in ("keep", "unchanged", "unmanaged") if counts[action]
        )
        verdict = "changes pending" if self.pending else "no changes"
        return f"plan: {text}" + (f", {rest}" if rest else "") + f" ({verdict})"

    def as_json(self) -> dict[str, Any]:
        return {
            "format": PLAN_FORMAT,
            "version": PLAN_VERSION,
            **self.compared,
            "summary": self.counts(),
            "pending": self.pending,
            "delete": self.to_delete(),
            "rules": [entry.as_json() for entry in self.entries],
        }


def _kind_and(kind_one: str, kind_other: str, names: tuple[str, ...]) -> tuple[str, ...]:
    return (("kind",) if kind_one != kind_other else ()) + names


def _against_workspace(rule: ManagedRule, found: WorkspaceRule) -> tuple[str, ...] | None:
    """The properties where the workspace's copy differs from `rule` (None: the same content)."""
    keys = rule.property_hashes
    if content_hash(found.kind, found.properties, keys) == rule.content_hash:
        return None
    names = differing(property_hashes(found.properties, keys), rule.property_hashes)
    return _kind_and(found.kind, rule.kind, names) or ("content",)


def _entry(action: str, rule: ManagedRule, in_workspace: bool | None, **more: Any) -> PlanEntry:
    return PlanEntry(
        action, rule.alert_rule, rule.label, rule.sigma_id, rule.source, in_workspace=in_workspace, **more
    )


def _failed(new: Manifest) -> tuple[set[str], set[str]]:
    ids = {str(f.get("sigma_id")) for f in new.failures if f.get("sigma_id")}
    sources = {str(f.get("source")) for f in new.failures if f.get("source")}
    return ids, sources


def _previous_only(rule: ManagedRule, new: Manifest, in_workspace: bool | None) -> PlanEntry:
    """A rule only the previous manifest has: removed, unless it may still be in the repository
    (its rule or file failed, its file is still there, or a file the new export could not read
    may hold it). Never a delete on a guess."""
    ids, sources = _failed(new)
    if rule.sigma_id in ids or any(same_file(rule.source, source) for source in sources):
        note = "its Sigma rule failed in the new export, so it is kept; fix the rule or delete its file"
        return _entry("keep", rule, in_workspace, note=note)
    if new.still_there(rule.source):
        note = (
            "its file is still in the repository, but the new export has no rule with its id (the file was "
            "not among the paths exported, or its id changed), so it is kept; export every rule file, or "
            "delete the alert rule by hand if its id changed"
        )
        return _entry("keep", rule, in_workspace, note=note)
    unreadable = new.unreadable()
    if unreadable:
        shown = ", ".join(unreadable[:3]) + (f" and {len(unreadable) - 3} more" if len(unreadable) > 3 else "")
        note = (
            f"the new export could not read {len(unreadable)} file(s) ({shown}) that may hold it, so it is "
            "kept; fix them"
        )
        return _entry("keep", rule, in_workspace, note=note)
    note = "not in the workspace any more: nothing to delete" if in_workspace is False else "delete it"
    return _entry("remove", rule, in_workspace, note=note)


def _new_only(rule: ManagedRule, found: WorkspaceRule | None, in_workspace: bool | None) -> PlanEntry:
    if found is None:
        return _entry("add", rule, in_workspace)
    differs = _against_workspace(rule, found)
    if differs is None:
        return _entry("unchanged", rule, True, note="already in the workspace as exported")
    note = "in the workspace, not in the previous manifest; deploying overwrites it"
    return _entry("change", rule, True, properties=differs, note=note)


def _both(
    new: ManagedRule, old: ManagedRule, found: WorkspaceRule | None, in_workspace: bool | None
) -> PlanEntry:
    changed = (
        ()
        if new.content_hash == old.content_hash
        else (
            _kind_and(old.kind, new.kind, differing(old.property_hashes, new.property_hashes)) or ("content",)
        )
    )
    drifted: tuple[str, ...] = ()
    note = ""
    if in_workspace is False:
        note = "deleted in the workspace; deploying creates it again"
    elif found is not None:
        drifted = _against_workspace(old, found) or ()
    if changed:
        return _entry("change", new, in_workspace, properties=changed, drifted=drifted, note=note)
    if drifted or in_workspace is False:
        note = note or "deploying restores the exported rule"
        return _entry("drift", new, in_workspace, drifted=drifted, note=note)
    return _entry("unchanged", new, in_workspace)


def _unmanaged(found: WorkspaceRule) -> PlanEntry:
    kind = f"{found.kind} rule " if found.kind else ""
    note = f"{kind}not managed by these exports; left alone"
    if SIGMA_MARK in str(found.properties.get("description") or ""):
        note += " (its description names a Sigma rule: from an export before the manifest? --previous with that manifest removes it)"
    return PlanEntry("unmanaged", found.name, found.display_name or found.name, in_workspace=True, note=note)


def make_plan(
    new: Manifest, previous: Manifest | None = None, workspace: Mapping[str, WorkspaceRule] | None = None
) -> Plan:
    """The plan of deploying `new` (see the module): one entry per alert rule, sorted by action,
    then title, then name."""
    before = previous.rules if previous is not None else {}
    entries = []
    for key in set(new.rules) | set(before) | set(workspace or {}):
        found = workspace.get(key) if workspace is not None else None
        in_workspace = None if workspace is None else found is not None
        rule, old = new.rules.get(key), before.get(key)
        if rule is None and old is None:
            assert found is not None
            entries.append(_unmanaged(found))
        elif rule is None:
            entries.append(_previous_only(old, new, in_workspace))
        elif old is None:
            entries.append(_new_only(rule, found, in_workspace))
        else:
            entries.append(_both(rule, old, found, in_workspace))
    order = list(ACTIONS)
    entries.sort(key=lambda e: (order.index(e.action), e.title.lower(), e.alert_rule.lower()))
    return Plan(entries)
