"""Format `defender`: a Defender XDR custom detection rule, the Microsoft Graph v1.0 body of
POST /security/rules/detectionRules (`microsoft.graph.security.detectionRule`).

Built from the same :class:`.model.AnalyticsRule` as the Sentinel formats (severity, ATT&CK, entity
mappings, query with its ingestion bound), then checked against what a v1.0 custom detection can hold:

* v1.0 shape only: `schedule.frequency` (ISO 8601), `alertTemplate.tactics` with their techniques and
  `alertTemplate.entityMappings`. The beta `schedule.period`, `category`, `mitreTechniques` and
  `impactedAssets` were removed on 2026-10-01 and are never written.
* Required result columns (Microsoft, "Required columns in the query results",
  :data:`REQUIRED_COLUMNS_URL`): a time column, `Timestamp` in Defender XDR tables or `TimeGenerated`
  in Microsoft Sentinel tables; the unique event id (`ReportId`, `DeviceId`) and a strong asset
  identifier column are required of Defender XDR tables. Every table of this package is a Sentinel
  table and the query keeps every column (no `project`, no `summarize`: "simple queries ... typically
  return these common columns"), so `TimeGenerated` and the profile's `extend` columns (which the
  entity mappings name) are in the results; both are checked here and, with Microsoft's parser, in
  the tests.
* The query keeps its ingestion bound (`| where ingestion_time() > ago(<frequency>)`), the filter of
  Microsoft's own custom-detection sample: Defender pre-filters each run on the event time with a
  look-back longer than the frequency (every hour: 4 hours; 3 hours: 12; 12 hours: 48; a day: 30
  days), so an event that reaches the workspace less than look-back - frequency after its event time
  alerts in exactly one run. Microsoft asks not to filter on the time column, which the query does not.
* Frequency (:data:`FREQUENCY_URL`): continuous (NRT, `PT0S`) on the tables Microsoft lists, every 1,
  3, 12 or 24 hours, and, for rules on Sentinel data only, any custom frequency from 5 minutes to 14
  days. A v1.0 rule has no look-back or trigger setting (Defender sets a look-back of at least the
  frequency), so no Sentinel `query_period` is derived for it (`-O query_frequency=14d` is a custom
  detection, though Sentinel's frequency + 30m look-back would exceed 14 days), and a given
  `query_period`, a trigger or a correlation's window cannot be expressed: such rules are refused
  with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from ..correlation import WINDOW_END
from . import sentinel_facts as facts
from .model import AnalyticsRule, table_profile
from .options import Settings, human_duration, iso_duration

REQUIRED_COLUMNS_URL = (
    "https://learn.microsoft.com/defender-xdr/custom-detection-rules#required-columns-in-the-query-results"
)
FREQUENCY_URL = "https://learn.microsoft.com/defender-xdr/custom-detection-rules#rule-frequency"
GRAPH_URL = "https://learn.microsoft.com/graph/api/resources/security-detectionrule?view=graph-rest-1.0"

TIME_COLUMN = "TimeGenerated"  # the time column of a Sentinel table's results
NRT_FREQUENCY = "PT0S"  # `Continuous (NRT)`: a frequency of zero
STANDARD_FREQUENCIES = (60, 3 * 60, 12 * 60, 24 * 60)  # minutes: every 1, 3, 12, 24 hours
SENTINEL_FREQUENCY_RANGE = (5, 14 * 24 * 60)  # custom frequency, rules on Sentinel data only

# Which Sentinel tables a custom detection can run on continuously (NRT) is a fact of each table's
# analytics profile (`AnalyticsProfile.defender_continuous`), from Microsoft's "Tables that support
# Continuous (NRT) frequency" (:data:`NRT_TABLES_URL`). The stored copy of that page
# (MicrosoftDocs/defender-docs, 2025-02-10) lists Defender XDR tables only; the Sentinel tables were
# added later and are read from a transcription of the current page. Continuous runs also need one
# table, no join, union or `externaldata`, and no comment lines.
NRT_TABLES_URL = "https://learn.microsoft.com/defender-xdr/custom-detection-rules#tables-that-support-continuous-nrt-frequency"

# Sentinel severity -> Graph `microsoft.graph.security.alertSeverity` member.
SEVERITY = MappingProxyType({severity: severity.lower() for severity in facts.SEVERITIES})

# Sentinel entity type -> (entityMappingConfiguration collection, {Sentinel identifier: mapping
# property}). Identifiers without a v1.0 property (Account DisplayName) are left out; the entity
# keeps its other columns.
ENTITY_PROPERTIES: Mapping[str, tuple[str, Mapping[str, str]]] = MappingProxyType(
    {
        "Account": (
            "accounts",
            MappingProxyType(
                {
                    "FullName": "upnColumn",
                    "AadUserId": "aadUserIdColumn",
                    "Name": "nameColumn",
                    "Sid": "sidColumn",
                    "NTDomain": "ntDomainColumn",
                    "DnsDomain": "dnsDomainColumn",
                    "UPNSuffix": "upnSuffixColumn",
                }
            ),
        ),
        "IP": ("ips", MappingProxyType({"Address": "addressColumn"})),
        "AzureResource": ("azureResources", MappingProxyType({"ResourceId": "resourceIdColumn"})),
        "CloudApplication": (
            "cloudApplications",
            MappingProxyType({"AppId": "appIdColumn", "Name": "nameColumn"}),
        ),
    }
)


def frequency(settings: Settings) -> str:
    """The v1.0 `schedule.frequency`; ValueError for a schedule a custom detection cannot run."""
    if settings.kind == facts.NRT_KIND:
        return NRT_FREQUENCY
    minutes = settings.query_frequency
    low, high = SENTINEL_FREQUENCY_RANGE
    if minutes not in STANDARD_FREQUENCIES and not low <= minutes <= high:
        raise ValueError(
            f"query_frequency {human_duration(minutes)}: a custom detection runs every 1h, 3h, 12h or 1d, or on "
            f"Sentinel data every {human_duration(low)} to {human_duration(high)} ({FREQUENCY_URL})"
        )
    if settings.query_period is not None:
        raise ValueError(
            f"query_period {human_duration(settings.query_period or 0)}: a v1.0 custom detection has no look-back "
            "setting (schedule.frequency only; Defender sets the look-back), so the rule would not read what "
            "query_period says; leave query_period out for the defender format"
        )
    return iso_duration(minutes)


CORRELATION_REFUSAL = (
    "a correlation rule counts events across a time window, and a v1.0 custom detection has no look-back "
    "setting to hold it (schedule.frequency only); deploy it as a Sentinel analytics rule (-f arm or json)"
)


def _refusal(model: AnalyticsRule) -> str | None:
    """Why this rule cannot be a v1.0 custom detection (None: it can)."""
    if WINDOW_END in model.result_columns:
        return CORRELATION_REFUSAL
    s = model.settings
    default = Settings()
    if (s.trigger_operator, s.trigger_threshold) != (default.trigger_operator, default.trigger_threshold):
        return (
            "a custom detection alerts on every result row and has no trigger setting; leave trigger_operator "
            "and trigger_threshold out for the defender format"
        )
    if s.kind == facts.NRT_KIND and not table_profile(model.table).defender_continuous:
        return (
            f"kind NRT: Defender runs custom detections continuously only on the tables Microsoft lists "
            f"({NRT_TABLES_URL}), and {model.table} is not one of them; leave out kind (a scheduled custom "
            "detection, every 5 minutes at the least)"
        )
    if TIME_COLUMN not in model.result_columns:
        return f"the query on {model.table} returns no {TIME_COLUMN}, which a custom detection requires ({REQUIRED_COLUMNS_URL})"
    return None


def _tactics(model: AnalyticsRule) -> list[dict[str, Any]]:
    """Each tactic with the rule's techniques Sentinel's map files under it, sub-techniques beside
    their technique (the `attack.*` tags, read by :func:`.model.attack_mapping`)."""
    tactics = []
    for tactic in model.tactics:
        techniques = [
            {
                "technique": technique,
                "subTechniques": [t for t in model.relevant_techniques if t.startswith(technique + ".")],
            }
            for technique in model.techniques
            if tactic in facts.TACTICS_BY_TECHNIQUE.get(technique, ())
        ]
        tactics.append({"tactic": tactic, "techniques": techniques})
    return tactics


def _entity_mappings(model: AnalyticsRule) -> dict[str, list[dict[str, str]]]:
    """The profile's entity mappings as v1.0 `entityMappingConfiguration` collections."""
    collections: dict[str, list[dict[str, str]]] = {}
    for mapping in model.entity_mappings:
        known = ENTITY_PROPERTIES.get(mapping.entity_type)
        if known is None:
            raise ValueError(
                f"entity type {mapping.entity_type!r} has no custom-detection entity mapping here; "
                f"supported: {', '.join(ENTITY_PROPERTIES)}"
            )
        collection, properties = known
        columns = {properties[i]: column for i, column in mapping.field_mappings if i in properties}
        if columns:
            collections.setdefault(collection, []).append(columns)
    return collections


def detection_rule(model: AnalyticsRule) -> dict[str, Any]:
    """The v1.0 `detectionRule` body; ValueError naming why when the rule cannot be one."""
    problem = _refusal(model)
    if problem:
        raise ValueError(f"format defender: {problem}")
    try:
        schedule = {"frequency": frequency(model.settings)}
    except ValueError as error:
        raise ValueError(f"format defender: {error}") from None
    return {
        "displayName": model.display_name,
        "isEnabled": model.enabled,
        "queryCondition": {"queryText": model.query},
        "schedule": schedule,
        "detectionAction": {
            "alertTemplate": {
                "title": model.display_name,
                "description": model.description,
                "severity": SEVERITY[model.severity],
                "tactics": _tactics(model),
                "entityMappings": _entity_mappings(model),
            }
        },
    }


def combine(documents: Sequence[str]) -> str:
    """Several bodies as one JSON array (a lone body stays an object)."""
    from .render import dump_json

    if len(documents) == 1:
        return str(documents[0])
    return dump_json([json.loads(document) for document in documents])
