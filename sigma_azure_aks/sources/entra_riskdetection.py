"""AADUserRiskEvents: Sigma `product: azure, service: riskdetection` rules (Entra ID Protection
risk detections; there is no `identityprotection` service in SigmaHQ).

Columns from Microsoft's Azure Monitor table reference; field names as Log Analytics columns (any
case), Microsoft Graph riskDetection names (`riskEventType`) and the diagnostic record
(`properties.<camelCase>`, category UserRiskEvents). AADRiskyUsers holds a user's risk state,
not detections.

`product: azure, service: pim` is refused here: its values (tooManyGlobalAdminsAssignedToTenant-
AlertIncident, ...) are Privileged Identity Management alert incidents, which Microsoft Graph
serves only on its beta endpoint (identityGovernance/roleManagementAlerts) and no Log Analytics
table holds.
"""

from __future__ import annotations

from types import MappingProxyType

from sigma.rule import SigmaLogSource

from .base import (
    AnalyticsProfile,
    EntityMappingSpec,
    FieldMap,
    Refusal,
    Source,
    diagnostic_names,
    member_prefixes,
)
from .readers import diagnostic_reader

TABLE = "AADUserRiskEvents"

SCHEMA: dict[str, str] = {
    "Activity": "string", "ActivityDateTime": "datetime", "AdditionalInfo": "dynamic",
    "_BilledSize": "real", "CorrelationId": "string", "DetectedDateTime": "datetime",
    "DetectionTimingType": "string", "Id": "string", "IpAddress": "string", "_IsBillable": "string",
    "LastUpdatedDateTime": "datetime", "Location": "dynamic", "OperationName": "string",
    "RequestId": "string", "RiskDetail": "string", "RiskEventType": "string", "RiskLevel": "string",
    "RiskState": "string", "Source": "string", "SourceSystem": "string", "TenantId": "string",
    "TimeGenerated": "datetime", "TokenIssuerType": "string", "Type": "string",
    "UserDisplayName": "string", "UserId": "string", "UserPrincipalName": "string",
}

LOGSOURCES = (SigmaLogSource(product="azure", service="riskdetection"),)

FIELD_MAP = FieldMap(
    table=TABLE,
    exact=MappingProxyType(
        diagnostic_names(
            SCHEMA,
            {
                "IpAddress": ("callerIpAddress", "properties.ipAddress"),
                "TimeGenerated": ("time",),
                "Id": ("properties.id",),
            },
        )
    ),
    prefixes=member_prefixes(SCHEMA),
    notes=MappingProxyType(
        {"RiskEventType": "the detection: unlikelyTravel, anonymizedIPAddress, leakedCredentials, passwordSpray, ..."}
    ),
    any_case=True,
)

PIM_REFUSAL = Refusal(
    SigmaLogSource(product="azure", service="pim"),
    "Privileged Identity Management alerts (riskEventType ...AlertIncident) are in no Log Analytics table: "
    "Microsoft Graph serves them only on its beta endpoint (GET /identityGovernance/roleManagementAlerts/alerts). "
    "Poll that API, or detect the role changes themselves with azure/auditlogs rules (AuditLogs).",
)

PROFILE = AnalyticsProfile(
    table=TABLE,
    extend=(),
    entity_mappings=(
        EntityMappingSpec("Account", (("FullName", "UserPrincipalName"),)),
        EntityMappingSpec("IP", (("Address", "IpAddress"),)),
    ),
    custom_details=(
        ("RiskEventType", "RiskEventType"),
        ("RiskLevel", "RiskLevel"),
        ("RiskState", "RiskState"),
        ("DetectionSource", "Source"),
    ),
    alert_display_name_format="{{RiskEventType}} risk detection for {{UserPrincipalName}}",
    connector_id="AzureActiveDirectory",
    data_types=(TABLE,),
)

SOURCE = Source(
    table=TABLE,
    title="Entra ID Protection risk detections",
    schema=SCHEMA,
    logsources=LOGSOURCES,
    pipeline="azure_riskdetection",
    field_map=FIELD_MAP,
    default=True,
    id_column="Id",
    summary_columns=("TimeGenerated", "RiskEventType", "UserPrincipalName", "RiskLevel"),
    row_markers=("RiskEventType",),
    profile=PROFILE,
    raw_records=(diagnostic_reader("UserRiskEvents", FIELD_MAP, SCHEMA),),
    refused=(PIM_REFUSAL,),
)
