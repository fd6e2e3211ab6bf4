"""GCPAuditLogs: Sigma `product: gcp, service: gcp.audit` rules (Google Cloud audit logs that
Microsoft Sentinel's GCP Pub/Sub Audit Logs connector ingests), every fact in one place.

Columns from Microsoft's Azure Monitor table reference (gcpauditlogs-include.md). The connector
(Azure/Azure-Sentinel `Solutions/Google Cloud Platform Audit Logs/Data Connectors/GCPAuditLogs_ccp/`:
`data_connector_definition.json`, id GCPAuditLogsDefinition; `dcr.json`, the built-in
`Microsoft-GCPAuditLogs` stream with no transformKql of its own) pulls Cloud Logging `LogEntry`
objects whose `protoPayload` is an `AuditLog`. Its field -> column mapping is not published:
:data:`LOG_ENTRY_COLUMNS` pairs each LogEntry field with the column whose description names it
("The name of the service method" is MethodName, "The identifier of the type associated with this
resource" is GCPResourceType, ...); the pairing agrees with Microsoft's own rows in
`Solutions/Google Cloud Platform Audit Logs/Sample Data/GCPAuditLogs_*.csv` (LogName the full
`projects/<p>/logs/cloudaudit.googleapis.com%2Factivity`, MethodName `v1.compute.vpnTunnels.delete`,
AuthorizationInfo the `authorizationInfo` array, RequestMetadata with `callerIp`, ...).

Field names in three dialects, each mapped to the column that holds it:
- the LogEntry's own paths, as SigmaHQ writes them under the Pub/Sub message's `data`
  (`data.protoPayload.methodName`, `data.protoPayload.authorizationInfo.permission`) or without it
  (`protoPayload.methodName`, `logName`, `resource.type`);
- the Elastic GCP audit module's names SigmaHQ also uses (`gcp.audit.method_name`, ...);
- the Log Analytics columns (`MethodName`, any case).

`authorizationInfo` is an array of objects (one per resource and permission): a value on
`authorizationInfo.permission` matches that member of some element (Sigma on a list of objects).
The other AuditLog objects (`authenticationInfo`, `requestMetadata`, `request`, `response`,
`metadata`, `serviceData`, `status`, `resourceLocation`, `resourceOriginalState`) are dynamic
columns read by member path.

Not covered: `GCPAuditLogsV2_CL`, the custom table of the same folder's newer data collection rule
(`GcpAuditLog_DCR.json`: the LogEntry's `resource` and `protoPayload` kept whole), which no table
reference documents and no Microsoft template queries.

Refused here, with the reason: `protoPayload.resource.*` and `protoPayload.logName` (the AuditLog
payload has neither; they are LogEntry fields, and an exact `logName` of
`cloudaudit.googleapis.com/activity` never equals a real one), the monitored resource's labels
other than `project_id` (no column holds them).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from sigma.rule import SigmaLogSource

from .base import (
    AnalyticsProfile,
    EntityMappingSpec,
    FieldMap,
    FieldTarget,
    PathPrefix,
    Source,
    Structure,
)
from .features import Feature
from .raw_records import RawRecordReader, mapped_record, nested_value

TABLE = "GCPAuditLogs"

SCHEMA: dict[str, str] = {
    "AuthenticationInfo": "dynamic", "AuthorizationInfo": "dynamic", "_BilledSize": "real",
    "GCPResourceName": "string", "GCPResourceType": "string", "InsertId": "string", "_IsBillable": "string",
    "LogName": "string", "Metadata": "dynamic", "MethodName": "string", "NumResponseItems": "string",
    "PrincipalEmail": "string", "ProjectId": "string", "Request": "dynamic", "RequestMetadata": "dynamic",
    "ResourceLocation": "dynamic", "ResourceOriginalState": "dynamic", "Response": "dynamic",
    "ServiceData": "dynamic", "ServiceName": "string", "Severity": "string", "SourceSystem": "string",
    "Status": "dynamic", "StatusMessage": "string", "Subscription": "string", "TenantId": "string",
    "TimeGenerated": "datetime", "Timestamp": "datetime", "Type": "string",
}

LOGSOURCES = (SigmaLogSource(product="gcp", service="gcp.audit"),)

_AUDIT = "protoPayload"

# LogEntry field (dotted path) -> GCPAuditLogs column (the column descriptions, Microsoft's sample
# rows). `protoPayload.*` are the AuditLog's fields (Cloud Audit Logs `AuditLog` reference).
LOG_ENTRY_COLUMNS: Mapping[str, str] = MappingProxyType(
    {
        "insertId": "InsertId",
        "logName": "LogName",
        "severity": "Severity",
        "timestamp": "Timestamp",
        "receiveTimestamp": "TimeGenerated",
        "resource.type": "GCPResourceType",
        "resource.labels.project_id": "ProjectId",
        f"{_AUDIT}.serviceName": "ServiceName",
        f"{_AUDIT}.methodName": "MethodName",
        f"{_AUDIT}.resourceName": "GCPResourceName",
        f"{_AUDIT}.numResponseItems": "NumResponseItems",
        f"{_AUDIT}.authenticationInfo.principalEmail": "PrincipalEmail",
        f"{_AUDIT}.authenticationInfo": "AuthenticationInfo",
        f"{_AUDIT}.authorizationInfo": "AuthorizationInfo",
        f"{_AUDIT}.requestMetadata": "RequestMetadata",
        f"{_AUDIT}.request": "Request",
        f"{_AUDIT}.response": "Response",
        f"{_AUDIT}.metadata": "Metadata",
        f"{_AUDIT}.serviceData": "ServiceData",
        f"{_AUDIT}.status.message": "StatusMessage",
        f"{_AUDIT}.status": "Status",
        f"{_AUDIT}.resourceLocation": "ResourceLocation",
        f"{_AUDIT}.resourceOriginalState": "ResourceOriginalState",
    }
)

# The AuditLog objects kept whole in a dynamic column (their members are read by path).
OBJECT_COLUMNS = frozenset(
    {"AuthenticationInfo", "RequestMetadata", "Request", "Response", "Metadata", "ServiceData", "Status",
     "ResourceLocation", "ResourceOriginalState"}
)

# Members of the AuthorizationInfo elements (AuditLog `AuthorizationInfo`: resource, permission,
# granted, permissionType, and the `resourceAttributes` object, which no member path reaches).
AUTHORIZATION_MEMBERS = ("resource", "permission", "granted", "permissionType")

# Member paths of the AuditLog objects whose members Google documents (AuditLog reference:
# AuthenticationInfo, RequestMetadata with its request/destination attributes,
# Status): a member written in another case reads the real one. `request`, `response`, `metadata`,
# `serviceData` and `resourceOriginalState` hold each method's own message: read as written, as are
# ResourceLocation's two arrays of location names (declared in `arrays`: a value matches an element).
DOCUMENTED_MEMBERS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "AuthenticationInfo": (
            "principalEmail", "authoritySelector", "thirdPartyPrincipal", "serviceAccountKeyName",
            "serviceAccountDelegationInfo", "principalSubject",
        ),
        "RequestMetadata": (
            "callerIp", "callerSuppliedUserAgent", "callerNetwork", "requestAttributes",
            *(f"requestAttributes.{m}" for m in ("id", "method", "headers", "path", "host", "scheme", "query",
                                                  "time", "size", "protocol", "reason", "auth")),
            "requestAttributes.auth.principal", "requestAttributes.auth.presenter",
            "destinationAttributes",
            *(f"destinationAttributes.{m}" for m in ("ip", "port", "principal", "regionCode", "labels")),
        ),
        "Status": ("code", "message", "details"),
    }
)

# Members of the AuditLog objects that hold arrays of objects: a field reaching into their elements is
# refused naming the array (member access on an array is null in KQL, so the query would never match).
# AuditLog reference: AuthenticationInfo.serviceAccountDelegationInfo[], Status.details[]. IAM
# (SetIamPolicy): the request's policy.bindings[], the response Policy's bindings[], ServiceData's
# policyDelta.bindingDeltas[] and auditConfigDeltas[]. GKE logs a Kubernetes request's object as
# `request` and the object written as `response` (Kubernetes API reference: PodSpec containers[],
# initContainers[], ephemeralContainers[], volumes[]; a workload's spec.template.spec; a CronJob's
# spec.jobTemplate.spec.template.spec; RoleBinding subjects[], Role rules[], webhook configurations'
# webhooks[]).
_POD_SPEC_ARRAYS = ("containers", "initContainers", "ephemeralContainers", "volumes")
_KUBERNETES_OBJECT_ARRAYS = (
    *(f"spec.{member}" for member in _POD_SPEC_ARRAYS),
    *(f"spec.template.spec.{member}" for member in _POD_SPEC_ARRAYS),
    *(f"spec.jobTemplate.spec.template.spec.{member}" for member in _POD_SPEC_ARRAYS),
    "subjects",
    "rules",
    "webhooks",
)
OBJECT_ARRAYS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "AuthenticationInfo": ("serviceAccountDelegationInfo",),
        "Status": ("details",),
        "Request": ("policy.bindings", *_KUBERNETES_OBJECT_ARRAYS),
        "Response": ("bindings", *_KUBERNETES_OBJECT_ARRAYS),
        "ServiceData": ("policyDelta.bindingDeltas", "policyDelta.auditConfigDeltas"),
    }
)

# The Elastic GCP audit module's field names (`gcp.audit.*`, ECS integration `gcp.audit`) that
# name a column. SigmaHQ writes `gcp.audit.method_name`.
ELASTIC_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "gcp.audit.method_name": "MethodName",
        "gcp.audit.service_name": "ServiceName",
        "gcp.audit.resource_name": "GCPResourceName",
        "gcp.audit.num_response_items": "NumResponseItems",
        "gcp.audit.status.message": "StatusMessage",
        "gcp.audit.authentication_info.principal_email": "PrincipalEmail",
    }
)

_DATA = "data."  # the Pub/Sub message of a log sink holds the LogEntry as its `data`


def _dialects(path: str) -> tuple[str, ...]:
    return (path, _DATA + path)


_NO_RESOURCE = (
    "the AuditLog payload (protoPayload) has no `resource` member: the monitored resource is the "
    "LogEntry's own `resource` (its type in GCPResourceType: write resource.type or data.resource.type)"
)
_NO_LOGNAME = (
    "the AuditLog payload (protoPayload) has no `logName` member: it is the LogEntry's `logName` "
    "(LogName), and it is the full name `projects/<project>/logs/cloudaudit.googleapis.com%2Factivity`, "
    "so an exact `cloudaudit.googleapis.com/activity` never matches it; write logName|endswith: "
    "cloudaudit.googleapis.com%2Factivity"
)
_NO_LABELS = (
    "GCPAuditLogs keeps only the monitored resource's `project_id` label (ProjectId); its other labels "
    "(cluster_name, location, ...) have no column"
)

# Labels of the monitored resources the audit logs name (Cloud Logging's monitored resource list:
# k8s_cluster, gce_instance, gcs_bucket, audited_resource, ...), for the reasons of the refusals.
RESOURCE_LABELS = ("cluster_name", "location", "zone", "instance_id", "bucket_name", "service", "method",
                   "organization_id", "folder_id")

MISSING: Mapping[str, str] = MappingProxyType(
    {
        **{
            name: _NO_RESOURCE
            for member in ("resource", "resource.type", "resource.labels",
                           *(f"resource.labels.{label}" for label in ("project_id", *RESOURCE_LABELS)))
            for name in _dialects(f"{_AUDIT}.{member}")
        },
        **dict.fromkeys(_dialects(f"{_AUDIT}.logName"), _NO_LOGNAME),
        **dict.fromkeys(_dialects("resource.labels"), _NO_LABELS),
        **{name: _NO_LABELS for label in RESOURCE_LABELS for name in _dialects(f"resource.labels.{label}")},
    }
)

FIELD_MAP = FieldMap(
    table=TABLE,
    objects=OBJECT_COLUMNS,
    exact=MappingProxyType(
        {
            **{column: FieldTarget(column) for column in SCHEMA if not column.startswith("_")},
            **{name: FieldTarget(column) for path, column in LOG_ENTRY_COLUMNS.items() for name in _dialects(path)},
            **{name: FieldTarget(column) for name, column in ELASTIC_NAMES.items()},
        }
    ),
    prefixes=tuple(
        PathPrefix(f"{name}.", column, arrays=OBJECT_ARRAYS.get(column, ()))
        for path, column in LOG_ENTRY_COLUMNS.items()
        if SCHEMA[column] == "dynamic"
        for name in (*_dialects(path), column)
    ),
    notes=MappingProxyType(
        {
            "MethodName": "protoPayload.methodName, gcp.audit.method_name (the API method as Google logs it, "
            "e.g. v1.compute.firewalls.delete, io.k8s.core.v1.pods.create)",
            "LogName": "logName: the full name, projects/<project>/logs/cloudaudit.googleapis.com%2Factivity",
            "GCPResourceType": "resource.type (the LogEntry's monitored resource, e.g. k8s_cluster, gcs_bucket)",
            "ProjectId": "resource.labels.project_id",
            "AuthorizationInfo": "authorizationInfo: an array of objects (resource, permission, granted, "
            "permissionType); a value on authorizationInfo.<member> matches that member of some element",
            "NumResponseItems": "a string column holding a number",
        }
    ),
    missing=MISSING,
    arrays=frozenset({("ResourceLocation", ("currentLocations",)), ("ResourceLocation", ("originalLocations",))}),
    structures=(Structure("AuthorizationInfo", members=AUTHORIZATION_MEMBERS),),
    members=DOCUMENTED_MEMBERS,
    any_case=True,
)

# GKE writes a Kubernetes API request's methodName as `io.k8s.<group>.<version>.<resource>[.<sub>].<verb>`,
# the API group with its `.k8s.io` dropped and its labels reversed (`io.k8s.core.v1.pods.create`,
# `io.k8s.authorization.rbac.v1.clusterrolebindings.create`, `io.k8s.batch.v1.cronjobs.create`,
# `io.k8s.admissionregistration.v1.mutatingwebhookconfigurations.create`: the shared samples, GKE's
# audit logging documentation). A rule value on methodName that names a Kubernetes method and is
# anchored at its start can match only when its text begins that way; `io.k8s.api.` is the
# package path of the Kubernetes Go types (`k8s.io/api/batch/v1.Job`), not an API group.
KUBERNETES_METHOD_PREFIX = "io.k8s."
NOT_KUBERNETES_METHOD_PREFIXES: Mapping[str, str] = MappingProxyType(
    {"io.k8s.api.": "the package path of the Kubernetes Go types, not an API group"}
)
METHOD_NAME_COLUMN = "MethodName"


def kubernetes_method_problem(leading: str) -> str | None:
    """Why a methodName value anchored at its start, whose text names a Kubernetes method (holds
    `k8s`) and begins with `leading` (its text up to the first wildcard), matches no method name
    GKE writes; None when it may match one."""
    lowered = leading.lower()
    prefix = KUBERNETES_METHOD_PREFIX
    if not (lowered.startswith(prefix) or prefix.startswith(lowered)):
        return f"GKE writes Kubernetes methods as {prefix}<group>.<version>.<resource>.<verb>"
    return next(
        (f"{bad} is {reason}; GKE writes {prefix}<group>.<version>.<resource>.<verb>"
         for bad, reason in NOT_KUBERNETES_METHOD_PREFIXES.items() if lowered.startswith(bad)),
        None,
    )


# A LogEntry's logName is always the full resource name of its log (Cloud Logging LogEntry
# reference: `projects/[PROJECT_ID]/logs/[LOG_ID]`, or under organizations/, folders/,
# billingAccounts/; every LogName of the samples): a value anchored at its start matches only when
# it begins with one of these parents.
LOG_NAME_COLUMN = "LogName"
LOG_NAME_PARENTS = ("projects/", "organizations/", "folders/", "billingAccounts/")


def log_name_problem(leading: str) -> str | None:
    """Why a logName value anchored at its start and beginning with `leading` (its text up to the
    first wildcard) matches no logName; None when it may match one."""
    lowered = leading.lower()
    if any(lowered.startswith(p.lower()) or p.lower().startswith(lowered) for p in LOG_NAME_PARENTS):
        return None
    return (f"a logName is the full name of the log, beginning with {', '.join(LOG_NAME_PARENTS)} "
            "(projects/<project>/logs/cloudaudit.googleapis.com%2Factivity)")


LOG_NAME_FORMS = Feature(
    "log_names",
    "warn on a logName value anchored at its start that is not a full log name",
    "gcp_audit:LogNameWarnings",
)

METHOD_NAME_FORMS = Feature(
    "method_names",
    "warn on a methodName value naming a Kubernetes method in a form GKE never logs",
    "gcp_audit:KubernetesMethodNameWarnings",
)

# Entity mappings as Microsoft's own GCPAuditLogs templates map them (Azure/Azure-Sentinel
# `Solutions/Google Cloud Platform Audit Logs/Analytic Rules/GCPOpenFirewallRuleCreated.yaml`,
# GCPBulkVMSnapshotDeletion.yaml): Account FullName = PrincipalEmail (Name and UPNSuffix its two
# halves), IP Address = `tostring(RequestMetadata.callerIp)` (their CallerIpAddress), CloudApplication
# Name = ProjectId and InstanceName = GCPResourceName; their requiredDataConnectors name
# GCPAuditLogsDefinition with data type GCPAuditLogs.
PROFILE = AnalyticsProfile(
    table=TABLE,
    extend=(
        ("AccountName", 'tostring(split(PrincipalEmail, "@")[0])'),
        ("AccountUPNSuffix", 'tostring(split(PrincipalEmail, "@")[1])'),
        ("CallerIpAddress", "tostring(RequestMetadata.callerIp)"),
    ),
    entity_mappings=(
        EntityMappingSpec(
            "Account", (("FullName", "PrincipalEmail"), ("Name", "AccountName"), ("UPNSuffix", "AccountUPNSuffix"))
        ),
        EntityMappingSpec("IP", (("Address", "CallerIpAddress"),)),
        EntityMappingSpec("CloudApplication", (("Name", "ProjectId"), ("InstanceName", "GCPResourceName"))),
    ),
    custom_details=(
        ("MethodName", "MethodName"),
        ("ServiceName", "ServiceName"),
        ("ProjectId", "ProjectId"),
        ("LogName", "LogName"),
    ),
    alert_display_name_format="{{MethodName}} by {{PrincipalEmail}}",
    connector_id="GCPAuditLogsDefinition",
    data_types=(TABLE,),
    defender_continuous=True,  # Microsoft: custom detections, tables that support Continuous (NRT)
)


# ---- raw Cloud Logging LogEntry objects (replay) ----------------------------------------------------
def is_audit_log_entry(entry: Mapping[str, Any]) -> bool:
    """A LogEntry whose payload is an AuditLog: every AuditLog names its method."""
    payload = entry.get(_AUDIT)
    return isinstance(payload, Mapping) and isinstance(payload.get("methodName"), str)


def _column_value(column: str, value: Any) -> Any:
    if SCHEMA[column] == "string" and isinstance(value, bool):
        return "true" if value else "false"
    if SCHEMA[column] == "string" and isinstance(value, (int, float)):
        return str(value)  # numResponseItems is an int64, written as a JSON string or number
    return value


def log_entry_row(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A Cloud Logging LogEntry with an AuditLog payload as a GCPAuditLogs row, field by field as
    :data:`LOG_ENTRY_COLUMNS` pairs them (TimeGenerated is `receiveTimestamp`, which Cloud Logging
    sets on every entry it stores)."""
    row: dict[str, Any] = {}
    for path, column in LOG_ENTRY_COLUMNS.items():
        value = nested_value(entry, path)
        if value is not None and value != "":
            row[column] = _column_value(column, value)
    row["Type"] = TABLE
    return row


