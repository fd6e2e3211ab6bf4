"""Processing-item factories: the building blocks every pipeline of this package is made of.

Each pipeline claims the rules of its log sources for one table (ClaimTableTransformation); the
items after the claim apply only to the rules it claimed. :func:`source_items` builds a source's
items from its facts: the shared ones every source gets, plus the features it declares, whose
transformations the features name in the modules of their behaviours (:func:`behaviour`).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sigma.processing.conditions import RuleProcessingStateCondition
from sigma.processing.pipeline import ProcessingItem, QueryPostprocessingItem
from sigma.processing.transformations.base import Transformation
from sigma.rule import SigmaLogSource

from ..sources import Feature, FieldMap, Source, Spellings, columns
from .state import ITEM_PREFIX, claim_identifier
from .transformations import (
    CLAIMED_BY,
    ClaimTableTransformation,
    ExpandSpellingsTransformation,
    MapFieldsTransformation,
    PreambleTransformation,
    PrependTableTransformation,
    RefuseStockMisrenderingTransformation,
    UnionLeg,
    UnionTransformation,
)
from .values import FieldValuesTransformation


def claim_item(claimer: str, table: str, logsources: tuple[SigmaLogSource, ...]) -> ProcessingItem:
    return UnclaimedProcessingItem(
        identifier=claim_identifier(claimer),
        transformation=ClaimTableTransformation(claimer, table, logsources),
    )


@dataclass
class UnclaimedProcessingItem(ProcessingItem):
    """A table claim: it applies only to a rule no pipeline claimed yet. Once a rule is claimed,
    the claims of the other sources pass it by here, without pySigma's item machinery (the claim
    itself would change nothing)."""

    def apply(self, rule: Any) -> bool:
        pipeline = self._pipeline
        if pipeline is not None and pipeline.state.get(CLAIMED_BY) is not None:
            return False
        return super().apply(rule)


@dataclass
class ClaimedProcessingItem(ProcessingItem):
    """A processing item for the rules one claimer claimed. Its rule condition says so; `apply`
    first reads the claim from the pipeline's state itself, so that every rule of every other source
    passes the item without pySigma's general condition machinery (the default target holds the
    items of every source)."""

    claimer: str = ""

    def apply(self, rule: Any) -> bool:
        pipeline = self._pipeline
        if pipeline is not None and pipeline.state.get(CLAIMED_BY) != self.claimer:
            return False
        return super().apply(rule)


def claimed_item(claimer: str, name: str, transformation: Transformation) -> ProcessingItem:
    """An item that applies only to the rules `claimer` claimed."""
    return ClaimedProcessingItem(
        identifier=f"{ITEM_PREFIX}{claimer}_{name}",
        transformation=transformation,
        rule_conditions=[RuleProcessingStateCondition(CLAIMED_BY, claimer)],
        claimer=claimer,
    )


def field_mapping_item(claimer: str, field_map: FieldMap, spellings: tuple[Spellings, ...] = ()) -> ProcessingItem:
    return claimed_item(claimer, "fields", MapFieldsTransformation(field_map, spellings))


def stock_guard_item(claimer: str) -> ProcessingItem:
    return claimed_item(claimer, "refuse_stock_misrendering", RefuseStockMisrenderingTransformation())


def prepend_table_item() -> QueryPostprocessingItem:
    return QueryPostprocessingItem(
        identifier=f"{ITEM_PREFIX}prepend_table",
        transformation=PrependTableTransformation(),
    )


def behaviour(reference: str) -> Any:
    """What a feature or built pipeline names as ``"module:name"`` in this package (imported now)."""
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), name)


def feature_item(claimer: str, feature: Feature) -> ProcessingItem:
    """The item of a feature a source declares: for the rules `claimer` claimed, or for every rule."""
    transformation = behaviour(feature.transformation)()
    if feature.claimed:
        return claimed_item(claimer, feature.name, transformation)
    return ProcessingItem(identifier=f"{ITEM_PREFIX}{feature.name}", transformation=transformation)


def claimer_name(source: Source, union: bool = False) -> str:
    """The name under which a source's pipeline (`union`: its union pipeline) claims rules."""
    return (source.union_pipeline if union else source.pipeline) or source.table


