"""The Sigma log sources this package gives a table, as data (read by the pipelines and messages)."""

from __future__ import annotations

from sigma.rule import SigmaLogSource

AZURE_ACTIVITY_LOGSOURCES = (
    SigmaLogSource(product="azure", service="activitylogs"),
    SigmaLogSource(product="azure", service="azureactivity"),  # the old alias
)
# Any category: SigmaHQ's kubernetes/audit rules use none or `application`.
KUBERNETES_AUDIT_LOGSOURCES = (SigmaLogSource(product="kubernetes", service="audit"),)


def describe(logsource: SigmaLogSource) -> str:
    return ", ".join(
        f"{key}: {value}"
        for key in ("category", "product", "service")
        if (value := getattr(logsource, key, None))
    )


def supported_logsources() -> list[str]:
    return [describe(ls) for ls in (*AZURE_ACTIVITY_LOGSOURCES, *KUBERNETES_AUDIT_LOGSOURCES)]
