"""Page renderers of docs/generate.py, one module per page, and what they share."""

from collections.abc import Iterable


def code_list(items: Iterable[object]) -> str:
    """Items as inline code, comma-separated; a dash for none."""
    return ", ".join(f"`{item}`" for item in items) or "—"
