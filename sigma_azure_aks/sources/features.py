"""Pipeline behaviours only some sources need, as data: :class:`Feature` (an item added to a
source's pipeline) and :class:`BuiltPipeline` (a pipeline of its own, beside the source's plain one).

Every source's pipeline is built from its facts with the shared items (claim the table, value rules,
map the fields, spellings, the preamble, the stock-target guard, the table). A behaviour beyond
them is declared in the file of the source that needs it (another source imports it from there).
Its code lives in the module of that behaviour under ``sigma_azure_aks/pipelines/`` and is named
here as ``"module:name"``: the pipelines import it only when they build a pipeline, because
sigma-cli imports the sources on every command and the pipelines layer sits above this one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    """One processing item a source's pipeline adds before mapping its fields.

    name            the item's name: ``<pipeline>_<name>`` when `claimed`, else ``<name>``
    description     what it does (docs/sources.md)
    transformation  ``"module:Class"`` in ``sigma_azure_aks.pipelines``, built with no arguments
    claimed         True: it applies to the rules the pipeline claimed; False: to every rule (it
                    looks at rules another pipeline claimed too)
    """

    name: str
    description: str
    transformation: str
    claimed: bool = True


@dataclass(frozen=True)
class BuiltPipeline:
    """A pipeline of a source's rules other than its plain one, built by code of its behaviour.

    pipeline     its id (``-p``; the factory ``<pipeline>_pipeline``)
    description  what it does
    factory      ``"module:function"`` in ``sigma_azure_aks.pipelines``, called with no arguments
    """

    pipeline: str
    description: str
    factory: str
