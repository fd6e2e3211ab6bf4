"""Log Analytics table schemas as data: every column the package may query, with its type.

Transcribed from Microsoft's Azure Monitor table reference (AzureActivity, AKSAudit,
AKSAuditAdmin, AzureDiagnostics). This module is the one place these facts live: the pipelines,
the Sentinel target, the KQL validator, the replay engine and the docs all read them from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_AZUREACTIVITY: dict[str, str] = {
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

_AKSAUDIT: dict[str, str] = {
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

_AKSAUDITADMIN: dict[str, str] = {
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
_AZUREDIAGNOSTICS: dict[str, str] = {
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

TABLES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "AzureActivity": MappingProxyType(_AZUREACTIVITY),
        "AKSAudit": MappingProxyType(_AKSAUDIT),
        "AKSAuditAdmin": MappingProxyType(_AKSAUDITADMIN),
        "AzureDiagnostics": MappingProxyType(_AZUREDIAGNOSTICS),
    }
)
"""Table name -> {column name: Log Analytics type}."""

# AzureActivity columns that exist but are empty in current data (and missing in some regions).
# A query must never depend on them; the field mapping never targets them.
DEPRECATED_EMPTY_COLUMNS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "AzureActivity": frozenset(
            {
                "OperationName",
                "ActivityStatus",
                "ActivitySubstatus",
                "Category",
                "ResourceProvider",
                "Resource",
                "ResourceId",
            }
        ),
    }
)


def columns(table: str) -> Mapping[str, str]:
    """Columns of a known table; KeyError names the known tables."""
    try:
        return TABLES[table]
    except KeyError:
        raise KeyError(f"unknown table {table!r}; known tables: {', '.join(sorted(TABLES))}") from None


def schema_text(table: str) -> str:
    """The table's schema in Kusto's `(col:type, ...)` notation."""
    return "(" + ", ".join(f"{name}:{kind}" for name, kind in columns(table).items()) + ")"
