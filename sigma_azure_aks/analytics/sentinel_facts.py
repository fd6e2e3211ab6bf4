"""Microsoft Sentinel's rules for scheduled analytics rules, as data.

Collected from the Azure-Sentinel template validators, the Security Insights REST specification
(stable 2025-09-01 / 2025-12-01) and its ARM deployment schema. This module is the one place these
facts live; the model validates against them and the renderers read names from them.
"""

from __future__ import annotations

import re
from types import MappingProxyType

SEVERITIES = ("Informational", "Low", "Medium", "High")

# Sigma level -> Sentinel severity (Sentinel has no Critical).
SEVERITY_BY_SIGMA_LEVEL = MappingProxyType(
    {"informational": "Informational", "low": "Low", "medium": "Medium", "high": "High", "critical": "High"}
)

TACTICS = (
    "Reconnaissance",
    "ResourceDevelopment",
    "InitialAccess",
    "Execution",
    "Persistence",
    "PrivilegeEscalation",
    "DefenseEvasion",
    "CredentialAccess",
    "Discovery",
    "LateralMovement",
    "Collection",
    "Exfiltration",
    "CommandAndControl",
    "Impact",
    "PreAttack",
    "ImpairProcessControl",
    "InhibitResponseFunction",
)

# Sigma `attack.<tactic>` tag name (dashes; underscores are normalised to dashes first) -> Sentinel
# tactic. ATT&CK v19 split Defense Evasion into Stealth and Defense Impairment; Sentinel's enum still
# has only DefenseEvasion. `evasion` is the ICS matrix's name for it.
TACTIC_BY_SIGMA_TAG = MappingProxyType(
    {
        "reconnaissance": "Reconnaissance",
        "resource-development": "ResourceDevelopment",
        "initial-access": "InitialAccess",
        "execution": "Execution",
        "persistence": "Persistence",
        "privilege-escalation": "PrivilegeEscalation",
        "defense-evasion": "DefenseEvasion",
        "stealth": "DefenseEvasion",
        "defense-impairment": "DefenseEvasion",
        "evasion": "DefenseEvasion",
        "credential-access": "CredentialAccess",
        "discovery": "Discovery",
        "lateral-movement": "LateralMovement",
        "collection": "Collection",
        "exfiltration": "Exfiltration",
        "command-and-control": "CommandAndControl",
        "impact": "Impact",
        "impair-process-control": "ImpairProcessControl",
        "inhibit-response-function": "InhibitResponseFunction",
    }
)

# `attack.*` tag names that are ATT&CK ids, not tactics: techniques, groups, software, campaigns,
# mitigations, data sources.
ATTACK_TECHNIQUE_TAG = re.compile(r"^t(\d{4})(?:\.(\d{3}))?$")
ATTACK_ID_TAG = re.compile(r"^(?:t\d{4}(?:\.\d{3})?|g\d{4}|s\d{4}|c\d{4}|m\d{4}|ds\d{4}|a\d{4})$")

# ARM / REST stable `techniques` accept T#### only; YAML `relevantTechniques` also T####.###.
ARM_TECHNIQUE = re.compile(r"^T\d{4}$")
YAML_TECHNIQUE = re.compile(r"^T\d{4}(?:\.\d{3})?$")

TRIGGER_OPERATORS = MappingProxyType({"gt": "GreaterThan", "lt": "LessThan", "eq": "Equal", "ne": "NotEqual"})
TRIGGER_THRESHOLD_RANGE = (0, 10000)

# Durations in minutes.
QUERY_DURATION_RANGE = (5, 14 * 24 * 60)
LONG_PERIOD = 2 * 24 * 60  # queryPeriod >= 2 days needs queryFrequency >= 1 hour
LONG_PERIOD_MIN_FREQUENCY = 60
SUPPRESSION_DURATION_RANGE = (5, 24 * 60)  # portal: 5 minutes .. 24 hours
GROUPING_LOOKBACK_RANGE = (5, 7 * 24 * 60)  # portal: 5 minutes .. 7 days

NAME_MAX = 256
DESCRIPTION_MAX = 5000
QUERY_LENGTH_RANGE = (1, 10000)
VERSION_PATTERN = re.compile(r"^(\d+\.)(\d+\.)(\d+)$")
VERSION_MAX = 20

