"""CiscoDuo_CL: Sigma `product: cisco, service: duo` rules (Duo Admin API logs), every fact in one place.

The table is the custom log Microsoft's Cisco Duo Security connector (Azure Functions, connector id
`CiscoDuoSecurity`) writes through the HTTP Data Collector API: Azure/Azure-Sentinel
`.script/tests/KqlvalidationsTests/CustomTables/CiscoDuo_CL.json`. The Data Collector names a column
after the log's key path joined by `_`, with a type suffix (`_s` string, `_d` number, `_b` bool,
`_t` datetime, `_g` guid): `event_type` is `event_type_s`, `access_device.ip` is
`access_device_ip_s`. SigmaHQ writes Duo's own keys; each key whose column the table has is
mapped to it, and every column is also accepted by its own name. Arrays and objects land as JSON
text in `_s` columns (`_json_in_string` of the reference file).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial
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

TABLE = "CiscoDuo_CL"

SCHEMA: dict[str, str] = {
    "access_device_browser_s": "string", "access_device_browser_version_s": "string",
    "access_device_flash_version_s": "string", "access_device_ip_s": "string",
    "access_device_is_encryption_enabled_b": "bool", "access_device_is_firewall_enabled_b": "bool",
    "access_device_is_password_set_b": "bool", "access_device_java_version_s": "string",
    "access_device_location_city_s": "string", "access_device_location_country_s": "string",
    "access_device_location_state_s": "string", "access_device_os_s": "string",
    "access_device_os_version_s": "string", "access_device_security_agents_s": "string", "action_s": "string",
    "alias_s": "string", "application_key_s": "string", "application_name_s": "string",
    "auth_device_ip_s": "string", "auth_device_location_city_s": "string",
    "auth_device_location_country_s": "string", "auth_device_location_state_s": "string",
    "auth_device_name_s": "string", "_BilledSize": "real", "context_s": "string", "credits_d": "real",
    "description_s": "string", "email_s": "string", "event_type_s": "string", "eventtype_s": "string",
    "explanations_s": "string", "factor_s": "string", "from_common_netblock_b": "bool",
    "from_new_user_b": "bool", "host_s": "string", "_IsBillable": "string", "isotimestamp_t": "datetime",
    "low_risk_ip_b": "bool", "object_s": "string", "phone_s": "string", "priority_event_b": "bool",
    "priority_reasons_s": "string", "reason_s": "string", "result_s": "string", "sekey_s": "string",
    "state_s": "string", "surfaced_auth_access_device_browser_s": "string",
    "surfaced_auth_access_device_browser_version_s": "string", "surfaced_auth_access_device_ip_s": "string",
    "surfaced_auth_access_device_is_encryption_enabled_s": "string",
    "surfaced_auth_access_device_is_firewall_enabled_s": "string",
    "surfaced_auth_access_device_is_password_set_s": "string",
    "surfaced_auth_access_device_location_city_s": "string",
    "surfaced_auth_access_device_location_country_s": "string",
    "surfaced_auth_access_device_location_state_s": "string", "surfaced_auth_access_device_os_s": "string",
    "surfaced_auth_access_device_os_version_s": "string",
    "surfaced_auth_access_device_security_agents_s": "string", "surfaced_auth_alias_s": "string",
    "surfaced_auth_application_key_s": "string", "surfaced_auth_application_name_s": "string",
    "surfaced_auth_email_s": "string", "surfaced_auth_factor_s": "string",
    "surfaced_auth_isotimestamp_t": "datetime", "surfaced_auth_ood_software_s": "string",
    "surfaced_auth_reason_s": "string", "surfaced_auth_result_s": "string",
    "surfaced_auth_timestamp_d": "real", "surfaced_auth_txid_s": "string",
    "surfaced_auth_user_groups_s": "string", "surfaced_auth_user_key_s": "string",
    "surfaced_auth_user_name_s": "string", "surfaced_timestamp_d": "real", "TenantId": "string",
    "TimeGenerated": "datetime", "timestamp_d": "real", "triage_event_uri_s": "string",
    "triaged_as_interesting_b": "bool", "trusted_endpoint_status_s": "string", "txid_g": "string",
    "Type": "string", "type_s": "string", "user_groups_s": "string", "user_key_s": "string",
    "user_name_s": "string", "username_s": "string",
}

LOGSOURCES = (SigmaLogSource(product="cisco", service="duo"),)

SUFFIXES = ("_s", "_d", "_b", "_t", "_g")
STANDARD_COLUMNS = frozenset({"TenantId", "TimeGenerated", "Type"})


def duo_keys(column: str) -> tuple[str, ...]:
    """Duo's names of a Data Collector column: the key path without the type suffix, written with
    `_` (as the column) and with dots where Duo nests (``access_device_ip_s`` -> ``access_device_ip``
    and ``access_device.ip``)."""
    base = column[: -len(suffix)] if (suffix := column[-2:]) in SUFFIXES else column
    nested = {
        "access_device_": "access_device.", "auth_device_": "auth_device.",
        "surfaced_auth_": "surfaced_auth.", "application_": "application.", "user_": "user.",
    }
    names = [base]
    for flat, dotted in nested.items():
        if base.startswith(flat):
            names.append(dotted + base[len(flat):])
    return tuple(names)


DUO_KEYS: Mapping[str, str] = MappingProxyType(
    {name: column for column in SCHEMA
     if not column.startswith("_") and column not in STANDARD_COLUMNS for name in duo_keys(column)}
)

FIELD_MAP = FieldMap(
    table=TABLE,
    exact=MappingProxyType(
        {
            **field_targets({column: (column,) for column in SCHEMA if not column.startswith("_")}),
            **{name: FieldTarget(column) for name, column in DUO_KEYS.items()},
        }
    ),
    notes=MappingProxyType(
        {
            "event_type_s": "event_type of an authentication log entry (authentication, enrollment)",
            "eventtype_s": "the log kind the connector wrote the entry from (authentication, administrator, ...)",
            "reason_s": "reason (e.g. user_marked_fraud, bypass_user)",
        }
    ),
)

# Entity mappings: Microsoft's Duo templates map the account to the user (Solutions/CiscoDuoSecurity/
# Analytic Rules/CiscoDuoAdminMFAFailures.yaml: Account Name = DstUserName, the CiscoDuo parser's name
# of user_name_s / username_s); the address is the access device's (access_device_ip_s).
PROFILE = AnalyticsProfile(
    table=TABLE,
    extend=(),
    entity_mappings=(
        EntityMappingSpec("Account", (("Name", "user_name_s"),)),
        EntityMappingSpec("IP", (("Address", "access_device_ip_s"),)),
    ),
    custom_details=(("EventType", "event_type_s"), ("Result", "result_s"), ("Reason", "reason_s")),
    alert_display_name_format="Duo {{event_type_s}} {{result_s}} for {{user_name_s}}",
    connector_id="CiscoDuoSecurity",
    data_types=(TABLE,),
)



# ---- raw Admin API log entries (replay) --------------------------------------------------------------
# The log kind the connector writes into eventtype_s (it polls one Admin API endpoint per kind), told
# by keys every entry of that kind has (Duo Admin API reference): (kind, all of these, one of these).
LOG_KINDS: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("authentication", ("event_type",), ("txid", "access_device", "auth_device", "factor")),
    ("telephony", ("credits", "phone"), ("context", "timestamp")),
    ("administrator", ("action", "username"), ("isotimestamp", "timestamp")),
)
# Keys the Data Collector types other than by their JSON value: those of the reference schema's
# datetime (`_t`) and guid (`_g`) columns (isotimestamp, surfaced_auth.isotimestamp, txid).
TYPED_KEYS: Mapping[str, str] = MappingProxyType(
    {column[:-2]: column[-2:] for column in SCHEMA if column[-2:] in ("_t", "_g")}
)


def log_kind(entry: Mapping[str, Any]) -> str | None:
    return next(
        (kind for kind, every, some in LOG_KINDS
         if all(key in entry for key in every) and any(key in entry for key in some)),
        None,
    )


def _columns(entry: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The HTTP Data Collector naming: nested keys joined with `_`, a suffix by value type, arrays
    as JSON text."""
    row: dict[str, Any] = {}
    for key, value in entry.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            row.update(_columns(value, f"{name}_"))
        elif value is None:
            continue
        elif name in TYPED_KEYS:
            row[name + TYPED_KEYS[name]] = value
        elif isinstance(value, bool):
            row[f"{name}_b"] = value
        elif isinstance(value, (int, float)):
            row[f"{name}_d"] = value
        elif isinstance(value, list):
            row[f"{name}_s"] = json.dumps(value)
        else:
            row[f"{name}_s"] = value
    return row


