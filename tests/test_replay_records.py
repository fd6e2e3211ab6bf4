"""Raw Azure records in replay: each recognised by its category and shape, read into the columns Log
Analytics uses, counted once under its table; anything else is "not an event replay knows"."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from replay_support import require_engine, shared_path

from sigma_azure_aks.replay import replay
from sigma_azure_aks.replay.loaders import EventsFormatError, read_events, record_to_row
from sigma_azure_aks.replay.rows import raw_readers, read_datetime
from sigma_azure_aks.sources import entra_signinlogs

# The shape of Microsoft's documented sign-in record ("sign-in logs schema in Azure Monitor"): the
# common fields at the root, the Microsoft Graph signIn properties under `properties`.
SIGN_IN = {
    "time": "2019-03-12T16:02:15.5522137Z",
    "resourceId": "/tenants/11111111-2222-3333-4444-555555555555/providers/Microsoft.aadiam",
    "operationName": "Sign-in activity",
    "operationVersion": "1.0",
    "category": "SignInLogs",
    "tenantId": "11111111-2222-3333-4444-555555555555",
    "resultType": "50140",
    "resultSignature": "None",
    "resultDescription": "This error occurred due to 'Keep me signed in' interrupt.",
    "durationMs": 0,
    "callerIpAddress": "203.0.113.7",
    "correlationId": "a75a10bd-c126-486b-9742-c03110d36262",
    "identity": "Timothy Perkins",
    "Level": 4,
    "location": "US",
    "properties": {
        "id": "0231f922-93fa-4005-bb11-b344eca03c01",
        "createdDateTime": "2019-03-12T16:02:15.5522137+00:00",
        "userDisplayName": "Timothy Perkins",
        "userPrincipalName": "tim@contoso.com",
        "userId": "9f0f6f35-0000-4000-8000-000000000001",
        "appId": "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
        "appDisplayName": "Azure Portal",
        "ipAddress": "203.0.113.7",
        "status": {"errorCode": 50140, "failureReason": "Keep me signed in interrupt."},
        "clientAppUsed": "Browser",
        "userAgent": "Mozilla/5.0",
        "deviceDetail": {"operatingSystem": "Windows 10", "browser": "Chrome 72.0.3626"},
        "location": {
            "city": "Bellevue",
            "state": "Washington",
            "countryOrRegion": "US",
            "geoCoordinates": {"latitude": 45, "longitude": 122},
        },
        "correlationId": "a75a10bd-c126-486b-9742-c03110d36262",
        "conditionalAccessStatus": "notApplied",
        "appliedConditionalAccessPolicies": [
            {"id": "ae11ffaa-0000-4000-8000-000000000002", "displayName": "MFA", "result": "notEnabled"}
        ],
        "isInteractive": True,
        "tokenIssuerType": "AzureAD",
        "authenticationProcessingDetails": [{"key": "Login Hint Present", "value": "True"}],
        "networkLocationDetails": [],
        "processingTimeInMilliseconds": 85,
        "riskDetail": "none",
        "riskLevelAggregated": "none",
        "riskLevelDuringSignIn": "none",
        "riskState": "none",
        "riskEventTypes": [],
        "riskEventTypes_v2": [],
        "resourceDisplayName": "Windows Azure Service Management API",
        "resourceId": "797f4846-ba00-4fd7-ba43-dac1f8f63013",
        "authenticationMethodsUsed": [],
        "authenticationRequirement": "singleFactorAuthentication",
        "alternateSignInName": "tim@contoso.com",
        "authenticationDetails": [{"authenticationMethod": "Password", "succeeded": True}],
        "homeTenantId": "11111111-2222-3333-4444-555555555555",
        "resourceTenantId": "11111111-2222-3333-4444-555555555555",
        "userType": "Member",
        "crossTenantAccessType": "none",
        "uniqueTokenIdentifier": "IdP3SUJGtkGlt7dDQVRPAA",
        "mfaDetail": {"authMethod": "PhoneAppNotification"},
        "flaggedForReview": False,
        "servicePrincipalId": "",
        "sessionLifetimePolicies": [],
        "autonomousSystemNumber": 8075,
    },
}

# Graph signIn properties whose Log Analytics column is not their capitalised name.
RENAMED = {
    "location": "LocationDetails",
    "appliedConditionalAccessPolicies": "ConditionalAccessPolicies",
}


def test_a_sign_in_record_maps_every_property_to_its_column() -> None:
    """Root `location` (a country code) is Location, `properties.location` (an object)
    LocationDetails; every property of the documented record lands in the column Log Analytics
    uses, objects as objects in dynamic columns and as JSON text in string columns."""
    table, row = record_to_row(SIGN_IN, "record")
    assert table == "SigninLogs"
    assert row["Location"] == "US"
    assert row["LocationDetails"] == SIGN_IN["properties"]["location"]
    assert row["ConditionalAccessPolicies"] == SIGN_IN["properties"]["appliedConditionalAccessPolicies"]
    assert "AppliedConditionalAccessPolicies" not in row
    assert row["Status"] == {"errorCode": 50140, "failureReason": "Keep me signed in interrupt."}
    assert row["IPAddress"] == "203.0.113.7"
    assert row["ResourceId"] == "797f4846-ba00-4fd7-ba43-dac1f8f63013"  # not the root's provider path
    assert row["AADTenantId"] == SIGN_IN["tenantId"]
    assert row["Level"] == 4 and row["Identity"] == "Timothy Perkins" and row["Category"] == "SignInLogs"
    schema = entra_signinlogs.SCHEMA
    by_lower = {column.lower(): column for column in schema}
    for key, value in SIGN_IN["properties"].items():
        column = RENAMED.get(key) or by_lower[key.lower()]
        expected = (
            value if schema[column] == "dynamic" or not isinstance(value, (dict, list)) else json.dumps(value)
        )
        if schema[column] == "datetime":
            expected = read_datetime(value)
        assert row[column] == expected, key


def test_a_raw_sign_in_replays_on_its_location_columns(tmp_path: Path) -> None:
    require_engine()
    events = tmp_path / "signins.json"
    events.write_text(json.dumps({"records": [SIGN_IN]}))
    rule = (
        "title: t\nid: 5d0c1b3a-0000-4000-8000-00000000aa01\nstatus: test\n"
        "logsource: {product: azure, service: signinlogs}\n"
        "detection:\n  sel: {LocationDetails.city: Bellevue, Location: US}\n  condition: sel\n"
    )
    assert replay(rule, [events])["5d0c1b3a-0000-4000-8000-00000000aa01"] == [SIGN_IN["properties"]["id"]]


def test_the_real_sign_in_rows_survive_a_raw_record() -> None:
    """Each real SigninLogs row, written as the diagnostic record its columns' declared paths give,
    reads back as the same row on every column a record carries."""
    (reader,) = entra_signinlogs.SOURCE.raw_records
    rows = [json.loads(line) for line in shared_path("samples", "entra", "signinlogs_export.jsonl").open()]
    carried = 0
    for sample in rows:
        row = {k: v for k, v in sample.items() if k in entra_signinlogs.SCHEMA and k != "Type"}
        back = reader.to_row(reader.write(row))
        assert {k: back[k] for k in row if k in back} == {k: v for k, v in row.items() if k in back}
        carried += len(back)
    assert carried >= 40 * len(rows)


# ---- recognition ---------------------------------------------------------------------------------
def _activity() -> dict[str, Any]:
    return {
        "time": "2021-04-28T14:45:53Z",
        "resourceId": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1",
        "operationName": "MICROSOFT.KEYVAULT/VAULTS/DELETE",
        "category": "Delete",
        "resultType": "Success",
        "callerIpAddress": "203.0.113.9",
        "properties": {"statusCode": "OK"},
    }


def _kube(category: str) -> dict[str, Any]:
    audit = {"auditID": f"id-{category}", "verb": "get", "requestURI": "/api/v1/pods"}
    return {
        "category": category,
        "time": "2025-04-20T16:29:59Z",
        "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
        "resourceId": "/SUBSCRIPTIONS/S1/PROVIDERS/X",
        "properties": {"log": json.dumps(audit), "pod": "kube-apiserver-1"},
    }


def _sign_in(category: str, number: int) -> dict[str, Any]:
    return {**SIGN_IN, "category": category, "properties": {**SIGN_IN["properties"], "id": f"s-{number}"}}


# Records Log Analytics would put in another table (or in none replay has): each must be refused.
FOREIGN = {
    "Key Vault AuditEvent": {
        "time": "2021-04-28T14:45:53Z",
        "category": "AuditEvent",
        "operationName": "VaultGet",
        "resourceId": "/SUBSCRIPTIONS/S1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV1",
        "resultType": "Success",
        "callerIpAddress": "203.0.113.9",
        "properties": {"id": "https://kv1/"},
    },
    "kube-apiserver log": {**_kube("kube-apiserver"), "properties": {"log": "I0420 started", "pod": "p"}},
    "ADFS sign-in": _sign_in("ADFSSignInLogs", 0),
    "no category": {"operationName": "X/WRITE", "time": "2021-04-28T14:45:53Z"},
}


@pytest.mark.parametrize("name", list(FOREIGN))
def test_a_record_of_no_known_kind_is_refused(tmp_path: Path, name: str) -> None:
    record = FOREIGN[name]
    events = tmp_path / "events.json"
    events.write_text(json.dumps({"records": [_activity(), record]}))
    category = record.get("category")
    shape = f"category {category!r}" if category is not None else "no category"
    with pytest.raises(
        EventsFormatError, match=rf"^{events}: records\[1\]: not an event replay knows \({shape}; "
    ):
        read_events([events])


def test_a_mixed_file_counts_each_record_once_under_its_table(tmp_path: Path) -> None:
    """One file of every raw kind (as a storage account holds them): each record read by exactly one
    reader, into its own table."""
    records = [
        _activity(),
        {**_activity(), "category": "Administrative", "properties": {"eventCategory": "Policy"}},
        _kube("kube-audit"),
        _kube("kube-audit-admin"),
        _sign_in("SignInLogs", 1),
        _sign_in("NonInteractiveUserSignInLogs", 2),
        _sign_in("NonInteractiveUserSignInLogs", 3),
        _sign_in("ServicePrincipalSignInLogs", 4),
        _sign_in("ManagedIdentitySignInLogs", 5),
        {
            "category": "AuditLogs",
            "time": "2024-01-01T00:00:00Z",
            "operationName": "Add user",
            "properties": {"id": "a-1", "activityDisplayName": "Add user"},
        },
        {"category": "UserRiskEvents", "time": "2024-01-01T00:00:00Z", "properties": {"id": "r-1"}},
    ]
    events = tmp_path / "mixed.jsonl"
    events.write_text("".join(json.dumps(record) + "\n" for record in records))
    read = read_events([events])
    assert Counter(event.table for event in read) == {
        "AzureActivity": 2,
        "AKSAudit": 1,
        "AKSAuditAdmin": 1,
        "SigninLogs": 1,
        "AADNonInteractiveUserSignInLogs": 2,
        "AADServicePrincipalSignInLogs": 1,
        "AADManagedIdentitySignInLogs": 1,
        "AuditLogs": 1,
        "AADUserRiskEvents": 1,
    }
    assert [event.number for event in read] == list(range(1, len(records) + 1))
    assert read[0].row["CategoryValue"] == "Administrative"  # a Delete record without eventCategory
    assert read[1].row["CategoryValue"] == "Policy"
    for record in records:
        assert sum(reader.recognise(record) for _, reader in raw_readers()) == 1, record["category"]


def test_every_reader_writes_records_only_it_recognises_with_its_keys() -> None:
    """The readers' kinds do not overlap (no record is read twice or by priority), and `keys`
    holds for every record a reader writes (the export scan relies on it)."""
    for source, reader in raw_readers():
        if reader.write is None:  # no inverse written (tested on the samples)
            continue
        row = {column: "x" for column, kind in source.schema.items() if kind == "string"}
        record = reader.write(row)
        assert [r for _, r in raw_readers() if r.recognise(record)] == [reader], reader.description
        assert reader.keys <= set(record), reader.description
