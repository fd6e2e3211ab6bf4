"""The deployment lifecycle: the manifest `export` writes, the rules a workspace holds, and `plan`.

- :mod:`.canonical`: the canonical form and content hash of an alert rule's deployable properties.
- :mod:`.manifest`: the manifest of the rules an export manages (written beside the export).
- :mod:`.workspace`: alert rules as a workspace exports them (ARM template, REST list, `az` list).
- :mod:`.plan`: what a deployment would add, change and remove, and what drifted.
"""

from __future__ import annotations


class LifecycleInputError(ValueError):
    """A manifest or workspace export that cannot be read: one line naming the file and why."""
