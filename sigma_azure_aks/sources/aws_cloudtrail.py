"""AWSCloudTrail: Sigma `product: aws, service: cloudtrail` rules (AWS CloudTrail events that
Microsoft Sentinel's Amazon Web Services connectors ingest).

Columns from Microsoft's Azure Monitor table reference (awscloudtrail-include.md). Field names in
two dialects: the CloudTrail record's own names, as SigmaHQ writes them (`eventName`,
`userIdentity.arn`, `requestParameters.attribute`, ...), and the Log Analytics columns (any case).

The connector's code is not public. :data:`RECORD_COLUMNS` pairs each CloudTrail record field with
the column Microsoft's table reference describes as holding it ("The requested action" is
EventName, "Part of tlsDetails ..." is TlsVersion, ...); the pairing agrees with the real rows of
Azure/Azure-Sentinel `Sample Data/ASIM/AWS_CloudTrail_Authentication_IngestedLogs.csv`. The same
data maps a Sigma field to its column and a raw CloudTrail record to a row in replay.

`requestParameters`, `responseElements`, `additionalEventData` and `serviceEventDetails` are objects
in CloudTrail and `string` columns holding compact JSON text in the table: a member
(``requestParameters.attribute``) is read with ``parse_json(RequestParameters).attribute`` and a
value on the whole field matches the text. `resources` is an array of objects (JSON text too): only
the whole text is matched.

Refused here, with the reason: `status` (no CloudTrail field; the outcome is `errorCode`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from sigma.rule import SigmaLogSource

from .base import (
    AnalyticsProfile,
    EntityMappingSpec,
    FieldMap,
    FieldTarget,
    Source,
)
from .json_text import json_text_prefixes
from .raw_records import RawRecordReader, nested_value, put

TABLE = "AWSCloudTrail"

SCHEMA: dict[str, str] = {
    "AdditionalEventData": "string", "APIVersion": "string", "AwsEventId": "string", "AWSRegion": "string",
    "AwsRequestId": "string", "AwsRequestId_": "string", "_BilledSize": "real", "Category": "string",
    "CidrIp": "string", "CipherSuite": "string", "ClientProvidedHostHeader": "string",
    "DestinationPort": "string", "EC2RoleDelivery": "string", "ErrorCode": "string", "ErrorMessage": "string",
    "EventName": "string", "EventSource": "string", "EventTypeName": "string", "EventVersion": "string",
    "IpProtocol": "string", "_IsBillable": "string", "ManagementEvent": "bool", "OperationName": "string",
    "ReadOnly": "bool", "RecipientAccountId": "string", "RequestParameters": "string", "Resources": "string",
    "ResponseElements": "string", "ServiceEventDetails": "string", "SessionCreationDate": "datetime",
    "SessionIssuerAccountId": "string", "SessionIssuerArn": "string", "SessionIssuerPrincipalId": "string",
    "SessionIssuerType": "string", "SessionIssuerUserName": "string", "SessionMfaAuthenticated": "bool",
    "SharedEventId": "string", "SourceIpAddress": "string", "SourcePort": "string", "SourceSystem": "string",
    "TenantId": "string", "TimeGenerated": "datetime", "TlsVersion": "string", "Type": "string",
    "UserAgent": "string", "UserIdentityAccessKeyId": "string", "UserIdentityAccountId": "string",
    "UserIdentityArn": "string", "UserIdentityInvokedBy": "string", "UserIdentityPrincipalid": "string",
    "UserIdentityStoreArn": "string", "UserIdentityType": "string", "UserIdentityUserId": "string",
    "UserIdentityUserName": "string", "VpcEndpointId": "string",
}

# `AwsRequestId` is documented as "deprecated, please use AwsRequestId_ instead".
DEPRECATED = frozenset({"AwsRequestId"})

LOGSOURCES = (SigmaLogSource(product="aws", service="cloudtrail"),)

_SESSION = "userIdentity.sessionContext"

# CloudTrail record field (dotted path) -> AWSCloudTrail column (Microsoft's table reference).
RECORD_COLUMNS: Mapping[str, str] = MappingProxyType(
    {
        "eventTime": "TimeGenerated",
        "eventID": "AwsEventId",
        "eventSource": "EventSource",
        "eventName": "EventName",
        "eventVersion": "EventVersion",
        "eventType": "EventTypeName",
        "eventCategory": "Category",
        "awsRegion": "AWSRegion",
        "sourceIPAddress": "SourceIpAddress",
        "userAgent": "UserAgent",
        "errorCode": "ErrorCode",
        "errorMessage": "ErrorMessage",
        "requestID": "AwsRequestId_",
        "apiVersion": "APIVersion",
        "readOnly": "ReadOnly",
        "managementEvent": "ManagementEvent",
        "recipientAccountId": "RecipientAccountId",
        "sharedEventID": "SharedEventId",
        "vpcEndpointId": "VpcEndpointId",
        "requestParameters": "RequestParameters",
        "responseElements": "ResponseElements",
        "additionalEventData": "AdditionalEventData",
        "resources": "Resources",
        "serviceEventDetails": "ServiceEventDetails",
        "userIdentity.type": "UserIdentityType",
        "userIdentity.principalId": "UserIdentityPrincipalid",
        "userIdentity.arn": "UserIdentityArn",
        "userIdentity.accountId": "UserIdentityAccountId",
        "userIdentity.invokedBy": "UserIdentityInvokedBy",
        "userIdentity.accessKeyId": "UserIdentityAccessKeyId",
        "userIdentity.userName": "UserIdentityUserName",
        "userIdentity.onBehalfOf.userId": "UserIdentityUserId",
        "userIdentity.onBehalfOf.identityStoreArn": "UserIdentityStoreArn",
        f"{_SESSION}.attributes.mfaAuthenticated": "SessionMfaAuthenticated",
        f"{_SESSION}.attributes.creationDate": "SessionCreationDate",
        f"{_SESSION}.sessionIssuer.type": "SessionIssuerType",
        f"{_SESSION}.sessionIssuer.principalId": "SessionIssuerPrincipalId",
        f"{_SESSION}.sessionIssuer.arn": "SessionIssuerArn",
        f"{_SESSION}.sessionIssuer.accountId": "SessionIssuerAccountId",
        f"{_SESSION}.sessionIssuer.userName": "SessionIssuerUserName",
        f"{_SESSION}.ec2RoleDelivery": "EC2RoleDelivery",
        "tlsDetails.tlsVersion": "TlsVersion",
        "tlsDetails.cipherSuite": "CipherSuite",
        "tlsDetails.clientProvidedHostHeader": "ClientProvidedHostHeader",
    }
)

# The CloudTrail objects held as JSON text, whose members a rule may name (record field -> column).
# `resources` is an array: no member path reaches into it.
JSON_TEXT_OBJECTS: Mapping[str, str] = MappingProxyType(
    {
        "requestParameters": "RequestParameters",
        "responseElements": "ResponseElements",
        "additionalEventData": "AdditionalEventData",
        "serviceEventDetails": "ServiceEventDetails",
    }
)

# Members of those objects that hold arrays of objects (AWS API request/response shapes: ECS
# RegisterTaskDefinition `containerDefinitions`, EC2 `ipPermissions.items`, `instancesSet.items`,
# `tagSpecificationSet.items`): a field reaching into their elements is refused with the reason
# (`requestParameters.containerDefinitions.command` would read null and never match).
ARRAY_MEMBERS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "RequestParameters": (
            "containerDefinitions",
            "ipPermissions.items",
            "instancesSet.items",
            "tagSpecificationSet.items",
        ),
        "ResponseElements": ("instancesSet.items",),
    }
)

FIELD_MAP = FieldMap(
    table=TABLE,
    exact=MappingProxyType(
        {
            **{column: FieldTarget(column) for column in SCHEMA if column not in DEPRECATED},
            **{name: FieldTarget(column) for name, column in RECORD_COLUMNS.items()},
        }
    ),
    prefixes=json_text_prefixes(
        {**JSON_TEXT_OBJECTS, **{column: column for column in JSON_TEXT_OBJECTS.values()}}, ARRAY_MEMBERS
    ),
    notes=MappingProxyType(
        {
            "RequestParameters": "JSON text: requestParameters.<path> reads a member with parse_json; "
            "a value on the whole field matches the text",
            "ResponseElements": "JSON text, as RequestParameters",
            "AdditionalEventData": "JSON text, as RequestParameters",
            "ServiceEventDetails": "JSON text, as RequestParameters",
            "Resources": "JSON text of an array of objects: only a value on the whole field (the text)",
            "SessionMfaAuthenticated": "a bool column (CloudTrail's \"true\"/\"false\" text)",
        }
    ),
    missing=MappingProxyType(
        {
            "status": "a CloudTrail record has no `status` field: the outcome is errorCode "
            "(absent on success) and errorMessage",
        }
    ),
    any_case=True,
)

# Microsoft's own AWSCloudTrail templates (Azure/Azure-Sentinel `Solutions/Amazon Web Services/
# Analytic Rules/`, e.g. AWS_ConsoleLogonWithoutMFA.yaml, AWS_ClearStopChangeTrailLogs.yaml,
# AWS_S3ObjectExfiltrationByAnonymousUser.yaml) map an Account and IP.Address from SourceIpAddress,
# and no cloud application; they name the data connector `AWS` with data type AWSCloudTrail. Their
# Account is UserIdentityUserName (or a part of the principal id); here it is UserIdentityArn, which
# every IAM identity has (an assumed role has no user name) and which a correlation grouped by
# `userIdentity.arn` maps as the same entity; the user name is a custom detail.
PROFILE = AnalyticsProfile(
    table=TABLE,
    extend=(),
    entity_mappings=(
        EntityMappingSpec("Account", (("FullName", "UserIdentityArn"),)),
        EntityMappingSpec("IP", (("Address", "SourceIpAddress"),)),
    ),
    custom_details=(
        ("EventName", "EventName"),
        ("EventSource", "EventSource"),
        ("UserIdentityUserName", "UserIdentityUserName"),
        ("AWSRegion", "AWSRegion"),
        ("ErrorCode", "ErrorCode"),
    ),
    alert_display_name_format="{{EventName}} by {{UserIdentityArn}}",
    connector_id="AWS",
    data_types=(TABLE,),
    defender_continuous=True,  # Microsoft: custom detections, tables that support Continuous (NRT)
)


# ---- raw CloudTrail records (replay) ------------------------------------------------------------
def is_cloudtrail_record(record: Mapping[str, Any]) -> bool:
    """Every CloudTrail record names its service and action (`eventVersion` may be trimmed away)."""
    return isinstance(record.get("eventSource"), str) and isinstance(record.get("eventName"), str)


def _column_value(column: str, value: Any) -> Any:
    if SCHEMA[column] == "bool" and isinstance(value, str):
        return {"true": True, "false": False}.get(value.lower(), value)
    if SCHEMA[column] == "string" and isinstance(value, (Mapping, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if SCHEMA[column] == "string" and isinstance(value, bool):
        return "true" if value else "false"
    if SCHEMA[column] == "string" and isinstance(value, (int, float)):
        return str(value)
    return value


# The security-group request members the table lifts into columns of their own ("located under
# RequestParameters ... used to specify the IP permissions for a security group rule"): read from
# requestParameters itself or from its first `ipPermissions.items` element (`cidrIp` there under
# `ipRanges.items`). Our reading of the column descriptions; the connector's code is not public.
SECURITY_GROUP_COLUMNS: Mapping[str, str] = MappingProxyType(
    {"cidrIp": "CidrIp", "ipProtocol": "IpProtocol", "fromPort": "SourcePort", "toPort": "DestinationPort"}
)


def _security_group_values(request: Any) -> dict[str, Any]:
    if not isinstance(request, Mapping):
        return {}
    items = nested_value(request, "ipPermissions.items")
    first = items[0] if isinstance(items, list) and items and isinstance(items[0], Mapping) else {}
    ranges = nested_value(first, "ipRanges.items")
    first_range = ranges[0] if isinstance(ranges, list) and ranges and isinstance(ranges[0], Mapping) else {}
    values = {}
    for member, column in SECURITY_GROUP_COLUMNS.items():
        value = request.get(member, first.get(member, first_range.get(member)))
        if value is not None and value != "":
            values[column] = _column_value(column, value)
    return values


def cloudtrail_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudTrail record (one element of an S3 object's ``Records``) as an AWSCloudTrail row,
    field by field as :data:`RECORD_COLUMNS` pairs them; objects become compact JSON text."""
    row: dict[str, Any] = {}
    for name, column in RECORD_COLUMNS.items():
        value = nested_value(record, name)
        if value is not None and value != "":
            row[column] = _column_value(column, value)
    row.update(_security_group_values(record.get("requestParameters")))
    row["OperationName"] = "CloudTrail"
    row["Type"] = TABLE
    return row


