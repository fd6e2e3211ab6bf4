"""OfficeActivity: Sigma `product: m365, service: audit` rules (the Office 365 Management Activity
API records the Microsoft 365 connector ingests: Exchange, SharePoint and Teams).

Columns from Microsoft's Azure Monitor table reference; field names as Log Analytics columns (any
case) and as the Management Activity API names SigmaHQ rules use (`Workload`, `ObjectId`, `Id`).

Refused here, with the reason: `product: m365` services `threat_management`, `threat_detection`
and `exchange`, whose rules name Defender for Cloud Apps / Purview alerts (`eventSource`,
`eventName`, `status`); those are no OfficeActivity records, and Microsoft does not document that
SecurityAlert holds them under those names.
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
    Structure,
    diagnostic_names,
    member_prefixes,
)

TABLE = "OfficeActivity"

SCHEMA: dict[str, str] = {
    "AADGroupId": "string", "AADTarget": "string", "Activity": "string", "Actor": "string",
    "ActorContextId": "string", "ActorIpAddress": "string", "AddOnGuid": "string", "AddonName": "string",
    "AddOnType": "string", "AffectedItems": "string", "AppDistributionMode": "string", "AppId": "string",
    "Application": "string", "ApplicationId": "string", "AppPoolName": "string",
    "AzureActiveDirectory_EventType": "string", "AzureADAppId": "string", "_BilledSize": "real",
    "ChannelGuid": "string", "ChannelName": "string", "ChannelType": "string", "ChatName": "string",
    "ChatThreadId": "string", "Client": "string", "Client_IPAddress": "string", "ClientAppId": "string",
    "ClientInfoString": "string", "ClientIP": "string", "ClientMachineName": "string",
    "ClientProcessName": "string", "ClientVersion": "string", "CommunicationType": "string",
    "CrossMailboxOperations": "bool", "CustomEvent": "string", "DataCenterSecurityEventType": "int",
    "DestFolder": "string", "DestinationFileExtension": "string", "DestinationFileName": "string",
    "DestinationRelativeUrl": "string", "DestMailboxId": "string",
    "DestMailboxOwnerMasterAccountSid": "string", "DestMailboxOwnerSid": "string",
    "DestMailboxOwnerUPN": "string", "EffectiveOrganization": "string",
    "ElevationApprovedTime": "datetime", "ElevationApprover": "string", "ElevationDuration": "int",
    "ElevationRequestId": "string", "ElevationRole": "string", "ElevationTime": "datetime",
    "Event_Data": "string", "EventSource": "string", "ExtendedProperties": "string",
    "ExternalAccess": "string", "ExtraProperties": "dynamic", "Folder": "string", "Folders": "string",
    "GenericInfo": "string", "InternalLogonType": "int", "InterSystemsId": "string",
    "IntraSystemId": "string", "_IsBillable": "string", "IsManagedDevice": "bool", "Item": "string",
    "ItemName": "string", "ItemType": "string", "LoginStatus": "int", "Logon_Type": "string",
    "LogonUserDisplayName": "string", "LogonUserSid": "string", "MachineDomainInfo": "string",
    "MachineId": "string", "MailboxGuid": "string", "MailboxOwnerMasterAccountSid": "string",
    "MailboxOwnerSid": "string", "MailboxOwnerUPN": "string", "Members": "dynamic", "MessageId": "string",
    "ModifiedObjectResolvedName": "string", "ModifiedProperties": "string", "Name": "string",
    "NewValue": "string", "OfficeId": "string", "OfficeObjectId": "string", "OfficeTenantId": "string",
    "OfficeWorkload": "string", "OldValue": "string", "Operation": "string",
    "OperationProperties": "dynamic", "OperationScope": "string", "OrganizationId": "string",
    "OrganizationName": "string", "OriginatingServer": "string", "Parameters": "string",
    "RecordType": "string", "_ResourceId": "string", "ResultReasonType": "string",
    "ResultStatus": "string", "SendAsUserMailboxGuid": "string", "SendAsUserSmtp": "string",
    "SendonBehalfOfUserMailboxGuid": "string", "SendOnBehalfOfUserSmtp": "string", "SharingType": "string",
    "Site_": "string", "Site_Url": "string", "Source_Name": "string", "SourceFileExtension": "string",
    "SourceFileName": "string", "SourceRecordId": "string", "SourceRelativeUrl": "string",
    "SourceSystem": "string", "SRPolicyId": "string", "SRPolicyName": "string",
    "SRRuleMatchDetails": "dynamic", "Start_Time": "datetime", "_SubscriptionId": "string",
    "SupportTicketId": "string", "TabType": "string", "TargetContextId": "string",
    "TargetUserId": "string", "TargetUserOrGroupName": "string", "TargetUserOrGroupType": "string",
    "TeamGuid": "string", "TeamName": "string", "TenantId": "string", "TimeGenerated": "datetime",
    "Type": "string", "UserAgent": "string", "UserDomain": "string", "UserId": "string",
    "UserKey": "string", "UserSharedWith": "string", "UserType": "string",
}

LOGSOURCES = (SigmaLogSource(product="m365", service="audit"),)

# The Office 365 connector's data types: OfficeActivity (Exchange), (SharePoint), (Teams).
_NOT_INGESTED = (
    "records of the {workload} workload are not in OfficeActivity: the Microsoft 365 connector ingests "
    "Exchange, SharePoint and Teams records only. {instead}"
)

FIELD_MAP = FieldMap(
    table=TABLE,
    exact=MappingProxyType(
        diagnostic_names(
            SCHEMA,
            {
                "OfficeWorkload": ("Workload",),
                "OfficeObjectId": ("ObjectId",),
                "OfficeId": ("Id",),
                "OrganizationId": ("OrganizationId",),
            },
        )
    ),
    prefixes=member_prefixes(SCHEMA),
    notes=MappingProxyType(
        {
            "OfficeWorkload": "Workload in the Management Activity API",
            "OfficeObjectId": "ObjectId in the Management Activity API",
            "Parameters": "JSON text (string column): |contains searches the text",
            "OperationProperties": "an array of Name/Value pairs: OperationProperties.<Name> is its value",
        }
    ),
    missing=MappingProxyType(
        {
            "RequestType": _NOT_INGESTED.format(
                workload="AzureActiveDirectory (sign-in, whose ExtendedProperties hold RequestType)",
                instead="Detect the sign-in in SigninLogs (azure/signinlogs).",
            ),
            "Directionality": _NOT_INGESTED.format(
                workload="ThreatIntelligence (Defender for Office 365 TIMailData)",
                instead="Defender XDR's EmailEvents table holds EmailDirection and DeliveryAction.",
            ),
            "DeliveryAction": _NOT_INGESTED.format(
                workload="ThreatIntelligence (Defender for Office 365 TIMailData)",
                instead="Defender XDR's EmailEvents table holds EmailDirection and DeliveryAction.",
            ),
        }
    ),
    structures=(
        Structure("OperationProperties", kind="pairs", pair=("Name", "Value")),
        # Management Activity API, Microsoft Teams schema: Members (TeamsUser), ExtraProperties (KeyValuePair)
        Structure("Members", members=("UPN", "Role", "DisplayName")),
        Structure("ExtraProperties", kind="pairs", pair=("Key", "Value")),
    ),
    opaque=MappingProxyType(
        {
            "SRRuleMatchDetails": "no Microsoft reference documents the members of SRRuleMatchDetails; use "
            "SRRuleMatchDetails|contains (it searches the column's JSON text) or your own pipeline",
        }
    ),
    any_case=True,
)

_ALERTS = (
    "the m365 {service} rules match eventSource, eventName and status, which no OfficeActivity record has; "
    "their values name Defender for Cloud Apps / Purview alerts, and Microsoft does not document that "
    "SecurityAlert carries them under these names. Query SecurityAlert (AlertName, ProductName) with your own "
    "pipeline if your tenant's alerts do, or write the rule on m365/audit fields (Operation, OfficeWorkload)."
)

REFUSALS = tuple(
    Refusal(SigmaLogSource(product="m365", service=service), _ALERTS.format(service=service))
    for service in ("threat_management", "threat_detection", "exchange")
)

PROFILE = AnalyticsProfile(
    table=TABLE,
    extend=(),
    entity_mappings=(
        EntityMappingSpec("Account", (("FullName", "UserId"),)),
        EntityMappingSpec("IP", (("Address", "ClientIP"),)),
        EntityMappingSpec("CloudApplication", (("Name", "OfficeWorkload"),)),
    ),
    custom_details=(
        ("Operation", "Operation"),
        ("Workload", "OfficeWorkload"),
        ("ResultStatus", "ResultStatus"),
        ("ObjectId", "OfficeObjectId"),
    ),
    alert_display_name_format="{{Operation}} by {{UserId}}",
    connector_id="Office365",
    data_types=("OfficeActivity (Exchange)", "OfficeActivity (SharePoint)", "OfficeActivity (Teams)"),
    defender_continuous=True,  # Microsoft: custom detections, tables that support Continuous (NRT)
)

SOURCE = Source(
    table=TABLE,
    title="Microsoft 365 audit",
    schema=SCHEMA,
    logsources=LOGSOURCES,
    pipeline="m365_audit",
    field_map=FIELD_MAP,
    default=True,
    id_column="OfficeId",
    summary_columns=("TimeGenerated", "Operation", "UserId", "OfficeWorkload"),
    row_markers=("OfficeId", "OfficeWorkload"),
    profile=PROFILE,
    refused=REFUSALS,
)