def log_entry(row: Mapping[str, Any]) -> dict[str, Any]:
    """The LogEntry that reads as a GCPAuditLogs row (the inverse of :func:`log_entry_row` on the
    columns :data:`LOG_ENTRY_COLUMNS` pairs); PrincipalEmail and StatusMessage go back inside the
    objects they come from."""
    fields = {path: column for path, column in LOG_ENTRY_COLUMNS.items()
              if column not in ("PrincipalEmail", "StatusMessage")}
    entry = mapped_record(fields, row, {_AUDIT: {"methodName": ""}})
    payload = entry[_AUDIT]
    for name, column, member in (("authenticationInfo", "PrincipalEmail", "principalEmail"),
                                 ("status", "StatusMessage", "message")):
        if row.get(column) not in (None, ""):
            inner = payload.get(name)
            payload[name] = {**(inner if isinstance(inner, Mapping) else {}), member: row[column]}
    return entry


RAW_READER = RawRecordReader(
    "a Cloud Logging LogEntry with an AuditLog protoPayload (protoPayload.methodName)",
    is_audit_log_entry,
    log_entry_row,
    frozenset({_AUDIT}),
    log_entry,
    envelope="entries",  # Cloud Logging's entries.list response: {"entries": [...], "nextPageToken": ...}
)

SOURCE = Source(
    table=TABLE,
    title="Google Cloud audit logs",
    schema=SCHEMA,
    logsources=LOGSOURCES,
    pipeline="gcp_audit",
    field_map=FIELD_MAP,
    default=True,
    id_column="InsertId",
    summary_columns=("TimeGenerated", "MethodName", "PrincipalEmail", "ProjectId"),
    row_markers=("MethodName", "GCPResourceType", "GCPResourceName"),
    profile=PROFILE,
    raw_records=(RAW_READER,),
    features=(METHOD_NAME_FORMS, LOG_NAME_FORMS),
)
