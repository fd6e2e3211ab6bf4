"""GitHubAuditLogsV2_CL: Sigma `product: github, service: audit` rules (the GitHub Enterprise audit
log), every fact in one place.

The table is the one Microsoft's current GitHub connector writes (GitHub Enterprise Audit Log via the
Codeless Connector Platform, connector id `GitHubAuditDefinitionV2`): Azure/Azure-Sentinel
`Solutions/GitHub/Data Connectors/GitHubAuditLogs_CCP/GitHubAuditLogs_Table.json` (columns) and
`GitHubAuditLogs_DCR.json` (transformKql: a `project-rename` of each audit-log key to its
PascalCase column, `type` to ActivityType, `_document_id` to DocumentId,
`actor_location.country_code` to CountryCode). SigmaHQ writes the audit log's own keys (`action`,
`actor`, `org`, `repo`, ...); each is mapped to its column, and every column is also accepted by
its own name.

Not covered: the deprecated `GitHubAuditLogPolling_CL` (`action_s`, ...) and Microsoft's
`GitHubAuditData` parser, which projects every connector version to 14 columns (no event id).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
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

TABLE = "GitHubAuditLogsV2_CL"

SCHEMA: dict[str, str] = {
    "Action": "string", "Active": "bool", "ActiveWas": "bool", "ActivityType": "string", "Actor": "string",
    "ActorId": "real", "ActorIp": "string", "ActorIsBot": "bool", "AdminEnforced": "bool", "After": "string",
    "AlertNumbers": "string", "AllowDeletionsEnforcementLevel": "real", "AllowedValues": "string",
    "AllowForcePushesEnforcementLevel": "real", "ApplicationClientId": "string",
    "AuthorizedActorNames": "string", "BaseRole": "string", "Before": "string", "_BilledSize": "real",
    "BlockedUser": "string", "Branch": "string", "Business": "string", "BusinessId": "real",
    "CanCreateRepositories": "bool", "CommitOid": "string", "CompletedAt": "datetime", "Conclusion": "string",
    "Config": "string", "ConfigWas": "string", "ContentType": "string", "CountryCode": "string",
    "CreatedAt": "real", "CreateProtected": "bool", "CustomPattern": "string", "Data": "string",
    "DefaultForNewPrivateRepos": "bool", "DefaultForNewPublicRepos": "bool", "DefaultValue": "string",
    "DefinitionId": "real", "DeployKeyFingerprint": "string", "Description": "string",
    "DismissStaleReviewsOnPush": "bool", "DocumentId": "string", "DomainName": "string", "Email": "string",
    "Emoji": "string", "Enablement": "string", "EnforcementLevel": "string", "EnvironmentName": "string",
    "Event": "string", "Events": "string", "EventsWere": "string", "ExemptAdministrators": "bool",
    "Explanation": "string", "Fingerprint": "string", "GhsaId": "string", "HashedToken": "string",
    "HeadBranch": "string", "HeadSha": "string", "HookId": "real", "IgnoreApprovalsFromContributors": "bool",
    "Integration": "string", "InvitationId": "real", "InviteeEmail": "string", "IpAllowListEntry": "string",
    "_IsBillable": "string", "IsHostedRunner": "bool", "IssueTypeName": "string", "JobName": "string",
    "JobWorkflowRef": "string", "Key": "string", "Limit": "real", "LimitedAvailability": "bool",
    "LinearHistoryRequirementEnforcementLevel": "real", "LockAllowsFetchAndMerge": "bool",
    "LockBranchEnforcementLevel": "real", "MembershipType": "string", "MergeQueueEnforcementLevel": "real",
    "Message": "string", "Name": "string", "NewAccess": "string", "NewPolicy": "string",
    "NewProjectBaseRole": "string", "NewRepoPermission": "string", "NewRepoRunnersPolicy": "string",
    "OauthApplication": "string", "OauthApplicationId": "real", "OauthApplicationState": "string",
    "OauthApplicationUrl": "string", "OldAccess": "string", "OldDefaultValue": "string",
    "OldDescription": "string", "OldEnabled": "bool", "OldIssueTypeName": "string", "OldPermission": "string",
    "OldProjectBaseRole": "string", "OldRepoPermission": "string", "OldRepoRunnersPolicy": "string",
    "OldRequired": "bool", "OldRolePermissions": "string", "OldTokenExpiration": "real", "OldUser": "string",
    "OldValuesEditableBy": "string", "OpensshPublicKey": "string", "OperationType": "string", "Org": "string",
    "OrganizationRoleId": "real", "OrganizationRoleName": "string", "OrgId": "real",
    "OverriddenCodes": "string", "Owner": "string", "OwnerType": "string", "Permission": "string",
    "Policy": "string", "PreviousVisibility": "string", "ProgrammaticAccessType": "string",
    "ProjectId": "real", "ProjectNumber": "real", "PropertyName": "string", "PublicProject": "bool",
    "PublicRepo": "bool", "PullRequestId": "real", "PullRequestReviewsEnforcementLevel": "real",
    "PullRequestTitle": "string", "PullRequestUrl": "string", "QuerySuite": "string", "ReadOnly": "bool",
    "Reason": "string", "Reasons": "string", "Recipient": "string", "Ref": "string", "Referrer": "string",
    "Repo": "string", "RepoId": "real", "RepositoriesRemoved": "string", "RepositoriesRemovedNames": "string",
    "RepositorySecurityConfigurationFailureReason": "dynamic",
    "RepositorySecurityConfigurationState": "dynamic", "RepositorySelection": "string",
    "RequestAccessSecurityHeader": "string", "RequestCategory": "string", "RequestId": "string",
    "RequireCodeOwnerReview": "bool", "Required": "bool", "RequiredApprovingReviewCount": "real",
    "RequiredDeploymentsEnforcementLevel": "real", "RequiredReviewThreadResolutionEnforcementLevel": "real",
    "RequiredStatusChecksEnforcementLevel": "real", "RequireLastPushApproval": "bool",
    "RolePermissions": "string", "RulesetBypassActors": "string", "RulesetConditions": "string",
    "RulesetConditionsUpdated": "string", "RulesetEnforcement": "string", "RulesetId": "real",
    "RulesetName": "string", "RulesetRules": "string", "RulesetRulesDeleted": "string",
    "RulesetSourceType": "string", "RuleSuiteId": "real", "RunAttempt": "real",
    "RunnerGroupAllowPublic": "bool", "RunnerGroupId": "real", "RunnerGroupName": "string",
    "RunnerGroupRestrictedToWorkflows": "bool", "RunnerGroupSelectedWorkflowRefs": "string",
    "RunnerId": "real", "RunnerLabels": "string", "RunnerName": "string", "RunnerOwnerType": "string",
    "RunNumber": "real", "SecretsPassed": "string", "SecurityConfigurationCodeScanning": "string",
    "SecurityConfigurationCodeScanningDelegatedAlertDismissal": "string",
    "SecurityConfigurationCodeSecuritySkuEnabled": "bool", "SecurityConfigurationCreatedAt": "datetime",
    "SecurityConfigurationDependabotAlerts": "string",
    "SecurityConfigurationDependabotSecurityUpdates": "string",
    "SecurityConfigurationDependencyGraph": "string",
    "SecurityConfigurationDependencyGraphAutosubmitAction": "string",
    "SecurityConfigurationDescription": "string", "SecurityConfigurationEnableGhas": "bool",
    "SecurityConfigurationId": "real", "SecurityConfigurationName": "string",
    "SecurityConfigurationPrivateVulnerabilityReporting": "string",
    "SecurityConfigurationSecretProtectionSkuEnabled": "bool",
    "SecurityConfigurationSecretScanning": "string",
    "SecurityConfigurationSecretScanningDelegatedAlertDismissal": "string",
    "SecurityConfigurationSecretScanningDelegatedBypass": "string",
    "SecurityConfigurationSecretScanningGenericSecrets": "string",
    "SecurityConfigurationSecretScanningNonProviderPatterns": "string",
    "SecurityConfigurationSecretScanningPushProtection": "string",
    "SecurityConfigurationSecretScanningValidityChecks": "string",
    "SecurityConfigurationUpdatedAt": "datetime", "SignatureRequirementEnforcementLevel": "real",
    "Source": "string", "StartedAt": "datetime", "StrictRequiredStatusChecksPolicy": "bool",
    "TargetLogin": "string", "Team": "string", "TenantId": "string", "ThreatModel": "string",
    "TimeGenerated": "datetime", "TokenExpiration": "real", "TokenId": "real", "Topic": "string",
    "TransportProtocol": "real", "TransportProtocolName": "string", "TriggerId": "real",
    "TwoFactorMethod": "string", "Type": "string", "UpdatedAllowedTypes": "bool", "User": "string",
    "UserAgent": "string", "UserCanInviteCollaborators": "bool", "UserId": "real",
    "ValuesEditableBy": "string", "ValueType": "string", "Visibility": "string",
    "VulnerabilityAlertRuleActionsAlertActionsAutoDismiss": "string",
    "VulnerabilityAlertRuleActionsVersion": "real", "VulnerabilityAlertRuleConditionsCwe": "string",
    "VulnerabilityAlertRuleConditionsEcosystem": "string", "VulnerabilityAlertRuleConditionsScope": "string",
    "VulnerabilityAlertRuleId": "real", "VulnerabilityAlertRuleName": "string", "WorkflowId": "real",
    "WorkflowRunId": "real",
}

LOGSOURCES = (SigmaLogSource(product="github", service="audit"),)

# Audit-log keys the DCR renames other than by case (GitHubAuditLogs_DCR.json transformKql).
RENAMED: Mapping[str, str] = MappingProxyType(
    {
        "type": "ActivityType",
        "_document_id": "DocumentId",
        "actor_location.country_code": "CountryCode",
        "@timestamp": "TimeGenerated",
    }
)
# Standard Log Analytics columns: no audit-log key lands in them.
STANDARD_COLUMNS = frozenset({"TenantId", "TimeGenerated", "Type", "ActivityType", "DocumentId", "CountryCode"})


def audit_key(column: str) -> str:
    """The audit-log key the DCR renames to `column` (``ActorIp`` <- ``actor_ip``)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", column).lower()