def cloudtrail_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """The CloudTrail record that reads as an AWSCloudTrail row (the inverse of :func:`cloudtrail_row`
    on the columns :data:`RECORD_COLUMNS` pairs): JSON text in a string column is written back as
    the object it holds, as CloudTrail writes it."""
    record: dict[str, Any] = {"eventSource": "", "eventName": ""}
    for name, column in RECORD_COLUMNS.items():
        value = row.get(column)
        if value is None or value == "":
            continue
        if SCHEMA[column] == "string" and isinstance(value, str) and value[:1] in "{[":
            try:
                value = json.loads(value)
            except ValueError:
                pass
        put(record, name, value)
    return record


SOURCE = Source(
    table=TABLE,
    title="AWS CloudTrail",
    schema=SCHEMA,
    logsources=LOGSOURCES,
    pipeline="aws_cloudtrail",
    field_map=FIELD_MAP,
    default=True,
    deprecated=DEPRECATED,
    id_column="AwsEventId",
    summary_columns=("TimeGenerated", "EventName", "EventSource", "UserIdentityArn", "ErrorCode"),
    row_markers=("AwsEventId", "EventSource"),
    profile=PROFILE,
    raw_records=(
        RawRecordReader(
            "a CloudTrail record (eventSource, eventName)",
            is_cloudtrail_record,
            cloudtrail_row,
            frozenset({"eventSource", "eventName"}),
            cloudtrail_record,
            envelope="Records",
        ),
    ),
)
