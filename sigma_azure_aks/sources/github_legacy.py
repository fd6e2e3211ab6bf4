"""GitHubAuditLogPolling_CL: Sigma `product: github, service: audit` rules on the deprecated GitHub
table (pipeline `github_legacy`).

The deprecated GitHub Enterprise Audit Log polling connector wrote each
audit-log key as a custom-log column with a type suffix (`action_s`, `actor_s`, `org_s`,
`created_at_d`, `_document_id_s`); nested keys are joined with `_` (`actor_location_country_code_s`).
Columns: Azure/Azure-Sentinel `.script/tests/KqlvalidationsTests/CustomTables/GitHubAuditLogPolling_CL.json`,
the ones Microsoft validates its content against; a key outside them is refused, naming it.

A variant of :mod:`.github` (a pipeline of its own, as `aks_audit_legacy` is for AKS): its own
schema, field names and event id; the same SigmaHQ field names reach it. It has no analytics profile:
no Microsoft template requires the deprecated connector alone (`GitHubAuditData`, the parser over
every version, is what they query), so `-f yaml/arm/json` is refused for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .base import FieldMap, FieldTarget, Source, field_targets
from .github import LOGSOURCES

TABLE = "GitHubAuditLogPolling_CL"

SCHEMA: dict[str, str] = {
    "action_s": "string", "actor_id_d": "real", "actor_ip_s": "string", "actor_is_bot_b": "bool",
    "actor_location_country_code_s": "string", "actor_s": "string", "_BilledSize": "real",
    "business_id_d": "real", "business_s": "string", "Computer": "string", "created_at_d": "real",
    "_document_id_s": "string", "invitee_s": "string", "inviter_s": "string", "_IsBillable": "string",
    "ManagementGroupName": "string", "MG": "string", "new_repo_permission_s": "string",
    "old_permissions_admin_b": "bool", "old_permissions_maintain_b": "bool", "old_permissions_pull_b": "bool",
    "old_permissions_push_b": "bool", "old_permissions_triage_b": "bool", "old_repo_base_role_s": "string",
    "old_repo_permission_s": "string", "operation_type_s": "string", "org_id_d": "real", "org_s": "string",
    "permission_s": "string", "public_repo_b": "bool", "pull_request_id_d": "real",
    "pull_request_title_s": "string", "pull_request_url_s": "string", "RawData": "string",
    "repo_id_d": "real", "repo_s": "string", "repository_selection_s": "string", "_ResourceId": "string",
    "SourceSystem": "string", "TenantId": "string", "TimeGenerated": "datetime", "_timestamp_d": "real",
    "Type": "string", "user_agent_s": "string", "user_id_d": "real",
    "user_programmatic_access_name_s": "string", "user_s": "string", "visibility_s": "string",
}

SUFFIXES = ("_s", "_d", "_b")
STANDARD_COLUMNS = frozenset(
    {"Computer", "ManagementGroupName", "MG", "RawData", "SourceSystem", "TenantId", "TimeGenerated", "Type",
     "_BilledSize", "_IsBillable", "_ResourceId"}
)
# Audit-log objects the custom log flattened with `_` (their members also by path).
NESTED = ("actor_location_", "old_permissions_")


def audit_keys(column: str) -> tuple[str, ...]:
    """The audit-log names of a column (``actor_location_country_code_s`` ->
    ``actor_location_country_code`` and ``actor_location.country_code``)."""
    key = column[:-2]
    nested = tuple(f"{prefix[:-1]}.{key[len(prefix):]}" for prefix in NESTED if key.startswith(prefix))
    return (key, *nested)


AUDIT_KEYS: Mapping[str, str] = MappingProxyType(
    {
        key: column
        for column in SCHEMA
        if column[-2:] in SUFFIXES and column not in STANDARD_COLUMNS
        for key in audit_keys(column)
    }
)

FIELD_MAP = FieldMap(
    table=TABLE,
    exact=MappingProxyType(
        {
            **field_targets(
                {column: (column,) for column in SCHEMA if not (column.startswith("_") and column in STANDARD_COLUMNS)}
            ),
            **{key: FieldTarget(column) for key, column in AUDIT_KEYS.items()},
        }
    ),
    notes=MappingProxyType({"action_s": "action (e.g. repo.destroy)", "actor_s": "actor: the login of the user"}),
)

SOURCE = Source(
    table=TABLE,
    title="GitHub audit log (deprecated table)",
    schema=SCHEMA,
    logsources=LOGSOURCES,
    pipeline="github_legacy",
    field_map=FIELD_MAP,
    id_column="_document_id_s",
    summary_columns=("TimeGenerated", "action_s", "actor_s", "org_s", "repo_s"),
    row_markers=("action_s",),
)
