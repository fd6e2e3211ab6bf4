"""OneLoginEventsV2_CL: Sigma `product: onelogin, service: onelogin.events` rules, every fact in one place.

The table is the one Microsoft's OneLogin IAM Platform connector (Codeless Connector Platform,
connector id `OneLoginIAMLogsCCPDefinition`) writes: Azure/Azure-Sentinel
`.script/tests/KqlvalidationsTests/CustomTables/OneLoginEventsV2_CL.json`, the same columns as
`Solutions/OneLoginIAM/Data Connectors/OneLoginIAMLogs_ccp/OneLoginIAMEventsLogs_Table.json`. The
OneLogin events API names its fields in snake_case (`event_type_id`, `user_name`, `ipaddr`, ...);
the table holds each in the PascalCase column of the same words (`EventTypeId`, `UserName`,
`Ipaddr`), and `id` in EventId. SigmaHQ writes the API names; every column is also accepted by its
own name.
"""

from __future__ import annotations

import re
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
    field_targets,
)
from .raw_records import RawRecordReader, mapped_record

TABLE = "OneLoginEventsV2_CL"

SCHEMA: dict[str, str] = {
    "AccountId": "real", "ActorSystem": "string", "ActorUserId": "real", "ActorUserName": "string",
    "AppId": "real", "AppName": "string", "_BilledSize": "real", "CustomMessage": "string", "EventId": "real",
    "EventTypeId": "real", "Ipaddr": "string", "_IsBillable": "string", "Notes": "string", "PolicyId": "real",
    "PolicyName": "string", "PolicyType": "string", "RoleId": "real", "RoleName": "string",
    "TenantId": "string", "TimeGenerated": "datetime", "Type": "string", "UserId": "real",
    "UserName": "string",
}

LOGSOURCES = (SigmaLogSource(product="onelogin", service="onelogin.events"),)

STANDARD_COLUMNS = frozenset({"TenantId", "TimeGenerated", "Type", "EventId"})


def api_name(column: str) -> str:
    """The events API's name of a column (``EventTypeId`` -> ``event_type_id``)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", column).lower()


API_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        **{api_name(column): column for column in SCHEMA
           if not column.startswith("_") and column not in STANDARD_COLUMNS},
        "id": "EventId",
        "created_at": "TimeGenerated",
    }
)

FIELD_MAP = FieldMap(
    table=TABLE,
    exact=MappingProxyType(
        {
            **field_targets({column: (column,) for column in SCHEMA if not column.startswith("_")}),
            **{name: FieldTarget(column) for name, column in API_FIELDS.items()},
        }
    ),
    notes=MappingProxyType({"EventTypeId": "event_type_id: OneLogin's numeric event type (a real column)"}),
)

# No Microsoft analytics template queries this table; the account is the event's user and the
# address its ipaddr. The connector definition (OneLoginIAMLogs_ConnectorDefinition.json) declares
# the data type `OneLoginV2_CL` (its graphQueriesTableName), not the table its DCR writes.
PROFILE = AnalyticsProfile(
    table=TABLE,
    extend=(),
    entity_mappings=(
        EntityMappingSpec("Account", (("Name", "UserName"),)),
        EntityMappingSpec("IP", (("Address", "Ipaddr"),)),
    ),
    custom_details=(("EventTypeId", "EventTypeId"), ("Actor", "ActorUserName"), ("App", "AppName")),
    alert_display_name_format="OneLogin event {{EventTypeId}} for {{UserName}}",
    connector_id="OneLoginIAMLogsCCPDefinition",
    data_types=("OneLoginV2_CL",),
)



# ---- raw events API entries (replay) -----------------------------------------------------------------
def event_row(event: Mapping[str, Any]) -> dict[str, Any]:
    """A OneLogin events API entry (`/api/1/events`, or a webhook batch element) as a
    OneLoginEventsV2_CL row: each field into its column (API_FIELDS), fields with no column dropped."""
    row = {API_FIELDS[key]: value for key, value in event.items() if key in API_FIELDS}
    row["Type"] = TABLE
    return row


RAW_READER = RawRecordReader(
    "a OneLogin events API entry (event_type_id)",
    lambda event: "event_type_id" in event,
    event_row,
    frozenset({"event_type_id"}),
    lambda row: mapped_record(API_FIELDS, row, {"event_type_id": None}),
    priority=1,
)

SOURCE = Source(
    table=TABLE,
    title="OneLogin events",
    schema=SCHEMA,
    logsources=LOGSOURCES,
    pipeline="onelogin",
    field_map=FIELD_MAP,
    default=True,
    id_column="EventId",
    summary_columns=("TimeGenerated", "EventTypeId", "UserName", "ActorUserName"),
    row_markers=("EventTypeId",),
    profile=PROFILE,
    raw_records=(RAW_READER,),
)
