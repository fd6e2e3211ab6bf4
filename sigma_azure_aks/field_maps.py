"""Sigma field names -> Log Analytics columns, as data.

A :class:`FieldMap` holds, for one table, the exact field names it knows and the prefixes that
lead into a dynamic column (``properties.<path>`` -> ``Properties_d.<path>``). The pipelines,
the replay loader and the docs all read these maps; nothing else knows a field name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from . import kql
from .tables import DEPRECATED_EMPTY_COLUMNS, columns


@dataclass(frozen=True)
class FieldTarget:
    """Where a Sigma field lives in a table: a column, or a member path inside a dynamic column.

    `json_text` marks a string column that holds JSON and must be parsed before member access.
    """

    column: str
    path: tuple[str, ...] = ()
    json_text: bool = False

    @property
    def is_member(self) -> bool:
        return bool(self.path)

    def kql(self) -> str:
        """The KQL expression that reads this field (a column name or a member access)."""
        if not self.path:
            return self.column
        return kql.member_access(self.column, self.path, self.json_text)


@dataclass(frozen=True)
class PathPrefix:
    """Fields beginning with `prefix` map into `column`.

    The rest of the field name is split on dots into a member path, unless `whole_key` is set
    (claim names such as ``http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn`` contain dots
    and are a single key).
    """

    prefix: str
    column: str
    whole_key: bool = False
    json_text: bool = False
    note: str = ""

    def target(self, field_name: str) -> FieldTarget | None:
        if not field_name.startswith(self.prefix) or len(field_name) == len(self.prefix):
            return None
        rest = field_name[len(self.prefix) :]
        path = (rest,) if self.whole_key else tuple(rest.split("."))
        if any(segment == "" for segment in path):
            return None
        return FieldTarget(self.column, path, self.json_text)


@dataclass(frozen=True)
class FieldMap:
    """All Sigma field names one table accepts."""

    table: str
    exact: Mapping[str, FieldTarget]
    prefixes: tuple[PathPrefix, ...] = ()
    notes: Mapping[str, str] = field(default_factory=dict)

    def resolve(self, field_name: str) -> FieldTarget | None:
        """The target of a Sigma field name, or None when the table has no such field."""
        target = self.exact.get(field_name)
        if target is not None:
            return target
        for prefix in self.prefixes:
            target = prefix.target(field_name)
            if target is not None:
                return target
        return None

    def supported_fields(self) -> list[str]:
        """Every accepted field name and prefix pattern, for error messages and docs."""
        return sorted(self.exact) + [f"{p.prefix}<{'key' if p.whole_key else 'path'}>" for p in self.prefixes]

    def check(self) -> None:
        """Every target is a live column of the table (run by the tests)."""
        live = columns(self.table)
        dead = DEPRECATED_EMPTY_COLUMNS.get(self.table, frozenset())
        targets = [t.column for t in self.exact.values()] + [p.column for p in self.prefixes]
        for column in targets:
            if column not in live or column in dead:
                raise ValueError(f"{self.table} field map targets {column!r}, not a live column")


def _columns(pairs: Mapping[str, tuple[str, ...]]) -> dict[str, FieldTarget]:
    """Build exact targets from {column: (sigma names...)}."""
    return {name: FieldTarget(column) for column, names in pairs.items() for name in names}


# Both dialects SigmaHQ uses: the raw activity-log record (Event Hubs / storage export) and the
# Log Analytics column names. Never the deprecated display-name columns (OperationName, ...).
AZURE_ACTIVITY = FieldMap(
    table="AzureActivity",
    exact=MappingProxyType(
        _columns(
            {
                "OperationNameValue": ("operationName", "operationName.value", "OperationNameValue"),
                "ActivityStatusValue": ("resultType", "status", "status.value", "ActivityStatusValue"),
                "ActivitySubstatusValue": (
                    "resultSignature",
                    "subStatus",
                    "subStatus.value",
                    "ActivitySubstatusValue",
                ),
                "CategoryValue": ("category", "category.value", "properties.eventCategory", "CategoryValue"),
                "_ResourceId": ("resourceId", "ResourceId", "_ResourceId"),
                "ResourceProviderValue": (
                    "resourceProviderName",
                    "resourceProviderName.value",
                    "ResourceProviderValue",
                ),
                "ResourceGroup": ("resourceGroupName", "ResourceGroup"),
                "SubscriptionId": ("subscriptionId", "SubscriptionId"),
                "Caller": ("caller", "Caller"),
                "CallerIpAddress": ("callerIpAddress", "CallerIpAddress", "httpRequest.clientIpAddress"),
                "CorrelationId": ("correlationId", "CorrelationId"),
                "Level": ("level", "Level"),
                "TimeGenerated": ("time", "eventTimestamp", "TimeGenerated"),
                "EventDataId": ("eventDataId", "EventDataId"),
                "OperationId": ("operationId", "OperationId"),
                "TenantId": ("TenantId",),
                "Hierarchy": ("Hierarchy",),
                "EventSubmissionTimestamp": ("submissionTimestamp", "EventSubmissionTimestamp"),
            }
        )
    ),
    prefixes=(
        PathPrefix("properties.", "Properties_d", note="properties.message holds the raw operation id"),
        PathPrefix("identity.claims.", "Claims_d", whole_key=True, note="claim names are single keys"),
        PathPrefix("claims.", "Claims_d", whole_key=True, note="claim names are single keys"),
        PathPrefix("identity.authorization.", "Authorization_d"),
        PathPrefix("authorization.", "Authorization_d"),
        PathPrefix("httpRequest.", "HTTPRequest", json_text=True, note="HTTPRequest is JSON text"),
    ),
    notes=MappingProxyType(
        {
            "OperationNameValue": "never OperationName: it held the localized display name and is empty",
            "ActivityStatusValue": "Success/Succeeded, Start/Started, Accept/Accepted, Failure/Failed "
            "match either spelling",
            "CategoryValue": "the event category: Administrative, Policy, Security, ...",
            "Caller": "a UPN for users, an object id (GUID) for service principals",
        }
    ),
)

# Values of ActivityStatusValue spelled two ways: the documentation says Succeeded/Started/...,
# real rows say Success/Start/... A rule value in one spelling matches rows in either.
STATUS_SPELLINGS: tuple[frozenset[str], ...] = (
    frozenset({"Success", "Succeeded"}),
    frozenset({"Start", "Started"}),
    frozenset({"Accept", "Accepted"}),
    frozenset({"Failure", "Failed"}),
)
STATUS_COLUMN = "ActivityStatusValue"


def status_spellings(value: str) -> tuple[str, ...]:
    """All spellings of a status value (the value itself first), matched case-insensitively."""
    for spellings in STATUS_SPELLINGS:
        if value.lower() in {s.lower() for s in spellings}:
            return (value, *sorted(s for s in spellings if s.lower() != value.lower()))
    return (value,)
