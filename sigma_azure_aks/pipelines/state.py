"""Names the pipelines and the target share, light enough for the discovery leaves to import
without building any pipeline: pipeline state keys, the identifier prefix of our processing items,
the priority of our pipelines and how messages name a rule."""

from __future__ import annotations

from typing import Any

# Pipeline state keys. `query_table` is pySigma-backend-kusto's own key: setting it lets the stock
# `kusto` target and its pipelines pick the same table.
QUERY_TABLE = "query_table"
CLAIMED_BY = "azure_aks_claimed_by"
# Notes for the analytics rule's description (e.g. what a translation changed), a list of strings.
NOTES = "azure_aks_notes"

# Every processing item of ours is named with this prefix (how the target sees that the user chose
# one of our pipelines).
ITEM_PREFIX = "azure_aks_"
# Lower than pySigma-backend-kusto's pipelines (10): our table claim comes first, so their
# table selection finds `query_table` already set when both are given.
PRIORITY = 5

# The item by which a pipeline claims rules for its table: `azure_aks_<claimer>_claim_table`.
CLAIM_SUFFIX = "_claim_table"

STOCK_KUSTO_PREPEND_ID = "kusto_prepend_query_table"
SENTINEL_BACKEND_NAME = "Microsoft Sentinel (sigma_azure_aks)"


def claim_identifier(claimer: str) -> str:
    return f"{ITEM_PREFIX}{claimer}{CLAIM_SUFFIX}"


def claimer_of(identifier: str | None) -> str | None:
    """The claimer whose claim item `identifier` names, or None for any other item."""
    text = identifier or ""
    if text.startswith(ITEM_PREFIX) and text.endswith(CLAIM_SUFFIX):
        return text[len(ITEM_PREFIX) : -len(CLAIM_SUFFIX)]
    return None


def add_note(state: dict[str, Any], note: str) -> None:
    notes = state.setdefault(NOTES, [])
    if note not in notes:
        notes.append(note)


def rule_label(rule: Any) -> str:
    """How error messages name a rule: title and id (sigma-cli and our commands add the file)."""
    title = getattr(rule, "title", None)
    rule_id = getattr(rule, "id", None)
    return f"rule '{title}'" + (f" ({rule_id})" if rule_id else "")
