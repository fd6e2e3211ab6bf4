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
