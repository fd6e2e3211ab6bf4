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

# Sentinel's ATT&CK technique -> tactics map: the techniques each tactic lists in Azure-Sentinel's
# template validator (.script/tests/detectionTemplateSchemaValidation/Models/ModelValidationAttributes/
# KillChainTechniquesHelper.cs). Sub-techniques are not listed: the validator strips ".###" first.
# Its check (NoTechniquesWithoutMatchingTactics.cs): every relevant technique must be in this map,
# and EVERY tactic mapped to it must be among the rule's tactics.
_TECHNIQUES_BY_TACTIC = {
    "InitialAccess": (
        "T1189 T1190 T1133 T1200 T1566 T1091 T1195 T1199 T1078 T0817 T0819 T0866 T0822 T0883 "
        "T0886 T0847 T0848 T0865 T0862 T0864 T0860 T1456 T1461 T1458 T1474"
    ),
    "Persistence": (
        "T1098 T1197 T1547 T1037 T1176 T1554 T1136 T1543 T1546 T1133 T1574 T1525 T1556 T1137 "
        "T1542 T1053 T1505 T1205 T1078 T1398 T1577 T1645 T1624 T1541 T1625 T1603 T0891 T0889 "
        "T0839 T0873 T0857 T0859"
    ),
    "PrivilegeEscalation": (
        "T1548 T1134 T1547 T1037 T1543 T1484 T1611 T1546 T1068 T1574 T1055 T1053 T1078 T1626 "
        "T1404 T1631 T0890 T0874"
    ),
    "DefenseEvasion": (
        "T1548 T1134 T1197 T1612 T1622 T1140 T1610 T1006 T1484 T1480 T1211 T1222 T1564 T1574 "
        "T1562 T1070 T1202 T1036 T1556 T1578 T1112 T1601 T1599 T1027 T1647 T1542 T1055 T1620 "
        "T1207 T1014 T1553 T1218 T1216 T1221 T1205 T1127 T1535 T1550 T1078 T1497 T1600 T1220 "
        "T1407 T1627 T1541 T1628 T1617 T1629 T1630 T1516 T1575 T1406 T1631 T1604 T1632 T1633 "
        "T0858 T0820 T0872 T0849 T0851 T0856"
    ),
    "CredentialAccess": (
        "T1557 T1110 T1555 T1212 T1187 T1606 T1056 T1556 T1111 T1621 T1040 T1003 T1528 T1539 "
        "T1649 T1558 T1552 T1517 T1414 T1634 T1417 T1635"
    ),
    "Discovery": (
        "T1087 T1010 T1217 T1580 T1538 T1526 T1619 T1613 T1622 T1652 T1482 T1083 T1615 T1046 "
        "T1135 T1040 T1201 T1120 T1069 T1057 T1012 T1018 T1518 T1082 T1614 T1016 T1049 T1033 "
        "T1007 T1124 T1497 T1420 T1430 T1423 T1424 T1418 T1426 T1422 T1421 T0840 T0842 T0846 "
        "T0888 T0887"
    ),
    "LateralMovement": (
        "T1210 T1534 T1570 T1563 T1021 T1091 T1072 T1080 T1550 T1428 T1458 T0812 T0866 T0891 "
        "T0867 T0843 T0886 T0859"
    ),
    "Execution": (
        "T1651 T1059 T1609 T1610 T1203 T1559 T1106 T1053 T1648 T1129 T1072 T1569 T1204 T1047 "
        "T1623 T1575 T1603 T0858 T0807 T0871 T0823 T0874 T0821 T0834 T0853 T0863"
    ),
    "Collection": (
        "T1557 T1560 T1123 T1119 T1185 T1115 T1074 T1530 T1602 T1213 T1005 T1039 T1025 T1114 "
        "T1056 T1113 T1125 T1517 T1638 T1532 T1429 T1616 T1414 T1533 T1417 T1430 T1636 T1513 "
        "T1409 T1512 T0830 T0802 T0811 T0893 T0868 T0877 T0801 T0861 T0845 T0852 T0887"
    ),
    "Exfiltration": "T1020 T1030 T1048 T1041 T1011 T1052 T1567 T1029 T1537 T1639 T1646",
    "CommandAndControl": (
        "T1071 T1092 T1132 T1001 T1568 T1573 T1008 T1105 T1104 T1095 T1571 T1572 T1090 T1219 "
        "T1205 T1102 T1437 T1616 T1637 T1521 T1544 T1509 T1644 T1481 T0885 T0884 T0869"
    ),
    "Impact": (
        "T1531 T1485 T1486 T1565 T1491 T1561 T1499 T1495 T1490 T1498 T1496 T1489 T1529 T1640 "
        "T1616 T1471 T1641 T1642 T1643 T1516 T1464 T1582 T0879 T0813 T0815 T0826 T0827 T0828 "
        "T0837 T0880 T0829 T0831 T0832 T0882"
    ),
    "ImpairProcessControl": "T0806 T0836 T0839 T0856 T0855",
    "InhibitResponseFunction": "T0800 T0878 T0803 T0804 T0805 T0892 T0809 T0814 T0816 T0835 T0838 T0851 T0881 T0857",
    "Reconnaissance": "T1595 T1592 T1589 T1590 T1591 T1598 T1597 T1596 T1593 T1594",
    "ResourceDevelopment": "T1650 T1583 T1586 T1584 T1587 T1585 T1588 T1608",
}
_IDS_BY_TACTIC = {tactic: frozenset(ids.split()) for tactic, ids in _TECHNIQUES_BY_TACTIC.items()}
TACTICS_BY_TECHNIQUE = MappingProxyType(
    {
        technique: tuple(t for t in TACTICS if technique in _IDS_BY_TACTIC.get(t, frozenset()))
        for technique in sorted(frozenset().union(*_IDS_BY_TACTIC.values()))
    }
)

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
NRT_KIND = "NRT"
RULE_KINDS = (RULE_KIND, NRT_KIND)
# Near-real-time rules (kind NRT) run about once a minute over the rows ingested since their previous
# run: no queryFrequency, queryPeriod, triggerOperator or triggerThreshold. The stable API (and the
# stored 2025-09-01 ARM schema) knows only Scheduled, Fusion and MicrosoftSecurityIncidentCreation
# alert rules; NrtAlertRule is in the preview API versions (e.g. 2025-07-01-preview: Azure/bicep-types-az
# generated/securityinsights/microsoft.securityinsights/2025-07-01-preview/types.md).
ARM_NRT_API_VERSION = "2025-07-01-preview"
# Fields of a Scheduled rule that an NRT rule does not have (YAML template and ARM/REST properties).
NRT_ABSENT_FIELDS = ("queryFrequency", "queryPeriod", "triggerOperator", "triggerThreshold")
# What Microsoft's "Considerations" for NRT rules exclude, as query operators
# (learn.microsoft.com/azure/sentinel/near-real-time-rules#considerations): no joins or unions, one
# table; and an NRT rule reads no look-back, so nothing that needs one (a correlation's windows).
NRT_LIMITS_URL = "https://learn.microsoft.com/azure/sentinel/near-real-time-rules#considerations"
NRT_EXCLUDED_OPERATORS = ("join", "union", "lookup")