def duo_row(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A Duo Admin API log entry (authentication, administrator or telephony log) as a CiscoDuo_CL
    row, named the way the connector's HTTP Data Collector upload names it (the reference schema's
    columns; others dropped), with the log kind in eventtype_s."""
    row = {column: value for column, value in _columns(entry).items() if column in SCHEMA}
    row["eventtype_s"] = log_kind(entry)
    row["Type"] = TABLE
    return row


def _is_log_kind(kind: str, entry: Mapping[str, Any]) -> bool:
    return log_kind(entry) == kind and "." not in str(entry.get("action", ""))


# ---- the inverse: a row as the log entry it was read from (replay's tests) ---------------------------
def entry_key(column: str) -> str:
    """The key a written entry gives a column: Duo's name, nested one level where Duo nests
    (``access_device_ip_s`` -> ``access_device.ip``; the Data Collector joins either with `_`)."""
    return duo_keys(column)[-1]


def excluded_columns(kind: str) -> tuple[str, ...]:
    """The columns an entry of `kind` leaves out so that no log kind before it in LOG_KINDS
    (tried first) recognises it: the first key every entry of that kind has."""
    before = [every for name, every, _ in LOG_KINDS[: [k for k, _, _ in LOG_KINDS].index(kind)]]
    return tuple(DUO_KEYS[every[0]] for every in before)


def fixed_columns(kind: str) -> dict[str, Any]:
    """What every row read from an entry of `kind` holds whatever the entry: eventtype_s, the log
    kind (the connector's, from the endpoint it polled); TimeGenerated, which the Data Collector
    sets at ingestion (no key of the entry gives it); none in the excluded columns."""
    return {"eventtype_s": kind, "TimeGenerated": None, **dict.fromkeys(excluded_columns(kind))}


def duo_entry(kind: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """The Duo Admin API log entry of `kind` that reads as a CiscoDuo_CL row (the inverse of
    :func:`duo_row` on the rows holding :func:`fixed_columns`): each column's value under its key
    (:func:`entry_key`), the keys every entry of the kind has always there (null when the row has
    no value, which the Data Collector drops). An `action` with a dot reads as a GitHub entry
    (:func:`_is_log_kind`): such a row has no Duo entry."""
    every, some = next((e, s) for name, e, s in LOG_KINDS if name == kind)
    fixed = fixed_columns(kind)
    fields = {entry_key(c): c for c in DUO_KEYS.values() if c not in fixed}
    return mapped_record(fields, row, dict.fromkeys((*every, some[0])))


# One reader a log kind, each recognised by the keys every entry of its kind has (LOG_KINDS).
RAW_READERS = tuple(
    RawRecordReader(
        f"a Duo Admin API {kind} log entry ({', '.join(every)} and one of {', '.join(some)})",
        partial(_is_log_kind, kind),
        duo_row,
        frozenset(every),
        partial(duo_entry, kind),
        fixed=MappingProxyType(fixed_columns(kind)),
    )
    for kind, every, some in LOG_KINDS
)

SOURCE = Source(
    table=TABLE,
    title="Cisco Duo",
    schema=SCHEMA,
    logsources=LOGSOURCES,
    pipeline="cisco_duo",
    field_map=FIELD_MAP,
    default=True,
    id_column="txid_g",
    summary_columns=("TimeGenerated", "eventtype_s", "event_type_s", "result_s", "user_name_s"),
    row_markers=("eventtype_s",),
    profile=PROFILE,
    raw_records=RAW_READERS,
)
