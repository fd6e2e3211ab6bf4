"""SigninLogs: Sigma `product: azure, service: signinlogs` rules (Microsoft Entra ID interactive sign-ins).

Columns from Microsoft's Azure Monitor table reference. Field names in three dialects: the Log
Analytics columns (any case), the Event Hub / storage diagnostic record (root `resultType`,
`resultDescription`, `callerIpAddress`, `properties.<camelCase>`:
reference-azure-monitor-sign-ins-log-schema) and the names SigmaHQ rules use today (`Status`,
`userAgent`, `ClientApp`, `Username`, `DeviceDetail.trusttype`, `properties.message`).

Decisions: `Status` is an object (errorCode, failureReason, additionalDetails), never compared
whole: `Status: Success` means `ResultType == "0"`, `Status: Failure` `ResultType != "0"`, any other
text is matched against Status.failureReason and Status.additionalDetails. `ResultType` is a string
column: the integers rules give compare as exact strings (`ResultType == "50053"`).
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
from .raw_records import RawRecordReader, diagnostic_reader

TABLE = "SigninLogs"

SCHEMA: dict[str, str] = {
    "AADTenantId": "string", "AlternateSignInName": "string", "AppDisplayName": "string",
    "AppId": "string", "AppliedConditionalAccessPolicies": "string", "AppliedEventListeners": "dynamic",
    "AuthenticationContextClassReferences": "string", "AuthenticationDetails": "string",
    "AuthenticationMethodsUsed": "string", "AuthenticationProcessingDetails": "string",
    "AuthenticationProtocol": "string", "AuthenticationRequirement": "string",
    "AuthenticationRequirementPolicies": "string", "AutonomousSystemNumber": "string",
    "_BilledSize": "real", "Category": "string", "ClientAppUsed": "string",
    "ConditionalAccessPolicies": "dynamic", "ConditionalAccessStatus": "string", "CorrelationId": "string",
    "CreatedDateTime": "datetime", "CrossTenantAccessType": "string", "DeviceDetail": "dynamic",
    "DurationMs": "long", "FlaggedForReview": "bool", "HomeTenantId": "string", "Id": "string",
    "Identity": "string", "IPAddress": "string", "IPAddressFromResourceProvider": "string",
    "_IsBillable": "string", "IsInteractive": "bool", "IsRisky": "bool", "Level": "string",
    "Location": "string", "LocationDetails": "dynamic", "MfaDetail": "dynamic",
    "NetworkLocationDetails": "string", "OperationName": "string", "OperationVersion": "string",
    "OriginalRequestId": "string", "ProcessingTimeInMilliseconds": "string", "Resource": "string",
    "ResourceDisplayName": "string", "ResourceGroup": "string", "ResourceId": "string",
    "ResourceIdentity": "string", "ResourceProvider": "string", "ResourceServicePrincipalId": "string",
    "ResourceTenantId": "string", "ResultDescription": "string", "ResultSignature": "string",
    "ResultType": "string", "RiskDetail": "string", "RiskEventTypes": "string",
    "RiskEventTypes_V2": "string", "RiskLevel": "string", "RiskLevelAggregated": "string",
    "RiskLevelDuringSignIn": "string", "RiskState": "string", "ServicePrincipalId": "string",
    "ServicePrincipalName": "string", "SessionLifetimePolicies": "string", "SignInIdentifier": "string",
    "SignInIdentifierType": "string", "SourceSystem": "string", "Status": "dynamic",
    "TimeGenerated": "datetime", "TokenIssuerName": "string", "TokenIssuerType": "string",
    "Type": "string", "UniqueTokenIdentifier": "string", "UserAgent": "string",
    "UserDisplayName": "string", "UserId": "string", "UserPrincipalName": "string", "UserType": "string",
}

# The other sign-in tables, declared for their schemas (validation, replay): the union pipeline
# searches them with SigninLogs. Their Status, DeviceDetail, LocationDetails, ... are JSON text.
NON_INTERACTIVE_TABLE = "AADNonInteractiveUserSignInLogs"
SERVICE_PRINCIPAL_TABLE = "AADServicePrincipalSignInLogs"
MANAGED_IDENTITY_TABLE = "AADManagedIdentitySignInLogs"

NON_INTERACTIVE_SCHEMA: dict[str, str] = {
    "AlternateSignInName": "string", "AppDisplayName": "string", "AppId": "string",
    "AppliedEventListeners": "dynamic", "AuthenticationContextClassReferences": "string",
    "AuthenticationDetails": "string", "AuthenticationMethodsUsed": "string",
    "AuthenticationProcessingDetails": "string", "AuthenticationProtocol": "string",
    "AuthenticationRequirement": "string", "AuthenticationRequirementPolicies": "string",
    "AutonomousSystemNumber": "string", "_BilledSize": "real", "Category": "string",
    "ClientAppUsed": "string", "ConditionalAccessPolicies": "string", "ConditionalAccessStatus": "string",
    "CorrelationId": "string", "CreatedDateTime": "datetime", "CrossTenantAccessType": "string",
    "DeviceDetail": "string", "DurationMs": "long", "HomeTenantId": "string", "Id": "string",
    "Identity": "string", "IPAddress": "string", "_IsBillable": "string", "IsInteractive": "bool",
    "IsRisky": "bool", "Level": "string", "Location": "string", "LocationDetails": "string",
    "MfaDetail": "string", "NetworkLocationDetails": "string", "OperationName": "string",
    "OperationVersion": "string", "OriginalRequestId": "string", "ProcessingTimeInMs": "string",
    "ResourceDisplayName": "string", "ResourceGroup": "string", "ResourceIdentity": "string",
    "ResourceServicePrincipalId": "string", "ResourceTenantId": "string", "ResultDescription": "string",
    "ResultSignature": "string", "ResultType": "string", "RiskDetail": "string",
    "RiskEventTypes": "string", "RiskEventTypes_V2": "string", "RiskLevelAggregated": "string",
    "RiskLevelDuringSignIn": "string", "RiskState": "string", "ServicePrincipalId": "string",
    "SessionLifetimePolicies": "string", "SignInEventTypes": "string", "SignInIdentifierType": "string",
    "SourceSystem": "string", "Status": "string", "TenantId": "string", "TimeGenerated": "datetime",
    "TokenIssuerName": "string", "TokenIssuerType": "string", "Type": "string",
    "UniqueTokenIdentifier": "string", "UserAgent": "string", "UserDisplayName": "string",
    "UserId": "string", "UserPrincipalName": "string", "UserType": "string",
}

SERVICE_PRINCIPAL_SCHEMA: dict[str, str] = {
    "AppId": "string", "AuthenticationContextClassReferences": "string",
    "AuthenticationProcessingDetails": "string", "_BilledSize": "real", "Category": "string",
    "ConditionalAccessPolicies": "string", "ConditionalAccessStatus": "string", "CorrelationId": "string",
    "DurationMs": "long", "FederatedCredentialId": "string", "Id": "string", "Identity": "string",
    "IPAddress": "string", "_IsBillable": "string", "Level": "string", "Location": "string",
    "LocationDetails": "string", "OperationName": "string", "OperationVersion": "string",
    "ResourceDisplayName": "string", "ResourceGroup": "string", "ResourceIdentity": "string",
    "ResourceServicePrincipalId": "string", "ResultDescription": "string", "ResultSignature": "string",
    "ResultType": "string", "ServicePrincipalCredentialKeyId": "string",
    "ServicePrincipalCredentialThumbprint": "string", "ServicePrincipalId": "string",
    "ServicePrincipalName": "string", "SourceSystem": "string", "TenantId": "string",
    "TimeGenerated": "datetime", "Type": "string", "UniqueTokenIdentifier": "string",
}

# Microsoft documents the same columns for the managed-identity sign-ins as for the service
# principal sign-ins: one set of facts serves both tables.
MANAGED_IDENTITY_SCHEMA = SERVICE_PRINCIPAL_SCHEMA

LOGSOURCES = (SigmaLogSource(product="azure", service="signinlogs"),)

_GRAPH = "Microsoft Graph signIn"

FIELD_MAP = FieldMap(
    table=TABLE,
    exact=MappingProxyType(
        diagnostic_names(
            SCHEMA,
            {
                "IPAddress": ("callerIpAddress", "ipAddress", "properties.ipAddress"),
                "UserPrincipalName": ("Username",),
                "ClientAppUsed": ("ClientApp",),
                "AuthenticationProtocol": ("properties.message",),
                "TimeGenerated": ("time",),
                "Id": ("properties.id",),
            },
        )
    ),
    prefixes=member_prefixes(SCHEMA),
    notes=MappingProxyType(
        {
            "ResultType": "a string: integer rule values compare as exact strings",
            "Status": "an object: Success -> ResultType == \"0\", Failure -> ResultType != \"0\", other text "
            "-> Status.failureReason or Status.additionalDetails",
            "AuthenticationProtocol": "properties.message in SigmaHQ's sign-in rules (SigmaHQ/sigma#5992 renames it "
            "properties.authenticationProtocol); values none, oAuth2, ropc, wsFederation, saml20, deviceCode",
            "DeviceDetail": "an object: deviceId, displayName, operatingSystem, browser, isCompliant, isManaged, "
            "trustType (members in any case)",
        }
    ),
    missing=MappingProxyType(
        {
            "ActivityDetails": "every SigninLogs row is a sign-in; leave the condition out",
        }
    ),
    structures=(
        Structure(
            "ConditionalAccessPolicies",
            members=("id", "displayName", "result", "conditionsSatisfied", "conditionsNotSatisfied",
                     "enforcedGrantControls", "enforcedSessionControls"),
        ),
        # Microsoft Graph signIn.appliedEventListeners (appliedAuthenticationEventListener)
        Structure("AppliedEventListeners", members=("eventType", "executedListenerId")),
    ),
    objects=frozenset({"DeviceDetail", "LocationDetails", "MfaDetail", "Status"}),
    routes=(
        ValueRoute(
            ("Status", "properties.status"),
            MappingProxyType({"success": 'ResultType == "0"', "failure": 'ResultType != "0"'}),
            ("Status.failureReason", "Status.additionalDetails"),
            itself="Status",
            note="Status is an object; its result is ResultType",
        ),
    ),
    enumerations=(
        Enumeration(
            "AuthenticationProtocol",
            ("none", "oAuth2", "ropc", "wsFederation", "saml20", "deviceCode", "unknownFutureValue",
             "authenticationTransfer", "nativeAuth"),
            f"{_GRAPH}.authenticationProtocol",
        ),
        Enumeration("ConditionalAccessStatus", ("success", "failure", "notApplied", "unknownFutureValue"),
                    f"{_GRAPH}.conditionalAccessStatus"),
        Enumeration("AuthenticationRequirement", ("singleFactorAuthentication", "multiFactorAuthentication"),
                    f"{_GRAPH}.authenticationRequirement"),
        Enumeration(
            "RiskState",
            ("none", "confirmedSafe", "remediated", "dismissed", "atRisk", "confirmedCompromised",
             "unknownFutureValue"),
            f"{_GRAPH}.riskState",
        ),
    ),
    members=MappingProxyType(
        {
            "DeviceDetail": ("deviceId", "displayName", "operatingSystem", "browser", "isCompliant",
                             "isManaged", "trustType"),
            "Status": ("errorCode", "failureReason", "additionalDetails"),
            "LocationDetails": ("city", "state", "countryOrRegion", "geoCoordinates", "geoCoordinates.latitude",
                                "geoCoordinates.longitude", "geoCoordinates.altitude"),
            "MfaDetail": ("authMethod", "authDetail"),
        }
    ),
    any_case=True,
)

# ---- raw diagnostic records (replay) --------------------------------------------------------------
# Where a diagnostic record of a sign-in category (Event Hubs, storage account) holds each column:
# Microsoft's "sign-in logs schema in Azure Monitor" (learn.microsoft.com, entra/identity/
# monitoring-health/reference-azure-monitor-sign-ins-log-schema) writes the sign-in's Microsoft
# Graph signIn properties under `properties` and the common fields at the root. Every column not
# named here is `properties.<camelCase>`, else the root `<camelCase>` (see diagnostic_paths).
RAW_PATHS: dict[str, tuple[str, ...]] = {
    "TimeGenerated": ("time",),
    # root `location` is the two-letter country code; `properties.location` is the signInLocation
    # object (city, state, countryOrRegion, geoCoordinates) that Log Analytics puts in LocationDetails
    "Location": ("location", "properties.location.countryOrRegion"),
    "LocationDetails": ("properties.location",),
    "ConditionalAccessPolicies": (
        "properties.appliedConditionalAccessPolicies",
        "properties.conditionalAccessPolicies",
    ),
    "AppliedConditionalAccessPolicies": (),  # Graph's list goes to ConditionalAccessPolicies
    "IPAddress": ("properties.ipAddress", "callerIpAddress"),
    "AADTenantId": ("tenantId",),
    # the root resourceId is the tenant's Microsoft.aadiam provider ("unmapped" in the schema);
    # ResourceId is the resource signed in to
    "ResourceId": ("properties.resourceId",),
    "ProcessingTimeInMs": ("properties.processingTimeInMilliseconds",),
}

# The diagnostic setting's category of each sign-in table.
CATEGORIES = {
    TABLE: "SignInLogs",
    NON_INTERACTIVE_TABLE: "NonInteractiveUserSignInLogs",
    SERVICE_PRINCIPAL_TABLE: "ServicePrincipalSignInLogs",
    MANAGED_IDENTITY_TABLE: "ManagedIdentitySignInLogs",
}


def _reader(table: str, schema: dict[str, str]) -> RawRecordReader:
    return diagnostic_reader(CATEGORIES[table], table, schema, diagnostic_paths(schema, RAW_PATHS))


PROFILE = AnalyticsProfile(
    table=TABLE,
    extend=(),
    entity_mappings=(
        EntityMappingSpec("Account", (("FullName", "UserPrincipalName"),)),
        EntityMappingSpec("IP", (("Address", "IPAddress"),)),
        EntityMappingSpec("CloudApplication", (("Name", "AppDisplayName"),)),
    ),
    custom_details=(
        ("ResultType", "ResultType"),
        ("Application", "AppDisplayName"),
        ("ClientApp", "ClientAppUsed"),
        ("UserAgent", "UserAgent"),
    ),
    alert_display_name_format="Sign-in to {{AppDisplayName}} by {{UserPrincipalName}}",
    connector_id="AzureActiveDirectory",
    data_types=(TABLE,),
    defender_continuous=True,  # Microsoft: custom detections, tables that support Continuous (NRT)
)

SOURCE = Source(
    table=TABLE,
    title="Entra ID sign-in logs",
    schema=SCHEMA,
    logsources=LOGSOURCES,
    pipeline="azure_signinlogs",
    field_map=FIELD_MAP,
    default=True,
    id_column="Id",
    summary_columns=("TimeGenerated", "UserPrincipalName", "AppDisplayName", "ResultType"),
    row_markers=("AuthenticationRequirement", "ConditionalAccessStatus"),
    profile=PROFILE,
    raw_records=(_reader(TABLE, SCHEMA),),
    union=(NON_INTERACTIVE_TABLE, SERVICE_PRINCIPAL_TABLE, MANAGED_IDENTITY_TABLE),
    union_pipeline="azure_signinlogs_all",
)

SOURCES = (
    SOURCE,
    Source(table=NON_INTERACTIVE_TABLE, title="Entra ID non-interactive sign-ins", schema=NON_INTERACTIVE_SCHEMA,
           id_column="Id", raw_records=(_reader(NON_INTERACTIVE_TABLE, NON_INTERACTIVE_SCHEMA),)),
    Source(table=SERVICE_PRINCIPAL_TABLE, title="Entra ID service principal sign-ins",
           schema=SERVICE_PRINCIPAL_SCHEMA, id_column="Id",
           raw_records=(_reader(SERVICE_PRINCIPAL_TABLE, SERVICE_PRINCIPAL_SCHEMA),)),
    Source(table=MANAGED_IDENTITY_TABLE, title="Entra ID managed identity sign-ins",
           schema=MANAGED_IDENTITY_SCHEMA, id_column="Id",
           raw_records=(_reader(MANAGED_IDENTITY_TABLE, MANAGED_IDENTITY_SCHEMA),)),
)
