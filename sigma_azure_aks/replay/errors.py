"""The replay engine's errors, and its lazy import (it is an optional extra)."""

from __future__ import annotations

from typing import Any

EXTRA_HINT = "pip install 'pySigma-pipeline-azure[replay]'"


class EngineMissingError(ImportError):
    """The optional replay engine (duckdb-kql with DuckDB) is not installed."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "the replay engine needs duckdb-kql and DuckDB: "
            + EXTRA_HINT
            + (f" ({detail})" if detail else "")
        )


class ReplayQueryError(ValueError):
    """A query the engine cannot run faithfully; it is refused rather than answered wrong."""


def import_engine() -> Any:
    try:
        import duckdb  # noqa: F401
        import duckdb_kql
    except ImportError as error:
        raise EngineMissingError(str(error)) from error
    return duckdb_kql


class ReplayUnsupportedError(ReplayQueryError):
    """A construct of a query that is valid for Microsoft Sentinel but that the local engine does
    not run: the rule cannot be replayed (which is no fault of the rule)."""

    def __init__(self, construct: str) -> None:
        self.construct = construct
        super().__init__(
            f"replay cannot run {construct} on local events; the query itself is valid for "
            "Microsoft Sentinel, only its local replay is not possible"
        )


_CONSTRUCT_WORDS = {"function": "the Kusto function {}()", "aggregate": "the Kusto aggregation {}()"}


def engine_refusal(error: Exception) -> ReplayQueryError:
    """The error for a query the engine (duckdb-kql) refused to translate: a construct it does
    not run, in a user's words, or (anything else) the engine's own message."""
    construct = getattr(error, "construct", None)
    if isinstance(construct, str) and construct:
        kind, sep, name = (part.strip() for part in construct.partition(":"))
        if sep and kind in _CONSTRUCT_WORDS:
            words = _CONSTRUCT_WORDS[kind].format(name)
        elif sep:
            words = f"the Kusto {kind} '{name}'"
        else:
            words = f"the Kusto construct '{construct}'"
        return ReplayUnsupportedError(words)
    return ReplayQueryError(f"the replay engine cannot run this query: {error}")
