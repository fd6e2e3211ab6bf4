"""OktaV2_CL: Sigma `product: okta, service: okta` rules (the Okta System Log), every fact in one place.

The table is the one Microsoft's current Okta connector writes (Okta Single Sign-On via the Codeless
Connector Framework, connector id `OktaSSOv2`): Azure/Azure-Sentinel `Solutions/Okta Single
Sign-On/Data Connectors/OktaNativePollerConnectorV2/OktaSSOv2_Tables.json` (columns) and
`OktaSSOv2_DCR.json` (transformKql: which System Log field lands in which column). SigmaHQ writes
the System Log's own field names (`eventType`, `displayMessage`, `actor.alternateId`,
`debugContext.debugData.requestUri`, ...); each is mapped to the column the connector fills from it,
and every column is also accepted by its own name.

Not covered: the Azure Functions connector's legacy `Okta_CL` (`eventType_s`, ...) and
Microsoft's `OktaSSO` parser, which renames OktaV2_CL back to those legacy names.
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
    field_targets,
)
from .raw_records import RawRecordReader, mapped_record, nested_value

TABLE = "OktaV2_CL"

SCHEMA: dict[str, str] = {
    "ActingAppName": "string", "ActingAppType": "string", "ActorDetailEntry": "dynamic",
    "ActorDisplayName": "string", "ActorSessionId": "string", "ActorUserId": "string",
    "ActorUserIdType": "string", "ActorUsername": "string", "ActorUsernameType": "string",
    "ActorUserType": "string", "AuthenticationContextAuthenticationProvider": "string",
    "AuthenticationContextAuthenticationStep": "int", "AuthenticationContextCredentialProvider": "string",
    "AuthenticationContextInterface": "string", "AuthenticationContextIssuerId": "string",
    "AuthenticationContextIssuerType": "string", "_BilledSize": "real", "DebugData": "dynamic",
    "DvcAction": "string", "EventMessage": "string", "EventOriginalResultDetails": "string",
    "EventOriginalType": "string", "EventOriginalUid": "string", "EventResult": "string",
    "EventSeverity": "string", "HttpUserAgent": "string", "_IsBillable": "string",
    "LegacyEventType": "string", "LogonMethod": "string", "OriginalActorAlternateId": "string",
    "OriginalClientDevice": "string", "OriginalOutcomeResult": "string", "OriginalSeverity": "string",
    "OriginalTarget": "dynamic", "OriginalUserId": "string", "OriginalUserType": "string",
    "Request": "dynamic", "SecurityContextAsNumber": "int", "SecurityContextAsOrg": "string",
    "SecurityContextDomain": "string", "SecurityContextIsProxy": "bool", "SrcDeviceType": "string",
    "SrcDvcId": "string", "SrcDvcIdType": "string", "SrcDvcOs": "string", "SrcGeoCity": "string",
    "SrcGeoCountry": "string", "SrcGeoLatitude": "real", "SrcGeoLongtitude": "real",
    "SrcGeoPostalCode": "string", "SrcGeoRegion": "string", "SrcIpAddr": "string", "SrcIsp": "string",
    "SrcZone": "string", "TenantId": "string", "TimeGenerated": "datetime", "TransactionDetail": "dynamic",
    "TransactionId": "string", "TransactionType": "string", "Type": "string", "Version": "string",
}

LOGSOURCES = (SigmaLogSource(product="okta", service="okta"),)

# System Log field -> OktaV2_CL column, as OktaSSOv2_DCR.json's transformKql assigns them (the
# column descriptions in the reference table file repeat it). Columns the DCR derives by mapping a
# value (EventResult, DvcAction, EventSeverity, ActorUserType, ActorUsername) are not listed: their
# values are not the System Log's, so a Sigma value is compared with the original column instead.
SYSTEM_LOG_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "eventType": "EventOriginalType",
        "legacyEventType": "LegacyEventType",
        "displayMessage": "EventMessage",
        "uuid": "EventOriginalUid",
        "published": "TimeGenerated",
        "version": "Version",
        "severity": "OriginalSeverity",
        "outcome.result": "OriginalOutcomeResult",
        "outcome.reason": "EventOriginalResultDetails",
        "actor.id": "OriginalUserId",
        "actor.type": "OriginalUserType",
        "actor.alternateId": "OriginalActorAlternateId",
        "actor.displayName": "ActorDisplayName",
        "actor.detailEntry": "ActorDetailEntry",
        "client.userAgent.rawUserAgent": "HttpUserAgent",
        "client.userAgent.browser": "ActingAppName",
        "client.userAgent.os": "SrcDvcOs",
        "client.zone": "SrcZone",
        "client.device": "OriginalClientDevice",
        "client.id": "SrcDvcId",
        "client.ipAddress": "SrcIpAddr",
        "client.geographicalContext.city": "SrcGeoCity",
        "client.geographicalContext.state": "SrcGeoRegion",
        "client.geographicalContext.country": "SrcGeoCountry",
        "client.geographicalContext.postalCode": "SrcGeoPostalCode",
        "client.geographicalContext.geolocation.lat": "SrcGeoLatitude",
        "client.geographicalContext.geolocation.lon": "SrcGeoLongtitude",
        "authenticationContext.authenticationProvider": "AuthenticationContextAuthenticationProvider",
        "authenticationContext.credentialProvider": "AuthenticationContextCredentialProvider",
        "authenticationContext.credentialType": "LogonMethod",
        "authenticationContext.authenticationStep": "AuthenticationContextAuthenticationStep",
        "authenticationContext.externalSessionId": "ActorSessionId",
        "authenticationContext.interface": "AuthenticationContextInterface",
        "authenticationContext.issuer.id": "AuthenticationContextIssuerId",
        "authenticationContext.issuer.type": "AuthenticationContextIssuerType",
        "securityContext.asNumber": "SecurityContextAsNumber",
        "securityContext.asOrg": "SecurityContextAsOrg",
        "securityContext.isp": "SrcIsp",
        "securityContext.domain": "SecurityContextDomain",
        "securityContext.isProxy": "SecurityContextIsProxy",
        "debugContext.debugData": "DebugData",
        "transaction.id": "TransactionId",
        "transaction.type": "TransactionType",
        "transaction.detail": "TransactionDetail",
        "target": "OriginalTarget",
        "request": "Request",
    }
)

# Objects kept whole in a dynamic column: their members are read by path.
OBJECT_PREFIXES: Mapping[str, str] = MappingProxyType(
    {
        "debugContext.debugData.": "DebugData",
        "transaction.detail.": "TransactionDetail",
        "actor.detailEntry.": "ActorDetailEntry",
        "request.": "Request",
        "target.": "OriginalTarget",
    }
)

TARGET_MEMBERS = ("id", "type", "alternateId", "displayName", "detailEntry")

FIELD_MAP = FieldMap(
    table=TABLE,
    # objects the System Log / audit API writes as they are (free-form: read with member access)
    objects=frozenset({"ActorDetailEntry", "DebugData", "Request", "TransactionDetail"}),
    exact=MappingProxyType(
        {
            **field_targets({column: (column,) for column in SCHEMA if not column.startswith("_")}),
            **{name: FieldTarget(column) for name, column in SYSTEM_LOG_FIELDS.items()},
        }
    ),
    prefixes=(
        *(PathPrefix(prefix, column) for prefix, column in OBJECT_PREFIXES.items()),
        *(PathPrefix(f"{column}.", column) for column, kind in SCHEMA.items() if kind == "dynamic"),
    ),
    notes=MappingProxyType(
        {
            "EventOriginalType": "eventType (the System Log event type)",
            "EventMessage": "displayMessage",
            "OriginalActorAlternateId": "actor.alternateId (the login; ActorUsername only when it holds @)",
            "OriginalOutcomeResult": "outcome.result as Okta writes it (SUCCESS, FAILURE, ...); "
            "EventResult is the connector's normalised value",
            "DebugData": "debugContext.debugData: an object, members by path (debugContext.debugData.requestUri)",
            "OriginalTarget": "target: an array of objects (id, type, alternateId, displayName, detailEntry); "
            "a value on target.<member> matches that member of some element",
            "SecurityContextIsProxy": "securityContext.isProxy, a bool column",
        }
    ),
    structures=(Structure("OriginalTarget", members=TARGET_MEMBERS),),
)

# Entity mappings: Microsoft's Okta templates map the account from the actor (Solutions/Okta Single
# Sign-On/Analytic Rules/MFAFatigue.yaml: Account Name = actor_alternateId_s, DisplayName =
# actor_displayName_s, the OktaSSO names of OriginalActorAlternateId and ActorDisplayName) and the
# address from client.ipAddress (PasswordSpray.yaml: IP Address = client_ipAddress_s, here SrcIpAddr). The connector (OktaSSOv2_DataConnectorDefinition.json)
# declares one data type, `OktaSSO` (its graphQueriesTableName), the one those templates name.
PROFILE = AnalyticsProfile(
    table=TABLE,
    extend=(),
    entity_mappings=(
        EntityMappingSpec("Account", (("Name", "OriginalActorAlternateId"), ("DisplayName", "ActorDisplayName"))),
        EntityMappingSpec("IP", (("Address", "SrcIpAddr"),)),
    ),
    custom_details=(
        ("EventType", "EventOriginalType"),
        ("Outcome", "OriginalOutcomeResult"),
        ("Message", "EventMessage"),
    ),
    alert_display_name_format="{{EventOriginalType}} by {{OriginalActorAlternateId}}",
    connector_id="OktaSSOv2",
    data_types=("OktaSSO",),
    defender_continuous=True,  # Microsoft: custom detections, tables that support Continuous (NRT)
)


# ---- raw System Log events (replay) ---------------------------------------------------------------
# Columns the DCR derives by mapping a System Log value (OktaSSOv2_DCR.json transformKql, as the
# reference table's descriptions give them): column -> (System Log field, {value: column value}).
DERIVED: Mapping[str, tuple[str, Mapping[str, str]]] = MappingProxyType(
    {
        "EventResult": ("outcome.result", {"SUCCESS": "Success", "ALLOW": "Success", "DENY": "Failure",
                                           "SKIPPED": "Failure", "FAILURE": "Failure", "CHALLENGE": "Partial",
                                           "UNKNOWN": "NA"}),
        "DvcAction": ("outcome.result", {"ALLOW": "Allow", "DENY": "Deny", "SKIPPED": "Drop"}),
        "EventSeverity": ("severity", {"DEBUG": "Informational", "INFO": "Informational", "WARN": "Medium",
                                       "ERROR": "High"}),
        "ActorUserType": ("actor.type", {"SystemPrincipal": "System Principal", "PublicClientApp": "Application",
                                         "User": "Regular"}),
        "SrcDeviceType": ("client.device", {"Computer": "Computer"}),
    }
)


def system_log_row(event: Mapping[str, Any]) -> dict[str, Any]:
    """An Okta System Log event (`/api/v1/logs`) as an OktaV2_CL row, the way OktaSSOv2_DCR.json's
    transformKql writes it: each field into its column (SYSTEM_LOG_FIELDS), objects and arrays kept
    in the dynamic columns, and the connector's derived columns (DERIVED, the actor's id and UPN,
    the client id's type)."""
    row: dict[str, Any] = {}
    for name, column in SYSTEM_LOG_FIELDS.items():
        value = nested_value(event, name)
        if value is not None:
            row[column] = value
    for column, (name, mapping) in DERIVED.items():
        mapped = mapping.get(str(nested_value(event, name)))
        if mapped is not None:
            row[column] = mapped
    actor_id = nested_value(event, "actor.id")
    if actor_id not in (None, "", "unknown"):
        row["ActorUserId"], row["ActorUserIdType"] = actor_id, "OktaId"
    alternate = str(nested_value(event, "actor.alternateId") or "")
    if "@" in alternate:
        row["ActorUsername"], row["ActorUsernameType"] = alternate, "UPN"
    if nested_value(event, "client.id") not in (None, ""):
        row["SrcDvcIdType"] = "OktaId"
    row["ActingAppType"] = "Browser"  # a constant in the DCR
    row["Type"] = TABLE
    return row


# Keys every System Log LogEvent has (Okta's System Log API reference: required properties).
SYSTEM_LOG_KEYS = ("eventType", "severity", "version")

RAW_READER = RawRecordReader(
    "an Okta System Log event (eventType, severity, version)",
    lambda event: all(key in event for key in SYSTEM_LOG_KEYS),
    system_log_row,
    frozenset(SYSTEM_LOG_KEYS),
    lambda row: mapped_record(SYSTEM_LOG_FIELDS, row, dict.fromkeys(SYSTEM_LOG_KEYS)),
    priority=1,
)

SOURCE = Source(
    table=TABLE,
    title="Okta System Log",
    schema=SCHEMA,
    logsources=LOGSOURCES,
    pipeline="okta",
    field_map=FIELD_MAP,
    default=True,
    id_column="EventOriginalUid",
    summary_columns=("TimeGenerated", "EventOriginalType", "OriginalActorAlternateId", "OriginalOutcomeResult"),
    row_markers=("EventOriginalType", "EventOriginalUid"),
    profile=PROFILE,
    raw_records=(RAW_READER,),
)
