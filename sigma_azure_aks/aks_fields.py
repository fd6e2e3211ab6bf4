"""Kubernetes audit event field names -> AKSAudit columns (and the legacy AzureDiagnostics route),
as data.

SigmaHQ's `product: kubernetes, service: audit` rules use the field names of the Kubernetes audit
event (``audit.k8s.io/v1`` Event): ``verb``, ``objectRef.resource``, ``user.username``,
``sourceIPs``, ... AKS writes that event into the resource-specific tables AKSAudit and
AKSAuditAdmin, one column per top-level key, or, in legacy diagnostics mode, into
AzureDiagnostics as JSON text in ``log_s``. One table of event keys below gives all three maps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .field_maps import FieldMap, FieldTarget, PathPrefix


@dataclass(frozen=True)
class EventKey:
    """A top-level key of the audit event and the AKSAudit column that holds it.

    `members`: the fixed sub-fields of an object key (None: any path, as in requestObject);
    `whole_key`: sub-keys are single keys that contain dots and slashes (annotations, user.extra);
    `array`: the value is an array of strings (any element matches, see :mod:`aks_transformations`).
    """

    key: str
    column: str
    members: tuple[str, ...] | None = ()
    note: str = ""


EVENT_KEYS: tuple[EventKey, ...] = (
    EventKey(
        "verb",
        "Verb",
        note="get, list, watch, create, update, patch, delete, deletecollection; "
        "the lower-cased HTTP method for non-resource requests",
    ),
    EventKey(
        "objectRef",
        "ObjectRef",
        ("apiGroup", "apiVersion", "resource", "subresource", "namespace", "name", "uid", "resourceVersion"),
        note="apiGroup is absent (empty) for the core group",
    ),
    EventKey("user", "User", ("username", "uid", "groups"), note="groups is an array"),
    EventKey("sourceIPs", "SourceIps", note="an array: any element matches"),
    EventKey("userAgent", "UserAgent"),
    EventKey(
        "responseStatus",
        "ResponseStatus",
        ("code", "status", "reason", "message"),
        note="code is a number (HTTP status)",
    ),
    EventKey("requestURI", "RequestUri"),
    EventKey("requestObject", "RequestObject", None, note="logged at level Request and RequestResponse"),
    EventKey("responseObject", "ResponseObject", None, note="logged at level RequestResponse"),
    EventKey("stage", "Stage"),
    EventKey("level", "Level"),
    EventKey("auditID", "AuditId"),
    EventKey("requestReceivedTimestamp", "RequestReceivedTime"),
    EventKey("stageTimestamp", "StageReceivedTime"),
)

# Keys whose sub-keys are single keys with dots and slashes: the whole rest is one key.
# prefix -> (AKSAudit column, member path inside it before the key).
WHOLE_KEY_PREFIXES: Mapping[str, tuple[str, tuple[str, ...]]] = MappingProxyType(
    {"annotations.": ("Annotations", ()), "user.extra.": ("User", ("extra",))}
)


@dataclass(frozen=True)
class KeyedPrefix(PathPrefix):
    """A PathPrefix whose target path starts with fixed members (`User.extra["<key>"]`)."""

    base: tuple[str, ...] = ()

    def target(self, field_name: str) -> FieldTarget | None:
        found = super().target(field_name)
        if found is None:
            return None
        return FieldTarget(found.column, self.base + found.path, found.json_text)


# Field names SigmaHQ writes that the audit event does not have at that place, and the event field
# they stand for. `apiGroup`: two SigmaHQ rules write it bare; the event's only API group is
# objectRef.apiGroup.
ALIASES: Mapping[str, str] = MappingProxyType({"apiGroup": "objectRef.apiGroup"})

# AKSAudit targets that hold arrays of strings (sourceIPs, user.groups; user.extra.<key> too):
# Sigma matching applies to each element.
_ARRAY_TARGETS: frozenset[tuple[str, tuple[str, ...]]] = frozenset({("SourceIps", ()), ("User", ("groups",))})

# Event fields the AKS tables have no column for.
MISSING: Mapping[str, str] = MappingProxyType(
    {
        "impersonatedUser": "the audit event's impersonatedUser has no AKSAudit column",
        "hostPath": "not an audit event field: it lives in the pod spec inside requestObject "
        "(see the pod-spec rewrites of aks_audit)",
        "capabilities": "not an audit event field: it lives in the pod spec inside requestObject "
        "(see the pod-spec rewrites of aks_audit)",
    }
)


def canonical(field_name: str) -> str:
    """The audit event field a Sigma field name stands for (aliases resolved)."""
    return ALIASES.get(field_name, field_name)


def is_array_field(field_name: str) -> bool:
    """True when the field holds an array of strings (in either dialect)."""
    target = AKS_AUDIT.resolve(field_name)
    if target is None:
        return False
    return (target.column, target.path) in _ARRAY_TARGETS or (
        target.column == "User" and target.path[:1] == ("extra",) and len(target.path) == 2
    )


def _exact(json_column: str | None) -> dict[str, FieldTarget]:
    """Exact field names -> targets, either into the AKS columns or into one parsed event column."""
    targets: dict[str, FieldTarget] = {}
    for key in EVENT_KEYS:
        names = [key.key] if key.members == () else [f"{key.key}.{m}" for m in key.members or ()]
        for name in names:
            if json_column is not None:
                targets[name] = FieldTarget(json_column, tuple(name.split(".")))
            else:
                head, _, rest = name.partition(".")
                targets[name] = FieldTarget(key.column, tuple(rest.split(".")) if rest else ())
    for alias, name in ALIASES.items():
        targets[alias] = targets[name]
    if json_column is None:
        # Log Analytics column names are accepted as they are (`Verb`, `ObjectRef.resource`).
        for key in EVENT_KEYS:
            if key.members == ():
                targets.setdefault(key.column, FieldTarget(key.column))
            for member in key.members or ():
                targets.setdefault(f"{key.column}.{member}", FieldTarget(key.column, (member,)))
    return targets


def _prefixes(json_column: str | None) -> tuple[PathPrefix, ...]:
    prefixes = []
    for prefix, (column, base) in WHOLE_KEY_PREFIXES.items():
        note = "keys contain dots and slashes: the whole rest is one key"
        if json_column is not None:
            # `event.annotations["a.b/c"]`: the event keys, then the whole key.
            event_path = tuple(prefix[:-1].split("."))
            prefixes.append(KeyedPrefix(prefix, json_column, whole_key=True, note=note, base=event_path))
        else:
            prefixes.append(KeyedPrefix(prefix, column, whole_key=True, note=note, base=base))
    for key in EVENT_KEYS:
        if key.members is None:
            if json_column is not None:
                prefixes.append(KeyedPrefix(f"{key.key}.", json_column, note=key.note, base=(key.key,)))
            else:
                prefixes.append(PathPrefix(f"{key.key}.", key.column, note=key.note))
    return tuple(prefixes)


def _notes() -> dict[str, str]:
    notes = {key.key: key.note for key in EVENT_KEYS if key.note}
    notes["apiGroup"] = (
        "SigmaHQ writes it bare in two rules; the event's only API group is objectRef.apiGroup"
    )
    notes["user.groups"] = "an array: any element matches"
    return notes


AKS_AUDIT = FieldMap(
    table="AKSAudit",
    exact=MappingProxyType(_exact(None)),
    prefixes=_prefixes(None),
    notes=MappingProxyType(_notes()),
)

AKS_AUDIT_ADMIN = FieldMap(
    table="AKSAuditAdmin",
    exact=AKS_AUDIT.exact,
    prefixes=AKS_AUDIT.prefixes,
    notes=AKS_AUDIT.notes,
)

# Legacy diagnostics: `AzureDiagnostics | where Category in (...) | extend event = parse_json(log_s)`.
LEGACY_EVENT = "event"
LEGACY_CATEGORIES: tuple[str, ...] = ("kube-audit", "kube-audit-admin")
AZURE_DIAGNOSTICS_KUBE_AUDIT = FieldMap(
    table="AzureDiagnostics",
    exact=MappingProxyType(_exact(LEGACY_EVENT)),
    prefixes=_prefixes(LEGACY_EVENT),
    notes=MappingProxyType(_notes()),
)


def field_table_markdown(field_map: FieldMap = AKS_AUDIT) -> str:
    """The docs' field-map table, generated from the map (docs/aks.md embeds it verbatim)."""
    lines = ["| Sigma field | AKSAudit | note |", "|---|---|---|"]
    by_target: dict[str, list[str]] = {}
    for name, target in field_map.exact.items():
        by_target.setdefault(target.kql(), []).append(name)
    notes = dict(field_map.notes)
    for kql_text, names in by_target.items():
        names.sort(key=lambda n: (n[:1].isupper(), n))
        note = next((notes[n] for n in names if n in notes), "")
        if not note and is_array_field(names[0]):
            note = "an array: any element matches"
        shown = ", ".join(f"`{n}`" for n in names)
        lines.append(f"| {shown} | `{kql_text}` | {note} |")
    for prefix in field_map.prefixes:
        pattern = f"{prefix.prefix}<{'key' if prefix.whole_key else 'path'}>"
        example = prefix.target(prefix.prefix + ("a.b/c" if prefix.whole_key else "a.b"))
        shown = example.kql() if example else prefix.column
        lines.append(f"| `{pattern}` | `{shown}` | {prefix.note} |")
    for name, reason in MISSING.items():
        lines.append(f"| `{name}` | — | {reason} |")
    return "\n".join(lines) + "\n"
