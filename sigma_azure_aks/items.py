"""Processing-item factories: the building blocks every pipeline of this package is made of.

Each pipeline claims the rules of its log sources for one table (ClaimTableTransformation); the
items after the claim apply only to the rules it claimed.
"""

from __future__ import annotations

from sigma.processing.conditions import RuleProcessingStateCondition
from sigma.processing.pipeline import ProcessingItem, QueryPostprocessingItem
from sigma.processing.transformations.base import Transformation
from sigma.rule import SigmaLogSource

from .aks_dataplane import DataPlaneNoticeTransformation, DataPlaneTransformation
from .aks_transformations import (
    AUDIT_TABLES,
    AdminVerbsTransformation,
    AuditValuesTransformation,
    LegacyPreambleTransformation,
)
from .field_maps import AZURE_ACTIVITY, FieldMap
from .logsources import AZURE_ACTIVITY_LOGSOURCES, KUBERNETES_AUDIT_LOGSOURCES
from .transformations import (
    CLAIMED_BY,
    ClaimTableTransformation,
    ExpandStatusSpellingsTransformation,
    MapFieldsTransformation,
    PrependTableTransformation,
    RefuseStockMisrenderingTransformation,
)

ITEM_PREFIX = "azure_aks_"


def claim_item(claimer: str, table: str, logsources: tuple[SigmaLogSource, ...]) -> ProcessingItem:
    return ProcessingItem(
        identifier=f"{ITEM_PREFIX}{claimer}_claim_table",
        transformation=ClaimTableTransformation(claimer, table, logsources),
    )


def claimed_item(claimer: str, name: str, transformation: Transformation) -> ProcessingItem:
    """An item that applies only to the rules `claimer` claimed."""
    return ProcessingItem(
        identifier=f"{ITEM_PREFIX}{claimer}_{name}",
        transformation=transformation,
        rule_conditions=[RuleProcessingStateCondition(CLAIMED_BY, claimer)],
    )


def field_mapping_item(claimer: str, field_map: FieldMap) -> ProcessingItem:
    return claimed_item(claimer, "fields", MapFieldsTransformation(field_map))


def status_spellings_item(claimer: str) -> ProcessingItem:
    return claimed_item(claimer, "status_spellings", ExpandStatusSpellingsTransformation())


def stock_guard_item(claimer: str) -> ProcessingItem:
    return claimed_item(claimer, "refuse_stock_misrendering", RefuseStockMisrenderingTransformation())


def prepend_table_item() -> QueryPostprocessingItem:
    return QueryPostprocessingItem(
        identifier=f"{ITEM_PREFIX}prepend_table",
        transformation=PrependTableTransformation(),
    )


def dataplane_notice_item() -> ProcessingItem:
    """Warns when a rule kept on AzureActivity is about Kubernetes data-plane operations."""
    return ProcessingItem(
        identifier=f"{ITEM_PREFIX}aks_dataplane_notice",
        transformation=DataPlaneNoticeTransformation(),
    )


def azure_activity_items() -> list[ProcessingItem]:
    """The items of `azure_activity`, reused by pipelines that fall back to AzureActivity."""
    claimer = "azure_activity"
    return [
        claim_item(claimer, AZURE_ACTIVITY.table, AZURE_ACTIVITY_LOGSOURCES),
        dataplane_notice_item(),
        field_mapping_item(claimer, AZURE_ACTIVITY),
        status_spellings_item(claimer),
        stock_guard_item(claimer),
    ]


def dataplane_items() -> list[ProcessingItem]:
    """Claims azure/activitylogs rules about Kubernetes objects for AKSAudit (rewriting their
    detection), then falls back to `azure_activity` for the others."""
    return [
        ProcessingItem(
            identifier=f"{ITEM_PREFIX}aks_dataplane_claim_table",
            transformation=DataPlaneTransformation(),
        ),
        stock_guard_item("aks_dataplane"),
        *azure_activity_items(),
    ]


def aks_audit_items(table: str = "AKSAudit") -> list[ProcessingItem]:
    claimer, field_map = AUDIT_TABLES.get(table, AUDIT_TABLES["AKSAudit"])
    items = [claim_item(claimer, field_map.table, KUBERNETES_AUDIT_LOGSOURCES)]
    if claimer == "aks_audit_admin":
        items.append(claimed_item(claimer, "verbs", AdminVerbsTransformation()))
    items += [
        claimed_item(claimer, "values", AuditValuesTransformation()),
        field_mapping_item(claimer, field_map),
        stock_guard_item(claimer),
    ]
    return items


def legacy_preamble_item(claimer: str) -> QueryPostprocessingItem:
    return QueryPostprocessingItem(
        identifier=f"{ITEM_PREFIX}{claimer}_preamble",
        transformation=LegacyPreambleTransformation(claimer),
    )
