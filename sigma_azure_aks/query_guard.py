"""The last check before `convert` and `export` write a query: Microsoft's KQL parser accepts it.

Where the parser can run (the embedded engine of the `[validate]` extra, or Node.js; see
:mod:`sigma_azure_aks.kql_parser`), every converted query is parsed and analyzed against the
declared table schemas; a query with an error becomes a conversion failure naming the rule and
the parser's first message. Where it cannot,
the guard steps aside and the commands behave as before (`sigma convert` users get the same
assurance from the test suite, which parses every query shape the target writes).
"""

from __future__ import annotations

from typing import Any


class QueryGuard:
    """One parser process for a whole run, started at the first query."""

    def __init__(self) -> None:
        self._checker: Any = None
        self.available = True
        self.checked = 0

    def problem(self, query: str) -> str | None:
        """Why the parser rejects `query` (its first error, and how many there are), or None."""
        if not self.available:
            return None
        from .kql_parser.checker import KqlChecker, KqlParserUnavailable

        try:
            if self._checker is None:
                self._checker = KqlChecker()
                self._checker.start()
            errors = self._checker.errors(query)
        except KqlParserUnavailable:
            self.available = False
            return None
        self.checked += 1
        if not errors:
            return None
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return f"Microsoft's KQL parser rejects the query: {errors[0]}{more}"

    def close(self) -> None:
        if self._checker is not None:
            self._checker.close()
            self._checker = None
