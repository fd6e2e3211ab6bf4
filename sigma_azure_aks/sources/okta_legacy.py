"""Okta_CL: Sigma `product: okta, service: okta` rules on the legacy Okta table (pipeline `okta_legacy`).

`Okta_CL` is the custom log of Microsoft's earlier Okta connectors (Azure Functions, connector id
`OktaSSO`), written through the HTTP Data Collector API: each System Log field is a column named
after its path joined by `_`, with a type suffix (`eventType_s`, `actor_alternateId_s`,
`securityContext_isProxy_b`, `published_t`, `uuid_g`); arrays are JSON text (`target_s`,
`request_ipChain_s`). Columns: Azure/Azure-Sentinel
`.script/tests/KqlvalidationsTests/CustomTables/Okta_CL.json`, the ones Microsoft validates its own
content against (a workspace has a column for every field it ever received; a field outside this
list is refused, naming it, rather than queried in a column that may not exist).

A variant of :mod:`.okta` (a pipeline of its own, as `aks_audit_legacy` is for AKS): the table has
its own schema, field names, event id and connector, and a workspace holds one of the two. The same
SigmaHQ field names reach it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

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
from .okta import LOGSOURCES, TARGET_MEMBERS

TABLE = "Okta_CL"

SCHEMA: dict[str, str] = {
    "actor_alternateId_s": "string", "actor_displayName_s": "string", "actor_id_s": "string",
    "actor_type_s": "string", "authenticationContext_authenticationProvider_s": "string",
    "authenticationContext_authenticationStep_d": "real",
    "authenticationContext_credentialProvider_s": "string",
    "authenticationContext_credentialType_s": "string", "authenticationContext_externalSessionId_s": "string",
    "_BilledSize": "real", "client_device_s": "string", "client_geographicalContext_city_s": "string",
    "client_geographicalContext_country_s": "string", "client_geographicalContext_geolocation_lat_d": "real",
    "client_geographicalContext_geolocation_lon_d": "real",
    "client_geographicalContext_postalCode_s": "string", "client_geographicalContext_state_s": "string",
    "client_ipAddress_s": "string", "client_userAgent_browser_s": "string", "client_userAgent_os_s": "string",
    "client_userAgent_rawUserAgent_s": "string", "client_zone_s": "string", "Computer": "string",
    "debugContext_debugData_appname_s": "string", "debugContext_debugData_attributesAdded_s": "string",
    "debugContext_debugData_attributesDeleted_s": "string",
    "debugContext_debugData_attributesModified_s": "string",
    "debugContext_debugData_authnRequestId_s": "string",
    "debugContext_debugData_countryCallingCode_s": "string",
    "debugContext_debugData_detailedmessage_s": "string",
    "debugContext_debugData_deviceFingerprint_g": "string", "debugContext_debugData_factor_s": "string",
    "debugContext_debugData_groupAppAssignmentId_s": "string",
    "debugContext_debugData_importLastToken_s": "string", "debugContext_debugData_importTrigger_s": "string",
    "debugContext_debugData_importType_s": "string", "debugContext_debugData_initiationType_s": "string",
    "debugContext_debugData_jobId_s": "string", "debugContext_debugData_loginResult_s": "string",
    "debugContext_debugData_logOnlySecurityData_s": "string", "debugContext_debugData_requestId_s": "string",
    "debugContext_debugData_requestUri_s": "string", "debugContext_debugData_signOnMode_s": "string",
    "debugContext_debugData_smsProvider_s": "string", "debugContext_debugData_threatSuspected_s": "string",
    "debugContext_debugData_transactionId_g": "string", "debugContext_debugData_url_s": "string",
    "displayMessage_s": "string", "eventType_s": "string", "_IsBillable": "string",
    "legacyEventType_s": "string", "ManagementGroupName": "string", "MG": "string",
    "outcome_reason_s": "string", "outcome_result_s": "string", "published_t": "datetime",
    "RawData": "string", "request_ipChain_s": "string", "_ResourceId": "string",
    "securityContext_asNumber_d": "real", "securityContext_asOrg_s": "string",
    "securityContext_domain_s": "string", "securityContext_isp_s": "string",
    "securityContext_isProxy_b": "bool", "severity_s": "string", "SourceSystem": "string",
    "target_s": "string", "TenantId": "string", "TimeGenerated": "datetime", "transaction_id_s": "string",
    "transaction_type_s": "string", "Type": "string", "uuid_g": "string", "version_s": "string",
}

SUFFIXES = ("_s", "_d", "_b", "_g", "_t")
# Columns every custom log has (not System Log fields).
STANDARD_COLUMNS = frozenset(
    {"Computer", "ManagementGroupName", "MG", "RawData", "SourceSystem", "TenantId", "TimeGenerated", "Type"}
)


def system_log_name(column: str) -> str:
    """The System Log field a Data Collector column holds (``actor_alternateId_s`` -> ``actor.alternateId``)."""
    return column[:-2].replace("_", ".")


SYSTEM_LOG_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        system_log_name(column): column
        for column in SCHEMA
        if column[-2:] in SUFFIXES and not column.startswith("_") and column not in STANDARD_COLUMNS
    }
)

# target_s holds the target array as the ingester wrote its JSON text (escapes included); the
# preamble parses it once, so element members are matched on Kusto's own JSON of the array.
TARGET = "OktaTarget"
PREAMBLE = f"{TABLE}\n| extend {TARGET} = parse_json(target_s)"

FIELD_MAP = FieldMap(
    table=TABLE,
    exact=MappingProxyType(
        {
            **field_targets({column: (column,) for column in SCHEMA if not column.startswith("_")}),
            **{name: FieldTarget(column) for name, column in SYSTEM_LOG_FIELDS.items()},
            TARGET: FieldTarget(TARGET),
        }
    ),
    notes=MappingProxyType(
        {
            "target_s": "target: the target array as JSON text (target.<member>: see OktaTarget)",
            TARGET: "target_s parsed (the query's preamble): target.<member> matches that member of some element",
            "securityContext_isProxy_b": "securityContext.isProxy, a bool column",
        }
    ),
    prefixes=(PathPrefix("target.", TARGET), PathPrefix("target_s.", TARGET), PathPrefix(f"{TARGET}.", TARGET)),
    structures=(Structure(TARGET, members=TARGET_MEMBERS),),
    missing=MappingProxyType(
        {
            "debugContext.debugData.behaviors": "Okta_CL's schema has no debugContext_debugData_behaviors_s; "
            "use the okta pipeline (OktaV2_CL, where debugData is kept whole)",
        }
    ),
)

# Entity mappings exactly as Microsoft's Okta template on this table maps them (Solutions/Okta Single
# Sign-On/Analytic Rules/MFAFatigue.yaml: Account Name = actor_alternateId_s, DisplayName =
# actor_displayName_s; requiredDataConnectors OktaSSO with data type Okta_CL; PasswordSpray.yaml:
# IP Address = client_ipAddress_s).
PROFILE = AnalyticsProfile(
    table=TABLE,
    extend=(),
    entity_mappings=(
        EntityMappingSpec("Account", (("Name", "actor_alternateId_s"), ("DisplayName", "actor_displayName_s"))),
        EntityMappingSpec("IP", (("Address", "client_ipAddress_s"),)),
    ),
    custom_details=(("EventType", "eventType_s"), ("Outcome", "outcome_result_s"), ("Message", "displayMessage_s")),
    alert_display_name_format="{{eventType_s}} by {{actor_alternateId_s}}",
    connector_id="OktaSSO",
    data_types=(TABLE,),
    defender_continuous=True,  # Microsoft: custom detections, tables that support Continuous (NRT)
)

SOURCE = Source(
    table=TABLE,
    title="Okta System Log (legacy table)",
    schema=SCHEMA,
    logsources=LOGSOURCES,
    pipeline="okta_legacy",
    field_map=FIELD_MAP,
    id_column="uuid_g",
    summary_columns=("TimeGenerated", "eventType_s", "actor_alternateId_s", "outcome_result_s"),
    row_markers=("eventType_s",),
    profile=PROFILE,
    preamble=PREAMBLE,
    preamble_columns={TARGET: "dynamic"},
)
