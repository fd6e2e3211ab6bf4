"""Kubernetes audit: Sigma `product: kubernetes, service: audit` rules, every fact in one place.

SigmaHQ's kubernetes/audit rules use the field names of the Kubernetes audit event
(``audit.k8s.io/v1`` Event): ``verb``, ``objectRef.resource``, ``user.username``, ``sourceIPs``, ...
AKS writes that event into the resource-specific tables AKSAudit and AKSAuditAdmin (one column per
top-level key; AKSAuditAdmin leaves out get and list events) or, in legacy diagnostics mode, into
AzureDiagnostics as JSON text in ``log_s``. One table of event keys below gives all three field
maps; the three tables are three sources of this file. Columns from Microsoft's Azure Monitor
table reference.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial
from types import MappingProxyType
from typing import Any

from sigma.rule import SigmaLogSource

from .. import kql
from .base import (
    AnalyticsProfile,
    EntityMappingSpec,
    FieldMap,
    FieldTarget,
    PathPrefix,
    Source,
)
from .features import Feature
from .raw_records import RawRecordReader, nested_value

TABLE = "AKSAudit"
ADMIN_TABLE = "AKSAuditAdmin"
LEGACY_TABLE = "AzureDiagnostics"

# AKSAudit and AKSAuditAdmin have the same columns.
SCHEMA: dict[str, str] = {
    "Annotations": "dynamic",
    "AuditId": "string",
    "_BilledSize": "real",
    "_IsBillable": "string",
    "Level": "string",
    "ObjectRef": "dynamic",
    "PodName": "string",
    "RequestObject": "dynamic",
    "RequestReceivedTime": "datetime",
    "RequestUri": "string",
    "_ResourceId": "string",
    "ResponseObject": "dynamic",
    "ResponseStatus": "dynamic",
    "SourceIps": "dynamic",
    "SourceSystem": "string",
    "Stage": "string",
    "StageReceivedTime": "datetime",
    "_SubscriptionId": "string",
    "TenantId": "string",
    "TimeGenerated": "datetime",
    "Type": "string",
    "User": "dynamic",
    "UserAgent": "string",
    "Verb": "string",
}

# Legacy resource-log table: only the columns the kube-audit route reads.
LEGACY_SCHEMA: dict[str, str] = {
    "TimeGenerated": "datetime",
    "Category": "string",
    "ResourceId": "string",
    "_ResourceId": "string",
    "ResourceProvider": "string",
    "ResourceType": "string",
    "SubscriptionId": "string",
    "TenantId": "string",
    "log_s": "string",
    "pod_s": "string",
    "stream_s": "string",
    "SourceSystem": "string",
    "Type": "string",
}

# Any category: SigmaHQ's kubernetes/audit rules use none or `application`.
LOGSOURCES = (SigmaLogSource(product="kubernetes", service="audit"),)


@dataclass(frozen=True)
class EventKey:
    """A top-level key of the audit event and the AKSAudit column that holds it.

    `members`: the fixed sub-fields of an object key (None: any path, as in requestObject);
    `whole_key`: sub-keys are single keys that contain dots and slashes (annotations, user.extra);
    `array`: the value is an array of strings (any element matches, see :mod:`sigma_azure_aks.pipelines.arrays`).
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


# Field names SigmaHQ writes that the audit event does not have at that place, and the event field
# they stand for. `apiGroup`: two SigmaHQ rules write it bare; the event's only API group is
# objectRef.apiGroup.
ALIASES: Mapping[str, str] = MappingProxyType({"apiGroup": "objectRef.apiGroup"})

# AKSAudit targets that hold arrays of strings (sourceIPs, user.groups, user.extra.<key>):
# Sigma matching applies to each element.
ARRAY_TARGETS: frozenset[tuple[str, tuple[str, ...]]] = frozenset(
    {("SourceIps", ()), ("User", ("groups",)), ("User", ("extra", "*"))}
)

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


def _event_key(column: str, path: tuple[str, ...]) -> tuple[str, ...]:
    """The audit event path of an AKSAudit target (`SourceIps` -> `sourceIPs`, `User.groups` ->
    `user.groups`)."""
    return (next(key.key for key in EVENT_KEYS if key.column == column), *path)