CUSTOM_DETAILS_MAX_PAIRS = 20
CUSTOM_DETAILS_KEY_MAX = 20
CUSTOM_DETAILS_VALUE_MAX = 500
CUSTOM_DETAILS_KEY = re.compile(r"^[a-zA-Z]+\w*$")
COLUMN_NAME = re.compile(r"^[a-zA-Z_]+\w*$")
COLUMN_NAME_MAX = 500

ENTITY_MAPPINGS_RANGE = (1, 10)
FIELD_MAPPINGS_PER_ENTITY_RANGE = (1, 3)

ALERT_DISPLAY_NAME_FORMAT_MAX = 256
ALERT_DESCRIPTION_FORMAT_MAX = 5000
ALERT_PLACEHOLDERS_MAX = 3
PLACEHOLDER = re.compile(r"\{\{([^{}]*)\}\}")

EVENT_GROUPING_KINDS = ("SingleAlert", "AlertPerResult")
INCIDENT_MATCHING_METHODS = ("AllEntities", "AnyAlert", "Selected")


class EntityType:
    """An entity type's identifiers and the groups of which at least one must be fully mapped."""

    def __init__(self, identifiers: tuple[str, ...], required_any_of: tuple[tuple[str, ...], ...]) -> None:
        self.identifiers = identifiers
        self.required_any_of = required_any_of


ENTITY_TYPES = MappingProxyType(
    {
        "Account": EntityType(
            (
                "Name",
                "FullName",
                "NTDomain",
                "DnsDomain",
                "UPNSuffix",
                "Sid",
                "AadTenantId",
                "AadUserId",
                "PUID",
                "IsDomainJoined",
                "DisplayName",
                "ObjectGuid",
            ),
            (("FullName",), ("Sid",), ("Name",), ("AadUserId",), ("PUID",), ("ObjectGuid",)),
        ),
        "AzureResource": EntityType(("ResourceId",), (("ResourceId",),)),
        "CloudApplication": EntityType(("AppId", "Name", "InstanceName"), (("AppId",), ("Name",))),
        "DNS": EntityType(("DomainName",), (("DomainName",),)),
        "File": EntityType(("Directory", "Name"), (("Name",),)),
        "FileHash": EntityType(("Algorithm", "Value"), (("Algorithm", "Value"),)),
        "Host": EntityType(
            (
                "DnsDomain",
                "NTDomain",
                "HostName",
                "FullName",
                "NetBiosName",
                "AzureID",
                "OMSAgentID",
                "OSFamily",
                "OSVersion",
                "IsDomainJoined",
            ),
            (("FullName",), ("HostName",), ("NetBiosName",), ("AzureID",), ("OMSAgentID",)),
        ),
        "IoTDevice": EntityType(
            (
                "DeviceId",
                "DeviceName",
                "Manufacturer",
                "Model",
                "FirmwareVersion",
                "OperatingSystem",
                "MacAddress",
                "Protocols",
                "SerialNumber",
                "Source",
                "IoTSecurityAgentId",
                "DeviceType",
            ),
            (("DeviceId",),),
        ),
        "IP": EntityType(("Address",), (("Address",),)),
        "Mailbox": EntityType(
            ("MailboxPrimaryAddress", "DisplayName", "Upn", "ExternalDirectoryObjectId", "RiskLevel"),
            (("MailboxPrimaryAddress",),),
        ),
        "Malware": EntityType(("Name", "Category"), (("Name",),)),
        "Process": EntityType(
            ("ProcessId", "CommandLine", "ElevationToken", "CreationTimeUtc"),
            (("CommandLine",), ("ProcessId",)),
        ),
        "RegistryKey": EntityType(("Hive", "Key"), (("Key",), ("Hive",))),
        "RegistryValue": EntityType(("Name", "Value", "ValueType"), (("Name",),)),
        "SecurityGroup": EntityType(
            ("DistinguishedName", "SID", "ObjectGuid"), (("DistinguishedName",), ("SID",), ("ObjectGuid",))
        ),
        "URL": EntityType(("Url",), (("Url",),)),
    }
)

# ARM export form of a scheduled analytics rule.
ARM_DEPLOYMENT_SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
ARM_CONTENT_VERSION = "1.0.0.0"
ARM_RESOURCE_TYPE = "Microsoft.OperationalInsights/workspaces/providers/alertRules"
ARM_API_VERSION = "2025-09-01"  # stable; its schema has `techniques` (T####) but no `subTechniques`
ARM_IMPORT_MAX_RULES = 50  # Analytics > Import takes at most 50 rules per file
RULE_KIND = "Scheduled"
