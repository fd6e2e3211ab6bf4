"""Page renderers of docs/generate.py, one module per page, and what they share."""

from collections.abc import Iterable


def code_list(items: Iterable[object]) -> str:
    """Items as inline code, comma-separated; a dash for none. (sources.py keeps a copy of its own:
    tests load that page as a file, outside this package.)"""
    return ", ".join(f"`{item}`" for item in items) or "—"