def is_array_field(field_name: str) -> bool:
    """True when the field holds an array of strings (in either dialect)."""
    target = FIELD_MAP.resolve(field_name)
    return target is not None and FIELD_MAP.is_array(target)


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
            prefixes.append(PathPrefix(prefix, json_column, whole_key=True, note=note, base=event_path))
        else:
            prefixes.append(PathPrefix(prefix, column, whole_key=True, note=note, base=base))
    for key in EVENT_KEYS:
        if key.members is None:
            if json_column is not None:
                prefixes.append(PathPrefix(f"{key.key}.", json_column, note=key.note, base=(key.key,)))
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


# The dynamic columns that hold one object (SourceIps, the other, holds an array of strings).
OBJECT_COLUMNS = frozenset({"Annotations", "ObjectRef", "RequestObject", "ResponseObject", "ResponseStatus", "User"})

FIELD_MAP = FieldMap(
    table=TABLE,
    exact=MappingProxyType(_exact(None)),
    prefixes=_prefixes(None),
    notes=MappingProxyType(_notes()),
    missing=MISSING,
    arrays=ARRAY_TARGETS,
    objects=OBJECT_COLUMNS,
)

ADMIN_FIELD_MAP = FieldMap(
    table=ADMIN_TABLE,
    exact=FIELD_MAP.exact,
    prefixes=FIELD_MAP.prefixes,
    notes=FIELD_MAP.notes,
    missing=FIELD_MAP.missing,
    arrays=FIELD_MAP.arrays,
    objects=FIELD_MAP.objects,
)

# Legacy diagnostics: `AzureDiagnostics | where Category in (...) | extend event = parse_json(log_s)`.
LEGACY_EVENT = "event"
LEGACY_CATEGORIES: tuple[str, ...] = ("kube-audit", "kube-audit-admin")
LEGACY_FIELD_MAP = FieldMap(
    table=LEGACY_TABLE,
    exact=MappingProxyType(_exact(LEGACY_EVENT)),
    prefixes=_prefixes(LEGACY_EVENT),
    notes=MappingProxyType(_notes()),
    missing=MISSING,
    # The same arrays, inside the parsed event (`event.sourceIPs`, ...).
    arrays=frozenset((LEGACY_EVENT, (*_event_key(column, path),)) for column, path in ARRAY_TARGETS),
)
LEGACY_PREAMBLE = (
    f"{LEGACY_TABLE}\n"
    f"| where Category in ({', '.join(kql.string_literal(c) for c in LEGACY_CATEGORIES)})\n"
    f"| extend {LEGACY_EVENT} = parse_json(log_s)"
)


def _profile(table: str) -> AnalyticsProfile:
    # AKS resource-log tables: `User` and `ObjectRef` are dynamic, `SourceIps` a dynamic array. The
    # connector id is that of the Azure-Sentinel "Azure Kubernetes Service (AKS)" solution's
    # diagnostics connector; Sentinel uses requiredDataConnectors only for display and template
    # checks, not at run time. Its data types are the diagnostic categories it declares
    # (Solutions/Azure kubernetes Service/Data Connectors/AzureKubernetes.JSON): the table's one.
    return AnalyticsProfile(
        table=table,
        extend=(
            ("AccountName", "tostring(User.username)"),
            ("SourceIp", "tostring(SourceIps[0])"),
            ("KubeResource", "tostring(ObjectRef.resource)"),
            ("KubeNamespace", "tostring(ObjectRef.namespace)"),
            ("KubeObject", "tostring(ObjectRef.name)"),
        ),
        entity_mappings=(
            EntityMappingSpec("Account", (("Name", "AccountName"),)),
            EntityMappingSpec("IP", (("Address", "SourceIp"),)),
            EntityMappingSpec("AzureResource", (("ResourceId", "_ResourceId"),)),
        ),
        custom_details=(
            ("Verb", "Verb"),
            ("KubeResource", "KubeResource"),
            ("KubeNamespace", "KubeNamespace"),
            ("KubeObject", "KubeObject"),
        ),
        alert_display_name_format="{{Verb}} {{KubeResource}} by {{AccountName}}",
        connector_id="AzureKubernetes",
        data_types=tuple(category for category, of in CATEGORY_TABLES.items() if of == table),
    )


# ---- raw kube-audit records (replay) --------------------------------------------------------------
CATEGORY_TABLES: Mapping[str, str] = MappingProxyType({"kube-audit": TABLE, "kube-audit-admin": ADMIN_TABLE})


