"""AzureActivity: Sigma `product: azure, service: activitylogs` rules, every fact in one place.

Columns transcribed from Microsoft's Azure Monitor table reference; field names in both dialects
SigmaHQ uses (the raw activity-log record as Event Hubs / storage export it, and the Log Analytics
column names).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from sigma.rule import SigmaLogSource

from .base import (
    AnalyticsProfile,
    EntityMappingSpec,
    FieldMap,
    PathPrefix,
    Source,
    Spellings,
    field_targets,
)
from .features import BuiltPipeline, Feature
from .raw_records import RawRecordReader, nested_value, put

TABLE = "AzureActivity"

SCHEMA: dict[str, str] = {
    "ActivityStatus": "string",
    "ActivityStatusValue": "string",
    "ActivitySubstatus": "string",
    "ActivitySubstatusValue": "string",
    "Authorization": "string",
    "Authorization_d": "dynamic",
    "_BilledSize": "real",
    "Caller": "string",
    "CallerIpAddress": "string",
    "Category": "string",
    "CategoryValue": "string",
    "Claims": "string",
    "Claims_d": "dynamic",
    "CorrelationId": "string",
    "EventDataId": "string",
    "EventSubmissionTimestamp": "datetime",
    "Hierarchy": "string",
    "HTTPRequest": "string",
    "_IsBillable": "string",
    "Level": "string",
    "OperationId": "string",
    "OperationName": "string",
    "OperationNameValue": "string",
    "Properties": "string",
    "Properties_d": "dynamic",
    "Resource": "string",
    "ResourceGroup": "string",
    "_ResourceId": "string",
    "ResourceId": "string",
    "ResourceProvider": "string",
    "ResourceProviderValue": "string",
    "SourceSystem": "string",
    "SubscriptionId": "string",
    "_SubscriptionId": "string",
    "TenantId": "string",
    "TimeGenerated": "datetime",
    "Type": "string",
}

# Columns that exist but are empty in current data (and missing in some regions). A query must
# never depend on them; the field map never targets them.
DEPRECATED = frozenset(
    {"OperationName", "ActivityStatus", "ActivitySubstatus", "Category", "ResourceProvider", "Resource", "ResourceId"}
)

LOGSOURCES = (
    SigmaLogSource(product="azure", service="activitylogs"),
    SigmaLogSource(product="azure", service="azureactivity"),  # the old alias
)

# Both dialects SigmaHQ uses: the raw activity-log record (Event Hubs / storage export) and the
# Log Analytics column names. Never the deprecated display-name columns (OperationName, ...).
FIELD_MAP = FieldMap(
    table=TABLE,
    exact=MappingProxyType(
        field_targets(
            {
                "OperationNameValue": ("operationName", "operationName.value", "OperationNameValue"),
                "ActivityStatusValue": ("resultType", "status", "status.value", "ActivityStatusValue"),
                "ActivitySubstatusValue": (
                    "resultSignature",
                    "subStatus",
                    "subStatus.value",
                    "ActivitySubstatusValue",
                ),
                "CategoryValue": ("category", "category.value", "properties.eventCategory", "CategoryValue"),
                "_ResourceId": ("resourceId", "ResourceId", "_ResourceId"),
                "ResourceProviderValue": (
                    "resourceProviderName",
                    "resourceProviderName.value",
                    "ResourceProviderValue",
                ),
                "ResourceGroup": ("resourceGroupName", "ResourceGroup"),
                "SubscriptionId": ("subscriptionId", "SubscriptionId"),
                "Caller": ("caller", "Caller"),
                "CallerIpAddress": ("callerIpAddress", "CallerIpAddress", "httpRequest.clientIpAddress"),
                "CorrelationId": ("correlationId", "CorrelationId"),
                "Level": ("level", "Level"),
                "TimeGenerated": ("time", "eventTimestamp", "TimeGenerated"),
                "EventDataId": ("eventDataId", "EventDataId"),
                "OperationId": ("operationId", "OperationId"),
                "TenantId": ("TenantId",),
                "Hierarchy": ("Hierarchy",),
                "EventSubmissionTimestamp": ("submissionTimestamp", "EventSubmissionTimestamp"),
            }
        )
    ),
    prefixes=(
        PathPrefix("properties.", "Properties_d", note="properties.message holds the raw operation id"),
        PathPrefix("identity.claims.", "Claims_d", whole_key=True, note="claim names are single keys"),
        PathPrefix("claims.", "Claims_d", whole_key=True, note="claim names are single keys"),
        PathPrefix("identity.authorization.", "Authorization_d"),
        PathPrefix("authorization.", "Authorization_d"),
        PathPrefix("httpRequest.", "HTTPRequest", json_text=True, note="HTTPRequest is JSON text"),
    ),
    objects=frozenset({"Authorization_d", "Claims_d", "Properties_d"}),
    notes=MappingProxyType(
        {
            "OperationNameValue": "never OperationName: it held the localized display name and is empty",
            "ActivityStatusValue": "Success/Succeeded, Start/Started, Accept/Accepted, Failure/Failed "
            "match either spelling",
            "CategoryValue": "the event category: Administrative, Policy, Security, ...",
            "Caller": "a UPN for users, an object id (GUID) for service principals",
        }
    ),
)

# Values of ActivityStatusValue spelled two ways: the documentation says Succeeded/Started/...,
# real rows say Success/Start/... A rule value in one spelling matches rows in either.
STATUS = Spellings(
    "ActivityStatusValue",
    (
        frozenset({"Success", "Succeeded"}),
        frozenset({"Start", "Started"}),
        frozenset({"Accept", "Accepted"}),
        frozenset({"Failure", "Failed"}),
    ),
)

# AzureActivity `Caller` holds a UPN for users and an object/application id (GUID) for service
# principals and managed identities. One column cannot feed two identifiers conditionally, so the
# query splits it: the UPN goes to Account.FullName, the GUID to Account.AadUserId; the empty one is
# ignored by Sentinel. `contains "@"` rather than `has "@"`: `@` is not a term character.
_GUID = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"

PROFILE = AnalyticsProfile(
    table=TABLE,
    extend=(
        ("AccountUpn", 'iff(Caller contains "@", Caller, "")'),
        ("AccountObjectId", f'iff(Caller matches regex "{_GUID}", Caller, "")'),
    ),
    entity_mappings=(
        EntityMappingSpec("Account", (("FullName", "AccountUpn"), ("AadUserId", "AccountObjectId"))),
        EntityMappingSpec("IP", (("Address", "CallerIpAddress"),)),
        EntityMappingSpec("AzureResource", (("ResourceId", "_ResourceId"),)),
    ),
    custom_details=(
        ("Operation", "OperationNameValue"),
        ("Status", "ActivityStatusValue"),
        ("ResourceGroup", "ResourceGroup"),
        ("SubscriptionId", "SubscriptionId"),
    ),
    alert_display_name_format="{{OperationNameValue}} by {{Caller}}",
    connector_id="AzureActivity",
    data_types=(TABLE,),
    defender_continuous=True,  # Microsoft: custom detections, tables that support Continuous (NRT)
)


# ---- raw activity-log records (replay) ----------------------------------------------------------
_CONTAINERS = {"properties", "identity", "claims", "authorization", "httpRequest"}
_RESOURCE_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)(?:/resourceGroups/(?P<rg>[^/]+))?(?:/providers/(?P<rp>[^/]+))?",
    re.I,
)


# The activity log's event categories (Microsoft's "Azure Activity Log event schema"): the REST
# form writes one as `category.value`; the resource-log form (Event Hubs, storage) writes
# Write/Delete/Action for an Administrative event and the category itself for the others, with
# the event category in `properties.eventCategory`. Another `category` (a resource log's:
# AuditEvent, kube-apiserver, SignInLogs, ...) is no activity-log record.
EVENT_CATEGORIES = frozenset(
    {"Administrative", "Security", "ServiceHealth", "Alert", "Recommendation", "Policy", "Autoscale",
     "ResourceHealth"}
)
OPERATION_KINDS = frozenset({"Write", "Delete", "Action"})
RESOURCE_LOG_CATEGORIES = EVENT_CATEGORIES | OPERATION_KINDS


def is_activity_record(record: Mapping[str, Any]) -> bool:
    """A raw activity-log record, REST or resource-log form, by its category and shape."""
    category = record.get("category")
    operation = record.get("operationName")
    if isinstance(category, Mapping):  # REST form: localizable strings
        return category.get("value") in EVENT_CATEGORIES and isinstance(operation, Mapping)
    event_category = nested_value(record, "properties.eventCategory")
    return (
        category in RESOURCE_LOG_CATEGORIES
        and isinstance(operation, str)
        and (event_category is None or event_category in EVENT_CATEGORIES)
    )


def activity_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """A raw activity-log record (resource-log or REST form) as an AzureActivity row.

    Exact names go through ``FIELD_MAP.resolve`` (``operationName`` and ``operationName.value``
    -> OperationNameValue, ``resultType``/``status.value`` -> ActivityStatusValue, ...); the
    containers its prefixes name (``properties.``, ``identity.claims.``, ``claims.``, ...) become
    their dynamic column, and ``httpRequest`` becomes HTTPRequest as JSON text.
    """
    row: dict[str, Any] = {}
    for key, value in record.items():
        if key in _CONTAINERS:
            continue
        names = [f"{key}.value", key] if isinstance(value, Mapping) and "value" in value else [key]
        for name in names:
            target = FIELD_MAP.resolve(name)
            if target is None or target.is_member:
                continue
            plain = value["value"] if name.endswith(".value") and isinstance(value, Mapping) else value
            if isinstance(plain, (Mapping, list)):
                continue
            row.setdefault(target.column, plain)
            break
    for prefix in FIELD_MAP.prefixes:
        container = nested_value(record, prefix.prefix.rstrip("."))
        if container is None or prefix.column in row:
            continue
        row[prefix.column] = json.dumps(container, ensure_ascii=False) if prefix.json_text else container
    # The event category lives in properties.eventCategory in the resource-log form, where
    # `category` is Write/Delete/Action; the field map names both, the first one wins.
    # The schema's mapping: without properties.eventCategory, a Write/Delete/Action record is an
    # Administrative event.
    category_column = FIELD_MAP.exact["properties.eventCategory"].column
    event_category = nested_value(record, "properties.eventCategory")
    if event_category:
        row[category_column] = event_category
    elif row.get(category_column) in OPERATION_KINDS:
        row[category_column] = "Administrative"
    for text_column, dynamic_column in (
        ("Properties", "Properties_d"),
        ("Claims", "Claims_d"),
        ("Authorization", "Authorization_d"),
    ):
        if dynamic_column in row and text_column not in row:
            row[text_column] = json.dumps(row[dynamic_column], ensure_ascii=False)
    resource_id = row.get("_ResourceId")
    if isinstance(resource_id, str):
        match = _RESOURCE_ID.match(resource_id)
        if match:
            row.setdefault("SubscriptionId", match.group("sub"))
            if match.group("rg"):
                row.setdefault("ResourceGroup", match.group("rg"))
            if match.group("rp"):
                row.setdefault("ResourceProviderValue", match.group("rp"))
    row["Type"] = TABLE
    return row


# Kubernetes data-plane operations (Azure RBAC DataActions) named by activity-log rules are not in
# AzureActivity: the plain pipeline warns; `aks_dataplane` translates them to AKSAudit
# (pipelines/aks_dataplane.py).
DATAPLANE_NOTICE = Feature(
    "aks_dataplane_notice",
    "warn when a rule kept on this table is about Kubernetes data-plane operations",
    "aks_dataplane:DataPlaneNoticeTransformation",
    claimed=False,
)
DATAPLANE_PIPELINE = BuiltPipeline(
    "aks_dataplane",
    "rules about Kubernetes objects -> AKSAudit, the others -> AzureActivity",
    "aks_dataplane:dataplane_pipeline",
)

# Where the REST form of a record holds each column it carries: the inverse of activity_row.
REST_KEYS: Mapping[str, str] = MappingProxyType(
    {
        "OperationNameValue": "operationName.value",
        "ActivityStatusValue": "status.value",
        "ActivitySubstatusValue": "subStatus.value",
        "CategoryValue": "category.value",
        "ResourceProviderValue": "resourceProviderName.value",
        "_ResourceId": "resourceId",
        "ResourceGroup": "resourceGroupName",
        "SubscriptionId": "subscriptionId",
        "Caller": "caller",
        "CallerIpAddress": "callerIpAddress",
        "CorrelationId": "correlationId",
        "Level": "level",
        "TimeGenerated": "eventTimestamp",
        "EventSubmissionTimestamp": "submissionTimestamp",
        "EventDataId": "eventDataId",
        "OperationId": "operationId",
        "Properties_d": "properties",
        "Claims_d": "claims",
        "Authorization_d": "authorization",
    }
)


def activity_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """The REST-form activity-log record that reads as an AzureActivity row (on REST_KEYS; an
    event category the activity log does not have reads as Administrative)."""
    record: dict[str, Any] = {"category": {"value": "Administrative"}, "operationName": {"value": ""}}
    for column, key in REST_KEYS.items():
        value = row.get(column)
        if value is None or (column == "CategoryValue" and value not in EVENT_CATEGORIES):
            continue
        put(record, key, value)
    return record


SOURCE = Source(
    table=TABLE,
    title="Azure activity logs",
    schema=SCHEMA,
    logsources=LOGSOURCES,
    pipeline="azure_activity",
    field_map=FIELD_MAP,
    default=True,
    deprecated=DEPRECATED,
    spellings=(STATUS,),
    features=(DATAPLANE_NOTICE,),
    built_pipelines=(DATAPLANE_PIPELINE,),
    id_column="EventDataId",
    summary_columns=("TimeGenerated", "OperationNameValue", "Caller", "ActivityStatusValue"),
    row_markers=("OperationNameValue", "EventDataId"),
    profile=PROFILE,
    raw_records=(
        RawRecordReader(
            "a raw activity-log record (category Write, Delete, Action or an activity-log category, "
            "operationName)",
            is_activity_record,
            activity_row,
            frozenset({"category", "operationName"}),
            activity_record,
        ),
    ),
)
