"""Warnings about rules: one line each, `rule 'TITLE' (ID): what; what to do`; details for `--verbose`.

Every warning class of the package is a :class:`RuleWarning` (its ``str()`` is the line, never the
tuple of its arguments); tests/test_warning_lines.py checks each on its exact line.

Shown under sigma-cli by Python's warning display as ``sigma_azure_aks:0: Category: line``, never
with a source line; `sigma-azure-aks` prints ``warning: line`` once per rule, and the details too
with ``--verbose``.
"""

from __future__ import annotations

import warnings
from typing import Any


class RuleWarning(UserWarning):
    """A caveat about a rule: ``str()`` is one line; `details` says more (which values, why)."""

    def __init__(self, line: str, details: str = "") -> None:
        super().__init__(line)
        self.details = details


def emit(warning: Warning, once: dict[Any, Any] | None = None) -> None:
    """Show `warning` without a source line. With `once` (a registry owned by the caller), Python's
    default filter shows each distinct text once per run; without it, every call shows."""
    warnings.warn_explicit(
        warning, type(warning), filename="sigma_azure_aks", lineno=0, module="sigma_azure_aks", registry=once
    )


def details_of(message: Warning | str) -> str:
    """The details of a warning (empty for a warning that has none)."""
    return str(getattr(message, "details", "") or "")
