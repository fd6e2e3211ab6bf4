"""GoogleWorkspaceReports: Sigma `product: gcp, service: google_workspace.admin` and
`google_workspace.login` rules (Google Workspace activities that Microsoft Sentinel's Google Workspace
connector ingests), every fact in one place.

The table is the one Microsoft's current connector writes: "Google Workspace Activities (via Codeless
Connector Framework)", Azure/Azure-Sentinel `Solutions/GoogleWorkspaceReports/Data Connectors/
GoogleWorkspaceTemplate_ccp/` (connector id `GoogleWorkspaceCCPDefinition`; one poller per Reports API
application, `.../activity/users/all/applications/<app>`, each with the transform
`/ASI/GoogleWorkspace/OneDetectionPerRow`). Its DCR has no transformKql: the mapping is Microsoft's
platform transform, which the repository describes in `Data Connectors/
ICM_51000001028275_GoogleMeet_MissingEvents_Investigation.md`: each activity's `events[]` is expanded
into one row per event, and `EventType=event_type, EventName=event_name,
EventParameters=event_parameters`; customers' rows there show `IdApplicationName` holding the
application (`meet`) and `EventName` the Reports API event name as Google writes it
(`recording_activity`). The activity's own fields (`id.*`, `actor.*`, `ipAddress`, ...) land in the
columns their names flatten to (`IdApplicationName`, `ActorEmail`; `ipAddress` in SrcIpAddr, as
Microsoft's `GWorkspaceActivityReports` parser names it): our reading of the column names, not a
published transform. The parameters the transform also lifts into columns of their own (NewValue,
RoleName, ...) are not published, so a parameter is read where the transform keeps it whole:
`EventParameters`, the event's parameter array.

SigmaHQ writes the Reports API names (`eventName`, and the parameters `setting_name`, `new_value`).
`eventService` (`admin.googleapis.com`) and the `protoPayload.*` fields of the login rules are the
Cloud Logging form of Workspace audit logs: no column holds a service name, so those rules are refused
naming the column to use instead.

Not a target: the legacy Azure Functions connector's `GWorkspace_ReportsAPI_<app>_CL` tables and
Microsoft's `GWorkspaceActivityReports` parser (see :data:`NOT_TARGETED`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
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
)
from .features import Feature
from .raw_records import RawRecordReader, mapped_record, nested_value, put
from .shapes import Structure

TABLE = "GoogleWorkspaceReports"

SCHEMA: dict[str, str] = {
    "AccountState": "string", "ActorApplicationInfoApplicationName": "string",
    "ActorApplicationInfoImpersonation": "bool", "ActorApplicationInfoOauthClientId": "string",
    "ActorCallerType": "string", "ActorEmail": "string", "ActorIsCollaboratorAccount": "bool",
    "ActorKey": "string", "ActorProfileId": "string", "ApiKind": "string", "ApplicationEdition": "string",
    "ApplicationName": "string", "AppName": "string", "Billable": "bool", "_BilledSize": "real",
    "BrowserVersion": "string", "CalendarId": "string", "ChromeOrgUnitId": "string", "ClientId": "string",
    "ClientType": "string", "ContentHash": "string", "ContentName": "string", "ContentRiskLevel": "string",
    "ContentSize": "string", "ContentTransferMethod": "string", "ContentType": "string",
    "DestinationFolderId": "string", "DestinationFolderTitle": "string", "DestUserUpn": "string",
    "DeviceId": "string", "DeviceName": "string", "DevicePlatform": "string", "DeviceType": "string",
    "DeviceUser": "string", "DocId": "string", "DocTitle": "string", "DocType": "string",
    "DstUserUpn": "string", "DvcGuid": "string", "DvcInterfaceGuid": "string", "DvcModelName": "string",
    "DvcModelNumber": "string", "DvcType": "string", "Etag": "string", "EventEndTime": "string",
    "EventGuest": "string", "EventId": "string", "EventMessage": "string", "EventName": "string",
    "EventOriginalMessage": "string", "EventParameters": "dynamic", "EventProduct": "string",
    "EventResourceId": "string", "EventResourceName": "string", "EventResponseStatus": "string",
    "EventResult": "string", "EventStartTime": "string", "EventTitle": "string", "EventType": "string",
    "EventUid": "string", "EventVendor": "string", "GroupDomain": "string", "GroupEmail": "string",
    "IdApplicationName": "string", "IdCustomerId": "string", "IdTime": "string",
    "IdUniqueQualifier": "string", "IosVendorId": "string", "IosVendorUID": "string",
    "_IsBillable": "string", "IsSecondFactor": "bool", "IsSuspicious": "bool", "_ItemId": "string",
    "Kind": "string", "LastSyncAuditDate": "string", "LoginChallengeMethod": "string",
    "LoginChallengeStatus": "string", "LoginType": "string", "ModuleName": "string",
    "NetworkInfoRegionCode": "string", "NetworkInfoSubdivisionCode": "string", "NetworkIpAsn": "dynamic",
    "NewValue": "string", "NotificationMessageId": "string", "NotificationMethod": "string",
    "NotificationType": "string", "OldEventTitle": "string", "OldValue": "string",
    "OldVisibility": "string", "OrganizerCalendarId": "string", "OrgUnitName": "string",
    "OriginatingAppId": "string", "OsProperty": "string", "Owner": "string", "OwnerDomain": "string",
    "OwnerEmail": "string", "OwnerIsSharedDrive": "bool", "OwnerIsTeamDrive": "bool",
    "PrimaryEvent": "bool", "ProcessName": "string", "ProfileUserName": "string",
    "RegisterPrivelege": "string", "Resource_Id": "string", "ResourceDetails": "dynamic",
    "RoleName": "string", "RuleName": "string", "ScanId": "string", "Scope": "string",
    "ScopeData": "string", "SerialNumber": "string", "SharedDriveId": "string", "SourceFolderId": "string",
    "SourceFolderTitle": "string", "SourceSystem": "string", "SrcIpAddr": "string",
    "TargetCalendarId": "string", "TargetDomain": "string", "TargetUserDomain": "string",
    "TargetUserName": "string", "TeamDriveId": "string", "TenantId": "string", "TimeGenerated": "datetime",
    "Timestamp": "string", "TriggerDestination": "string", "TriggerSource": "string",
    "TriggerType": "string", "Type": "string", "Url": "string", "UserAadid": "string",
    "UserAgent": "string", "UserAgentOriginal": "string", "UserEmail": "string", "Value": "string",
    "VirtualDeviceId": "string", "Visibility": "string", "VisibilityChange": "string",
}

LOGSOURCES = (
    SigmaLogSource(product="gcp", service="google_workspace.admin"),
    SigmaLogSource(product="gcp", service="google_workspace.login"),
)

# Reports API activity field (dotted path) -> column: the column each name flattens to (see the module
# docstring: our reading, the transform is not published); `ipAddress` as GWorkspaceActivityReports names it.
ACTIVITY_COLUMNS: Mapping[str, str] = MappingProxyType(
    {
        "id.applicationName": "IdApplicationName",
        "id.customerId": "IdCustomerId",
        "id.time": "IdTime",
        "id.uniqueQualifier": "IdUniqueQualifier",
        "actor.email": "ActorEmail",
        "actor.profileId": "ActorProfileId",
        "actor.callerType": "ActorCallerType",
        "actor.key": "ActorKey",
        "actor.applicationInfo.applicationName": "ActorApplicationInfoApplicationName",
        "actor.applicationInfo.impersonation": "ActorApplicationInfoImpersonation",
        "actor.applicationInfo.oauthClientId": "ActorApplicationInfoOauthClientId",
        "ipAddress": "SrcIpAddr",
        "kind": "Kind",
        "etag": "Etag",
        "ownerDomain": "OwnerDomain",
        "networkInfo.regionCode": "NetworkInfoRegionCode",
        "networkInfo.subdivisionCode": "NetworkInfoSubdivisionCode",
        "networkInfo.ipAsn": "NetworkIpAsn",
    }
)

# One element of an activity's `events[]` -> column, as Microsoft's KQL transform assigns them
# (`EventType=event_type, EventName=event_name, EventParameters=event_parameters`).
EVENT_COLUMNS: Mapping[str, str] = MappingProxyType(
    {"name": "EventName", "type": "EventType", "parameters": "EventParameters"}
)

# EventParameters: the event's parameters as the Reports API writes them, an array of
# {"name": ..., "value": ...} (or boolValue, intValue, multiValue, ... for other types).
PARAMETERS = "EventParameters"
PARAMETER_VALUE_KEYS = ("value", "boolValue", "intValue", "multiValue", "multiIntValue", "messageValue",
                        "multiMessageValue")

# The parameters SigmaHQ names by a field of their own (the Reports API admin events' SETTING_NAME,
# NEW_VALUE, OLD_VALUE): Sigma field -> parameter name.
PARAMETER_FIELDS: Mapping[str, str] = MappingProxyType(
    {"setting_name": "SETTING_NAME", "new_value": "NEW_VALUE", "old_value": "OLD_VALUE"}
)

# The parameters a rule may read by name whose type is text (`value`): the admin events' SETTING_NAME,
# NEW_VALUE and OLD_VALUE (Reports API admin activity events: "type: string"). Any other parameter
# may be one Google writes as boolValue, intValue or multiValue (login events' is_suspicious,
# login_challenge_method), which `parameters.<NAME>` never reads: conversion warns (the rule is kept).
TEXT_PARAMETERS = frozenset(PARAMETER_FIELDS.values())


def typed_parameter_problem(parameter: str) -> str | None:
    """Why a rule value on the parameter named `parameter` may match nothing (None: its type is text)."""
    if parameter.upper() in TEXT_PARAMETERS:
        return None
    return (
        f"parameters.<NAME> reads the parameter's `value` (text) only; if Google writes {parameter} as "
        "boolValue, intValue or multiValue (login events' is_suspicious, login_challenge_method), it never "
        f"matches: match the whole {PARAMETERS} column with |contains, or a column the connector fills"
    )


TYPED_PARAMETERS = Feature(
    "typed_parameters",
    "warn on a parameter read by name that Google may write as boolValue, intValue or multiValue",
    "gcp_workspace:TypedParameterWarnings",
)

_CLOUD_LOGGING = (
    "the Cloud Logging form of Google Workspace audit logs, which the connector does not read: it reads "
    "the Reports API, whose activities name no service but their application, IdApplicationName "
    "(id.applicationName: admin, login, drive, ...)"
)
MISSING: Mapping[str, str] = MappingProxyType(
    {
        "eventService": f"a service name such as admin.googleapis.com is {_CLOUD_LOGGING}; write "
        "IdApplicationName: admin instead, or leave the item out when eventName alone says it",
        **{
            name: f"a service name such as login.googleapis.com is {_CLOUD_LOGGING}; write "
            "IdApplicationName: login instead"
            for name in ("protoPayload.serviceName", "protoPayload.Servicename")
        },
        "protoPayload.metadata.event.eventName": f"protoPayload is {_CLOUD_LOGGING}; the event's name is "
        "eventName (EventName): write eventName instead",
    }
)

FIELD_MAP = FieldMap(
    table=TABLE,
    exact=MappingProxyType(
        {
            **{column: FieldTarget(column) for column in SCHEMA if not column.startswith("_")},
            **{name: FieldTarget(column) for name, column in ACTIVITY_COLUMNS.items()},
            **{f"events.{name}": FieldTarget(column) for name, column in EVENT_COLUMNS.items()},
            "eventName": FieldTarget("EventName"),
            "eventType": FieldTarget("EventType"),
            **{name: FieldTarget(PARAMETERS, (parameter,)) for name, parameter in PARAMETER_FIELDS.items()},
        }
    ),
    prefixes=(
        PathPrefix(f"{PARAMETERS}.", PARAMETERS, whole_key=True),
        PathPrefix("events.parameters.", PARAMETERS, whole_key=True),
        PathPrefix("parameters.", PARAMETERS, whole_key=True),
    ),
    notes=MappingProxyType(
        {
            "EventName": "eventName: events[].name, one event a row (e.g. CHANGE_APPLICATION_SETTING)",
            "IdApplicationName": "id.applicationName: the Reports API application (admin, login, drive, ...)",
            PARAMETERS: "events[].parameters: an array of {name, value}; parameters.<NAME> (or setting_name, "
            "new_value, old_value) is the value of the parameter of that name (a parameter with boolValue, "
            "intValue or multiValue is matched on the whole column only)",
            "SrcIpAddr": "ipAddress",
        }
    ),
    missing=MISSING,
    structures=(Structure(PARAMETERS, kind="pairs", pair=("name", "value")),),
    opaque=MappingProxyType(
        {
            "NetworkIpAsn": "networkInfo.ipAsn: an array of numbers, no members",
            "ResourceDetails": "no published reference documents its shape",
        }
    ),
)

# Microsoft's Google Workspace templates (Azure/Azure-Sentinel `Solutions/GoogleWorkspaceReports/
# Analytic Rules/`) map the account from the actor (GWorkspaceAdminPermissionsGranted.yaml,
# GWorkspaceTwoStepAuthenticationDisabledForUser.yaml: Account Name = ActorEmail) and the address from
# SrcIpAddr (GWorkspaceDifferentUAsFromSingleIP.yaml: IP Address); they query the
# GWorkspaceActivityReports parser and name the legacy connector (GoogleWorkspaceReportsAPI). A rule
# here queries the table the CCF connector writes, so it names that connector and the data type its
# definition declares (GoogleWorkspaceReports_DataConnectorDefinition.json: graphQueriesTableName).
PROFILE = AnalyticsProfile(
    table=TABLE,
    extend=(),
    entity_mappings=(
        EntityMappingSpec("Account", (("Name", "ActorEmail"),)),
        EntityMappingSpec("IP", (("Address", "SrcIpAddr"),)),
    ),
    custom_details=(
        ("Application", "IdApplicationName"),
        ("EventName", "EventName"),
        ("EventType", "EventType"),
    ),
    alert_display_name_format="{{EventName}} by {{ActorEmail}}",
    connector_id="GoogleWorkspaceCCPDefinition",
    data_types=(TABLE,),
)

# Why the legacy tables and the parser are not a target (docs read this).
NOT_TARGETED = (
    "The legacy Azure Functions connector (GoogleWorkspaceReportsAPI) wrote one table per application "
    "(GWorkspace_ReportsAPI_admin_CL, ..._login_CL, ...) with every parameter flattened into a column of "
    "its own (SETTING_NAME_s, NEW_VALUE_s, new_value_s); Microsoft's GWorkspaceActivityReports parser "
    "renames them to this table's names and unions GoogleWorkspaceReports, but ends with "
    "`GWorkspace_ReportsAPI_view | union isfuzzy=true GoogleWorkspaceReports_CL, GoogleWorkspaceReports, "
    "GWorkspace_ReportsAPI_view`, so every legacy row comes out twice (a count rule would double), and it "
    "spells the new value NeqValue and Newvalue. Query the table your connector writes."
)


# ---- raw Reports API activities (replay) ----------------------------------------------------------
def _column_value(column: str, value: Any) -> Any:
    if SCHEMA[column] == "bool" and isinstance(value, str):
        return {"true": True, "false": False}.get(value.lower(), value)
    if SCHEMA[column] == "string" and isinstance(value, bool):
        return "true" if value else "false"
    if SCHEMA[column] == "string" and isinstance(value, (int, float)):
        return str(value)
    return value


def event_row(activity: Mapping[str, Any], event: Mapping[str, Any]) -> dict[str, Any]:
    """One event of a Reports API activity as a GoogleWorkspaceReports row: the activity's fields
    (ACTIVITY_COLUMNS), the event's name, type and parameters (EVENT_COLUMNS), the time of the
    activity as TimeGenerated."""
    row: dict[str, Any] = {}
    for name, column in ACTIVITY_COLUMNS.items():
        value = nested_value(activity, name)
        if value is not None and value != "":
            row[column] = _column_value(column, value)
    for name, column in EVENT_COLUMNS.items():
        value = event.get(name)
        if value is not None and value != "":
            row[column] = _column_value(column, value)
    if "IdTime" in row:
        row["TimeGenerated"] = row["IdTime"]
    row["Type"] = TABLE
    return row


def _put_time(record: dict[str, Any], row: Mapping[str, Any]) -> None:
    """id.time from the row's TimeGenerated (which the reader takes from id.time)."""
    time = row.get("TimeGenerated")
    if time not in (None, ""):
        put(record, "id.time", time.isoformat() if isinstance(time, datetime) else str(time))