AUDIT_KEYS: Mapping[str, str] = MappingProxyType(
    {
        **{audit_key(column): column for column in SCHEMA
           if not column.startswith("_") and column not in STANDARD_COLUMNS},
        **RENAMED,
    }
)

FIELD_MAP = FieldMap(
    table=TABLE,
    # objects the System Log / audit API writes as they are (free-form: read with member access)
    objects=frozenset({"RepositorySecurityConfigurationFailureReason", "RepositorySecurityConfigurationState"}),
    exact=MappingProxyType(
        {
            **field_targets({column: (column,) for column in SCHEMA if not column.startswith("_")}),
            **{key: FieldTarget(column) for key, column in AUDIT_KEYS.items()},
        }
    ),
    notes=MappingProxyType(
        {
            "Action": "action (e.g. repo.destroy)",
            "Actor": "actor: the login of the user who acted",
            "ActivityType": "the audit entry's `type` (Type is the table-name column)",
            "CreatedAt": "created_at, epoch milliseconds (real)",
        }
    ),
)

# Entity mappings: Microsoft's GitHub templates map the account from Actor (Solutions/GitHub/Analytic
# Rules/(Preview) GitHub - Repository was destroyed.yaml: Account FullName = Actor). They map no
# address (the GitHubAuditData parser they query keeps none); the table has one, actor_ip (ActorIp),
# mapped here as IP. Connector: GitHubAuditLogs_ConnectorDefinition.json declares the table itself.
PROFILE = AnalyticsProfile(
    table=TABLE,
    extend=(),
    entity_mappings=(
        EntityMappingSpec("Account", (("FullName", "Actor"),)),
        EntityMappingSpec("IP", (("Address", "ActorIp"),)),
    ),
    custom_details=(("Action", "Action"), ("Organization", "Org"), ("Repository", "Repo")),
    alert_display_name_format="{{Action}} by {{Actor}}",
    connector_id="GitHubAuditDefinitionV2",
    data_types=(TABLE,),
)


