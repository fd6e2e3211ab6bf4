"""Sentinel data connectors and the data types each declares: where a source's rows come from, which
an analytics rule names in `requiredDataConnectors` (facts, read by `registry.problems()` and by the
analytics profiles' checks)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# Data types each data connector declares (`dataTypes[].name`), from Azure/Azure-Sentinel:
#   Solutions/Azure Activity/Data Connectors/AzureActivity.JSON (id AzureActivity)
#   Solutions/Azure kubernetes Service/Data Connectors/AzureKubernetes.JSON (id AzureKubernetes)
#   Solutions/Microsoft Entra ID/Data Connectors/template_AzureActiveDirectory.JSON (id AzureActiveDirectory;
#   the data types of the tables this package queries)
#   Solutions/Microsoft 365/Data Connectors/Office365.JSON (id Office365)
# SaaS sources (Okta, GitHub, OneLogin, Cisco Duo), from each connector's definition file:
#   Solutions/Okta Single Sign-On/Data Connectors/OktaNativePollerConnectorV2/OktaSSOv2_DataConnectorDefinition.json
#   (id OktaSSOv2; its one data type is its graphQueriesTableName, the OktaSSO parser); the legacy
#   Azure Functions connector OktaSSO with data type Okta_CL, as Microsoft's Okta templates name it
#   (Solutions/Okta Single Sign-On/Analytic Rules/MFAFatigue.yaml requiredDataConnectors)
#   Solutions/GitHub/Data Connectors/GitHubAuditLogs_CCP/GitHubAuditLogs_ConnectorDefinition.json (id GitHubAuditDefinitionV2)
#   Solutions/OneLoginIAM/Data Connectors/OneLoginIAMLogs_ccp/OneLoginIAMLogs_ConnectorDefinition.json
#   (id OneLoginIAMLogsCCPDefinition; it declares OneLoginV2_CL, not the OneLoginEventsV2_CL its DCR writes)
#   Solutions/CiscoDuoSecurity/Data Connectors/CiscoDuo_API_FunctionApp.json (id CiscoDuoSecurity)
# The ids are in .script/tests/detectionTemplateSchemaValidation/ValidConnectorIds.json. A rule's
# requiredDataConnectors names one of these with its data types (Sentinel shows them and its template
# checks test them); `registry.problems()` holds every source's analytics profile to this table.
CONNECTOR_DATA_TYPES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "AzureActivity": frozenset({"AzureActivity"}),
        "AzureKubernetes": frozenset(
            {
                "kube-apiserver",
                "kube-audit",
                "kube-audit-admin",
                "kube-controller-manager",
                "kube-scheduler",
                "cluster-autoscaler",
                "guard",
            }
        ),
        "AzureActiveDirectory": frozenset(
            {
                "SigninLogs",
                "AuditLogs",
                "AADUserRiskEvents",
                "AADNonInteractiveUserSignInLogs",
                "AADServicePrincipalSignInLogs",
                "AADManagedIdentitySignInLogs",
            }
        ),
        "Office365": frozenset(
            {"OfficeActivity (SharePoint)", "OfficeActivity (Exchange)", "OfficeActivity (Teams)"}
        ),
        # Solutions/Amazon Web Services/Data Connectors/template_AWS.json (id AWS, in
        # ValidConnectorIds.json) and template_AwsS3.json (id AwsS3); Microsoft's AWSCloudTrail
        # templates name both (the S3 one spelled AWSS3).
        "AWS": frozenset({"AWSCloudTrail"}),
        "AwsS3": frozenset({"AWSGuardDuty", "AWSVPCFlow", "AWSCloudTrail"}),
        # Solutions/Google Cloud Platform Audit Logs/Data Connectors/GCPAuditLogs_ccp/
        # data_connector_definition.json (id GCPAuditLogsDefinition; its one data type is its
        # graphQueriesTableName, GCPAuditLogs, as Microsoft's GCPAuditLogs templates name it)
        "GCPAuditLogsDefinition": frozenset({"GCPAuditLogs"}),
        # SaaS sources
        "OktaSSOv2": frozenset({"OktaSSO"}),
        "OktaSSO": frozenset({"Okta_CL"}),
        "GitHubAuditDefinitionV2": frozenset({"GitHubAuditLogsV2_CL"}),
        "OneLoginIAMLogsCCPDefinition": frozenset({"OneLoginV2_CL"}),
        "CiscoDuoSecurity": frozenset({"CiscoDuo_CL"}),
        # Solutions/GoogleWorkspaceReports/Data Connectors/GoogleWorkspaceTemplate_ccp/
        # GoogleWorkspaceReports_DataConnectorDefinition.json (its one data type is its graphQueriesTableName)
        "GoogleWorkspaceCCPDefinition": frozenset({"GoogleWorkspaceReports"}),
    }
)