def is_activity(record: Mapping[str, Any]) -> bool:
    """A Reports API activity (`activities.list` items): kind admin#reports#activity, an id, events."""
    return record.get("kind") == "admin#reports#activity" and isinstance(record.get("id"), Mapping) and (
        "events" in record
    )


def activity_events(activity: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The activities holding one event each that a Reports API activity splits into, as the
    connector writes one row per event (its OneDetectionPerRow transform expands `events[]`): the
    same id, actor and address, one element in events. An activity with no event gives no row."""
    events = activity.get("events")
    if not isinstance(events, list) or len(events) == 1:
        return [activity]
    return [{**activity, "events": [event]} for event in events]


def activity_row(activity: Mapping[str, Any]) -> dict[str, Any]:
    """The row of a Reports API activity holding one event (replay splits the others first,
    :func:`activity_events`)."""
    events = activity.get("events")
    if not isinstance(events, list) or len(events) != 1 or not isinstance(events[0], Mapping):
        raise ValueError(
            "a Google Workspace Reports API activity whose events is not an array of event objects "
            f"(id {nested_value(activity, 'id.uniqueQualifier')!r})"
        )
    return event_row(activity, events[0])


def activity_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """The Reports API activity that reads as a row (the inverse of :func:`activity_row`)."""
    record = mapped_record(ACTIVITY_COLUMNS, row, {"kind": "admin#reports#activity", "id": {}})
    record["kind"] = "admin#reports#activity"
    _put_time(record, row)
    event = {name: row[column] for name, column in EVENT_COLUMNS.items() if row.get(column) not in (None, "")}
    record["events"] = [event]
    return record


# Panther's GSuite.ActivityEvent (the shared samples' form): one event of an activity per record, its
# name, type and parameters at the root, the parameters as an object {NAME: value}. Each parameter goes
# back into the Reports API array under the key its JSON type has there.
def _parameter(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"name": name, "boolValue": value}
    if isinstance(value, int):
        return {"name": name, "intValue": str(value)}
    if isinstance(value, list):
        return {"name": name, "multiValue": value}
    if isinstance(value, Mapping):
        return {"name": name, "messageValue": value}
    if value is None:
        return {"name": name}
    return {"name": name, "value": str(value)}


def _parameter_value(parameter: Mapping[str, Any]) -> Any:
    for key in PARAMETER_VALUE_KEYS:
        if key in parameter:
            value = parameter[key]
            return int(value) if key == "intValue" and str(value).lstrip("-").isdigit() else value
    return None


def is_panther_event(record: Mapping[str, Any]) -> bool:
    identity = record.get("id")
    return isinstance(identity, Mapping) and "applicationName" in identity and "events" not in record


def panther_row(record: Mapping[str, Any]) -> dict[str, Any]:
    parameters = record.get("parameters")
    if parameters is not None and not isinstance(parameters, Mapping):
        raise ValueError("a Google Workspace activity event whose parameters is not an object")
    event = {key: record[key] for key in ("name", "type") if key in record}
    if parameters:
        event["parameters"] = [_parameter(str(name), value) for name, value in parameters.items()]
    return event_row(record, event)


def panther_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """The Panther event that reads as a row (the inverse of :func:`panther_row`)."""
    record = mapped_record(ACTIVITY_COLUMNS, row)
    record.setdefault("id", {}).setdefault("applicationName", "")
    _put_time(record, row)
    for name in ("name", "type"):
        value = row.get(EVENT_COLUMNS[name])
        if value not in (None, ""):
            record[name] = value
    parameters = row.get(PARAMETERS)
    if isinstance(parameters, list):
        record["parameters"] = {
            str(p.get("name")): _parameter_value(p) for p in parameters if isinstance(p, Mapping) and "name" in p
        }
    return record


RAW_READERS = (
    RawRecordReader(
        "a Google Workspace Reports API activity (kind admin#reports#activity, id, events: one row per event)",
        is_activity,
        activity_row,
        frozenset({"kind", "id", "events"}),
        activity_record,
        envelope="items",
        split=activity_events,
    ),
    RawRecordReader(
        "a Google Workspace activity event in Panther's form (id.applicationName, name, parameters)",
        is_panther_event,
        panther_row,
        frozenset({"id"}),
        panther_record,
    ),
)

SOURCE = Source(
    table=TABLE,
    title="Google Workspace activities (Reports API)",
    schema=SCHEMA,
    logsources=LOGSOURCES,
    pipeline="gcp_workspace",
    field_map=FIELD_MAP,
    default=True,
    id_column="IdUniqueQualifier",
    summary_columns=("TimeGenerated", "IdApplicationName", "EventName", "ActorEmail"),
    row_markers=("IdUniqueQualifier", "IdApplicationName"),
    profile=PROFILE,
    raw_records=RAW_READERS,
    features=(TYPED_PARAMETERS,),
)
