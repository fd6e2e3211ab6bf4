"""The `-t sentinel` default pipeline's dispatch: one processing item that finds, once per rule, the
source whose log sources take it, and applies that source's items only.

Applying every default source's pipeline one after the other gives the same result (the first
source, in registry order, whose log sources match claims the rule; the items of the others pass it
by), but walks every item of every source for every rule. Here the claimer is looked up by the
rule's log source (once per distinct log source) and its route applied: the items a walk through
every source's pipeline would apply, in the same order:

- the claimer's own items (its table claim first, the items for the rules it claimed after it);
- the items of the other sources that apply to every rule (features with ``claimed=False``, which
  read the claim but make none), where their pipelines have them.

A rule no source claims (another log source, a correlation rule) gets the items for every rule only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations.base import PreprocessingTransformation
from sigma.rule import SigmaLogSource, SigmaRule

from .state import CLAIMED_BY


@dataclass(frozen=True)
class ClaimRoute:
    """The items a rule claimed by `claimer` goes through, in order."""

    claimer: str
    logsources: tuple[SigmaLogSource, ...]
    claim_identifier: str
    items: tuple[ProcessingItem, ...]

    def takes(self, logsource: SigmaLogSource) -> bool:
        return any(logsource in candidate for candidate in self.logsources)


# A log source's key: what `SigmaLogSource.__contains__` compares (`logsource in candidate`).
LogSourceKey = tuple[str | None, str | None, str | None]


def logsource_key(logsource: SigmaLogSource) -> LogSourceKey:
    return (logsource.category, logsource.product, logsource.service)


@dataclass
class DispatchTransformation(PreprocessingTransformation):
    """Applies to each rule the route of the source that claims it (see the module's text)."""

    routes: tuple[ClaimRoute, ...]
    # For a rule no route takes: the items for every rule.
    unclaimed: tuple[ProcessingItem, ...] = ()
    # Log source key -> the route that takes it (None: no route), filled as rules come.
    _by_logsource: dict[LogSourceKey, ClaimRoute | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def nested_items(self) -> list[ProcessingItem]:
        """Every item of every route, once each, in route order."""
        found: dict[int, ProcessingItem] = {}
        for items in (*(route.items for route in self.routes), self.unclaimed):
            for item in items:
                found.setdefault(id(item), item)
        return list(found.values())

    def claim_identifiers(self) -> list[str]:
        """The table claims this item makes, in the order the sources' pipelines would."""
        return [route.claim_identifier for route in self.routes]

    def set_pipeline(self, pipeline: ProcessingPipeline) -> None:
        super().set_pipeline(pipeline)
        for item in self.nested_items():
            item.set_pipeline(pipeline)

    def _clear_pipeline(self) -> None:
        super()._clear_pipeline()
        for item in self.nested_items():
            item._clear_pipeline()

    def route_for(self, rule: Any) -> ClaimRoute | None:
        """The route of the source that claims `rule`: the one named by a claim already made, else
        the first whose log sources match; None for a rule no source claims."""
        claimed = self._pipeline.state.get(CLAIMED_BY)
        if claimed is not None:
            return next((route for route in self.routes if route.claimer == claimed), None)
        if not isinstance(rule, SigmaRule):
            return None
        key = logsource_key(rule.logsource)
        if key not in self._by_logsource:
            self._by_logsource[key] = next((r for r in self.routes if r.takes(rule.logsource)), None)
        return self._by_logsource[key]

    def apply(self, rule: Any) -> None:
        super().apply(rule)
        route = self.route_for(rule)
        pipeline = self._pipeline
        for item in route.items if route is not None else self.unclaimed:
            if item.apply(rule) and item.identifier:
                pipeline.applied_ids.add(item.identifier)
