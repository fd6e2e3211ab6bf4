"""pySigma-backend-kusto's pipelines, the way forward for a rule no table of this package holds
(Windows, Linux, endpoint log sources): which of them are installed, under the names sigma-cli
gives them, and which log source categories each gives a table, read from the installed package.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass

from sigma.rule import SigmaLogSource

# The modules of pySigma-backend-kusto's pipelines under `sigma.pipelines`, best first: Defender XDR
# tables, the ASIM parsers, Azure Monitor's tables (microsoft365defender is its deprecated name of
# microsoftxdr).
KUSTO_PIPELINE_MODULES = ("microsoftxdr", "sentinelasim", "azuremonitor")
KUSTO_PACKAGE = "pySigma-backend-kusto"


@dataclass(frozen=True)
class KustoPipeline:
    identifier: str  # as sigma-cli lists it (`-p`): the factory's key without `_pipeline`
    categories: frozenset[str]  # the log source categories it gives a table by itself


@functools.cache
def installed_kusto_pipelines() -> tuple[KustoPipeline, ...]:
    """The kusto pipelines installed now; none when pySigma-backend-kusto is not installed."""
    found: list[KustoPipeline] = []
    for module in KUSTO_PIPELINE_MODULES:
        try:
            package = importlib.import_module(f"sigma.pipelines.{module}")
            mappings = importlib.import_module(f"sigma.pipelines.{module}.mappings")
        except ImportError:
            continue
        categories = frozenset(getattr(mappings, "CATEGORY_TO_TABLE_MAPPINGS", {}))
        # pySigma's plugin discovery names a pipeline by its key without `_pipeline`
        found += [KustoPipeline(key.replace("_pipeline", ""), categories) for key in getattr(package, "pipelines", {})]
    return tuple(found)


def kusto_pipelines_for(logsource: SigmaLogSource) -> list[str]:
    """The installed kusto pipelines that give a rule of `logsource` a table: by its category, or,
    for a Windows rule without one, by its EventID (each of them reads it)."""
    pipelines = installed_kusto_pipelines()
    if logsource.category:
        return [p.identifier for p in pipelines if logsource.category in p.categories]
    if logsource.product == "windows":
        return [p.identifier for p in pipelines]
    return []


def kusto_way_forward(logsource: SigmaLogSource) -> str:
    """`-t kusto -p a (or b, c) takes it (pySigma-backend-kusto)`, or "" when none installed does."""
    names = kusto_pipelines_for(logsource)
    if not names:
        return ""
    others = f" (or {', '.join(names[1:])})" if names[1:] else ""
    return f"-t kusto -p {names[0]}{others} takes it ({KUSTO_PACKAGE})"