def is_kube_audit_record(record: Mapping[str, Any], category: str) -> bool:
    return record.get("category") == category and isinstance(nested_value(record, "properties.log"), str)


def kube_audit_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """A raw AKS kube-audit diagnostic record (its ``properties.log`` holds the audit event as JSON
    text) as an AKSAudit / AKSAuditAdmin row: each event key into its column (EVENT_KEYS)."""
    try:
        audit = json.loads(record["properties"]["log"])
    except ValueError as error:
        raise ValueError(f"properties.log is not a JSON audit event: {error}") from error
    row: dict[str, Any] = {key.column: audit[key.key] for key in EVENT_KEYS if key.key in audit}
    for prefix, (column, base) in WHOLE_KEY_PREFIXES.items():
        if not base and prefix[:-1] in audit:
            row[column] = audit[prefix[:-1]]
    row["PodName"] = nested_value(record, "properties.pod") or ""
    row["_ResourceId"] = str(record.get("resourceId", "")).lower()
    row["TimeGenerated"] = record.get("time")
    row["Type"] = CATEGORY_TABLES[record["category"]]
    return row


def kube_audit_record(category: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """The kube-audit diagnostic record of `category` that reads as an AKSAudit row (the inverse of
    :func:`kube_audit_row`)."""
    audit = {key.key: row[key.column] for key in EVENT_KEYS if key.column in row}
    for prefix, (column, base) in WHOLE_KEY_PREFIXES.items():
        if not base and column in row:
            audit[prefix[:-1]] = row[column]
    return {
        "category": category,
        "resourceId": row.get("_ResourceId", ""),
        "time": row.get("TimeGenerated"),
        "properties": {"log": json.dumps(audit, ensure_ascii=False, default=str), "pod": row.get("PodName", "")},
    }


def _raw_reader(category: str) -> RawRecordReader:
    return RawRecordReader(
        f"an AKS diagnostic record (category {category}, properties.log)",
        lambda record: is_kube_audit_record(record, category),
        kube_audit_row,
        frozenset({"category", "properties"}),
        partial(kube_audit_record, category),
        priority=1,
    )


# ---- pipeline behaviours (pipelines/aks_audit.py) ----------------------------------------------------
AUDIT_VALUES = Feature(
    "values",
    "Kubernetes audit values: arrays match any element; pod-spec presence tests",
    "aks_audit:AuditValuesTransformation",
)
ADMIN_VERBS = Feature(
    "verbs",
    "the table leaves out get and list events: refuse rules that can only match them",
    "aks_audit:AdminVerbsTransformation",
)

SOURCE = Source(
    table=TABLE,
    title="Kubernetes audit",
    schema=SCHEMA,
    logsources=LOGSOURCES,
    pipeline="aks_audit",
    field_map=FIELD_MAP,
    default=True,
    features=(AUDIT_VALUES,),
    id_column="AuditId",
    summary_columns=("TimeGenerated", "Verb", "RequestUri", "User"),
    row_markers=("AuditId",),
    profile=_profile(TABLE),
    raw_records=(_raw_reader("kube-audit"),),
)

# The same events without get and list: AKSAudit's facts, but for its own table and pipeline.
ADMIN_SOURCE = replace(
    SOURCE,
    table=ADMIN_TABLE,
    pipeline="aks_audit_admin",
    field_map=ADMIN_FIELD_MAP,
    default=False,
    features=(ADMIN_VERBS, AUDIT_VALUES),
    row_markers=(),
    profile=_profile(ADMIN_TABLE),
    raw_records=(_raw_reader("kube-audit-admin"),),
)

# The audit event as JSON text in log_s of the legacy resource-log table.
LEGACY_SOURCE = Source(
    table=LEGACY_TABLE,
    title="Kubernetes audit",
    schema=LEGACY_SCHEMA,
    logsources=LOGSOURCES,
    pipeline="aks_audit_legacy",
    field_map=LEGACY_FIELD_MAP,
    features=(AUDIT_VALUES,),
    keyword_column="log_s",
    preamble=LEGACY_PREAMBLE,
    preamble_columns={LEGACY_EVENT: "dynamic"},
)

SOURCES = (SOURCE, ADMIN_SOURCE, LEGACY_SOURCE)
