"""AuditLogs: Sigma `product: azure, service: auditlogs` rules (Microsoft Entra ID audit log).

Columns from Microsoft's Azure Monitor table reference. Field names in three dialects: the Log
Analytics columns (any case), the Event Hub / storage diagnostic record (root `operationName`,
`category`, `properties.<camelCase>`: reference-azure-monitor-audit-log-schema) and the names
SigmaHQ rules use today (`properties.message`, `Status`, `TargetResources.modifiedProperties.newValue`).
"""

from __future__ import annotations

from types import MappingProxyType

from sigma.rule import SigmaLogSource

from .base import (
    AnalyticsProfile,
    EntityMappingSpec,
    Enumeration,
    FieldMap,
    Source,
    Structure,
    ValueRoute,
    diagnostic_names,
    diagnostic_paths,
    member_prefixes,
)
from .raw_records import diagnostic_reader

TABLE = "AuditLogs"

SCHEMA: dict[str, str] = {
    "AADOperationType": "string", "AADTenantId": "string", "ActivityDateTime": "datetime",
    "ActivityDisplayName": "string", "AdditionalDetails": "dynamic", "_BilledSize": "real",
    "Category": "string", "CorrelationId": "string", "DurationMs": "long", "Id": "string",
    "Identity": "string", "InitiatedBy": "dynamic", "_IsBillable": "string", "Level": "string",
    "Location": "string", "LoggedByService": "string", "OperationName": "string",
    "OperationVersion": "string", "Resource": "string", "ResourceGroup": "string", "ResourceId": "string",
    "ResourceProvider": "string", "Result": "string", "ResultDescription": "string",
    "ResultReason": "string", "ResultSignature": "string", "ResultType": "string",
    "SourceSystem": "string", "TargetResources": "dynamic", "TimeGenerated": "datetime", "Type": "string",
}

LOGSOURCES = (SigmaLogSource(product="azure", service="auditlogs"),)

# The audit record's activity name is `operationName` (Event Hub) = OperationName; SigmaHQ's
# `properties.message` means the same (SigmaHQ/sigma#5993 renames it to operationName).
FIELD_MAP = FieldMap(
    table=TABLE,
    exact=MappingProxyType(
        diagnostic_names(
            SCHEMA,
            {
                "OperationName": ("operationName", "properties.message", "properties.operationName"),
                "Category": ("category",),
                "AADOperationType": ("properties.operationType", "operationType"),
                "TimeGenerated": ("time",),
                "Id": ("properties.id",),
                "Identity": ("identity",),
            },
        )
    ),
    prefixes=member_prefixes(SCHEMA),
    notes=MappingProxyType(
        {
            "OperationName": "the activity: properties.message and operationName (Event Hub) mean it",
            "Category": "root `category` is read as the audit category (UserManagement, Policy, ...), "
            "as SigmaHQ writes it",
            "Status": "success/failure/timeout compare Result; any other text compares ResultReason",
            "TargetResources": "an array of objects (id, displayName, type, userPrincipalName, "
            "modifiedProperties[displayName, oldValue, newValue]): a value matches a member of some element",
            "AdditionalDetails": "an array of key/value pairs: AdditionalDetails.<key> is the value of that key",
            "InitiatedBy": "an object (user, app): members by path; a value on the whole object matches any member value",
        }
    ),
    missing=MappingProxyType(
        {
            "ConsentContext.IsAdminConsent": "in 'Consent to application' events it is a modified property "
            "of the target: match TargetResources.modifiedProperties.displayName: ConsentContext.IsAdminConsent and "
            "TargetResources.modifiedProperties.newValue|contains: True (or False) in one selection, which reads "
            "both in one property",
            "failure_status_reason": "the reason of an audit event is ResultReason (properties.resultReason)",
            "Target": "the target is TargetResources; match TargetResources.userPrincipalName or .displayName",
            "ActivityType": "the activity is OperationName (operationName) or ActivityDisplayName",
            "activityType": "the activity is OperationName (operationName) or ActivityDisplayName",
        }
    ),
    structures=(
        Structure(
            "TargetResources",
            members=("id", "displayName", "type", "userPrincipalName", "groupType", "administrativeUnits"),
            nested=MappingProxyType({"modifiedProperties": ("displayName", "oldValue", "newValue")}),
        ),
        Structure("AdditionalDetails", kind="pairs"),
        Structure("InitiatedBy", kind="object"),
    ),
    # Microsoft Graph auditActivityInitiator: user (auditUserIdentity), app (appIdentity)
    members=MappingProxyType(
        {
            "InitiatedBy": ("user", "user.id", "user.displayName", "user.userPrincipalName", "user.ipAddress",
                            "user.roles", "user.homeTenantId", "user.homeTenantName", "app", "app.appId",
                            "app.displayName", "app.servicePrincipalId", "app.servicePrincipalName"),
        }
    ),
    routes=(
        ValueRoute(
            ("Status",),
            MappingProxyType(
                {v: f'Result =~ "{v}"' for v in ("success", "failure", "timeout")}
            ),
            ("ResultReason",),
            itself="Result",
            note="the audit result is Result; other text is the result reason",
        ),
    ),
    enumerations=(
        Enumeration("Result", ("success", "failure", "timeout", "unknownFutureValue"),
                    "Microsoft Graph directoryAudit.result"),
    ),
    any_case=True,
)

# Where an audit diagnostic record (Microsoft's "audit logs schema in Azure Monitor") holds the
# columns whose name is not its Graph property's (see diagnostic_paths for the others).
RAW_PATHS: dict[str, tuple[str, ...]] = {
    "TimeGenerated": ("time",),
    "AADOperationType": ("properties.operationType",),
    "AADTenantId": ("tenantId",),
}

PROFILE = AnalyticsProfile(
    table=TABLE,
    extend=(
        ("AccountUpn", "tostring(InitiatedBy.user.userPrincipalName)"),
        ("SourceIp", "tostring(InitiatedBy.user.ipAddress)"),
        ("InitiatingApp", "tostring(InitiatedBy.app.displayName)"),
    ),
    entity_mappings=(
        EntityMappingSpec("Account", (("FullName", "AccountUpn"),)),
        EntityMappingSpec("IP", (("Address", "SourceIp"),)),
        EntityMappingSpec("CloudApplication", (("Name", "InitiatingApp"),)),
    ),
    custom_details=(
        ("Operation", "OperationName"),
        ("Category", "Category"),
        ("Result", "Result"),
        ("LoggedByService", "LoggedByService"),
    ),
    alert_display_name_format="{{OperationName}} by {{AccountUpn}}",
    connector_id="AzureActiveDirectory",
    data_types=(TABLE,),
    defender_continuous=True,  # Microsoft: custom detections, tables that support Continuous (NRT)
)

SOURCE = Source(
    table=TABLE,
    title="Entra ID audit logs",
    schema=SCHEMA,
    logsources=LOGSOURCES,
    pipeline="azure_auditlogs",
    field_map=FIELD_MAP,
    default=True,
    id_column="Id",
    summary_columns=("TimeGenerated", "OperationName", "Result"),
    row_markers=("LoggedByService", "TargetResources"),
    profile=PROFILE,
    raw_records=(diagnostic_reader("AuditLogs", TABLE, SCHEMA, diagnostic_paths(SCHEMA, RAW_PATHS)),),
)