# ---- raw audit-log entries (replay) -----------------------------------------------------------------
def _flat(entry: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in entry.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and name not in AUDIT_KEYS:
            flat.update(_flat(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def audit_row(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A GitHub audit-log entry (REST `/orgs/{org}/audit-log` or the enterprise stream) as a
    GitHubAuditLogsV2_CL row, the way GitHubAuditLogs_DCR.json renames it: each key into its column
    (AUDIT_KEYS), arrays and objects into string columns as JSON text, keys with no column dropped;
    TimeGenerated from `@timestamp`, else `created_at` (epoch milliseconds)."""
    row: dict[str, Any] = {}
    for key, value in _flat(entry).items():
        column = AUDIT_KEYS.get(key)
        if column is None:
            continue
        if SCHEMA[column] != "dynamic" and isinstance(value, (Mapping, list)):
            value = json.dumps(value, ensure_ascii=False)
        row[column] = value
    if "TimeGenerated" not in row and "created_at" in entry:
        created = entry["created_at"]
        row["TimeGenerated"] = (
            datetime.fromtimestamp(created / 1000, UTC).isoformat() if isinstance(created, (int, float))
            else created
        )
    row["Type"] = TABLE
    return row


# A GitHub audit action is `<category>.<operation>` (repo.destroy, org.update_member); an entry
# with another action is one when it has a key only GitHub entries have. Duo's administrator log
# also has a string `action` (admin_login), without the dot and without those keys.
ACTION = re.compile(r"[a-z0-9_]+(?:\.[a-z0-9_]+)+")
ENTRY_KEYS = ("actor", "org", "repo", "created_at", "@timestamp", "_document_id")


def is_audit_entry(entry: Mapping[str, Any]) -> bool:
    action = entry.get("action")
    if not isinstance(action, str):
        return False
    return ACTION.fullmatch(action) is not None or any(key in entry for key in ENTRY_KEYS)


# The audit-log key of each column (AUDIT_KEYS is one to one).
COLUMN_KEYS: Mapping[str, str] = MappingProxyType({column: key for key, column in AUDIT_KEYS.items()})


def audit_entry(row: Mapping[str, Any]) -> dict[str, Any]:
    """The audit-log entry that reads as a GitHubAuditLogsV2_CL row (the inverse of
    :func:`audit_row`): each column's value under its key (COLUMN_KEYS; `actor_location.country_code`
    nested), TimeGenerated as `@timestamp` (null when the row has none, so that `created_at` is
    not read in its place), `action` and `_document_id` always there (what makes it an entry).
    Not carried: TenantId and the billing columns, which no key fills. A string column's JSON
    text (the DCR's encoding of an object) is written as that text, which reads back as it is."""
    entry = mapped_record({key: column for column, key in COLUMN_KEYS.items()}, row, {"action": "", "_document_id": ""})
    entry.setdefault("@timestamp", None)
    return entry


RAW_READER = RawRecordReader(
    "a GitHub audit-log entry (action: <category>.<operation>, or action with actor/org/repo/created_at)",
    is_audit_entry,
    audit_row,
    frozenset({"action"}),
    audit_entry,
    priority=1,
)

SOURCE = Source(
    table=TABLE,
    title="GitHub audit log",
    schema=SCHEMA,
    logsources=LOGSOURCES,
    pipeline="github",
    field_map=FIELD_MAP,
    default=True,
    id_column="DocumentId",
    summary_columns=("TimeGenerated", "Action", "Actor", "Org", "Repo"),
    row_markers=("DocumentId",),
    profile=PROFILE,
    raw_records=(RAW_READER,),
)