def source_items(source: Source, union: bool = False) -> list[ProcessingItem]:
    """The items of a source's pipeline: claim its log sources for its table, the items of its
    features, map its fields, expand its spellings, guard the stock target. `union`: the items of
    its union pipeline (the same, under that pipeline's name)."""
    claimer = claimer_name(source, union)
    assert source.field_map is not None, f"{source.table} has no field map"
    items = [claim_item(claimer, source.table, source.logsources)]
    items += [feature_item(claimer, feature) for feature in source.features]
    if source.field_map.has_value_rules:
        items.append(claimed_item(claimer, "field_values", FieldValuesTransformation(source.field_map)))
    items.append(field_mapping_item(claimer, source.field_map, tuple(source.spellings)))
    items += [
        claimed_item(claimer, f"{spellings.column}_spellings", ExpandSpellingsTransformation(spellings))
        for spellings in source.spellings
    ]
    items.append(stock_guard_item(claimer))
    return items


def applies_to_every_rule(item: ProcessingItem) -> bool:
    """An item of a source's pipeline that looks at every rule, not only at the ones its source
    claimed (a feature declared with ``claimed=False``)."""
    return not isinstance(item, (UnclaimedProcessingItem, ClaimedProcessingItem))


def dispatch_item(sources: Sequence[Source]) -> ProcessingItem:
    """One item doing what the pipelines of `sources` do one after the other (:mod:`.dispatch`):
    each rule goes through the items of the source that claims it, and through the items of the
    others that look at every rule, in the order of their pipelines."""
    from .dispatch import ClaimRoute, DispatchTransformation

    built = [(source, source_items(source)) for source in sources]

    def route_items(claimer: Source | None) -> tuple[ProcessingItem, ...]:
        return tuple(
            item
            for source, items in built
            for item in items
            if source is claimer or applies_to_every_rule(item)
        )

    routes = tuple(
        ClaimRoute(
            claimer=claimer_name(source),
            logsources=source.logsources,
            claim_identifier=claim_identifier(claimer_name(source)),
            items=route_items(source),
        )
        for source, items in built
    )
    return ProcessingItem(
        identifier=f"{ITEM_PREFIX}sources_by_logsource",
        transformation=DispatchTransformation(routes, route_items(None)),
    )


def union_legs(source: Source) -> tuple[UnionLeg, ...]:
    """The other tables of `source`'s union, each with the columns that are dynamic in `source` but
    text there (parsed in the leg, so every column has one type in the union)."""
    legs = []
    for other in source.union:
        schema = columns(other)
        parsed = tuple(c for c, kind in schema.items() if kind == "string" and source.schema.get(c) == "dynamic")
        legs.append(UnionLeg(other, frozenset(schema), parsed))
    return tuple(legs)


def source_postprocessing_items(source: Source, union: bool = False) -> list[QueryPostprocessingItem]:
    items = [prepend_table_item()]
    if union:
        claimer = source.union_pipeline or source.table
        items.append(
            QueryPostprocessingItem(
                identifier=f"{ITEM_PREFIX}{claimer}_union",
                transformation=UnionTransformation(
                    claimer, UnionLeg(source.table, frozenset(source.schema), ()), union_legs(source)
                ),
            )
        )
    if source.preamble:
        claimer = source.pipeline or source.table
        items.insert(
            0,
            QueryPostprocessingItem(
                identifier=f"{ITEM_PREFIX}{claimer}_preamble",
                transformation=PreambleTransformation(claimer, source.table, source.preamble),
            ),
        )
    return items
