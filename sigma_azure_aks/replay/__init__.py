"""Replay Sigma rules on events locally, with the KQL the `sentinel` target writes.

For detection-as-code repositories::

    from sigma_azure_aks.replay import replay

    result = replay(["rules/"], ["tests/events/azureactivity.jsonl"])
    assert result["5d5b6a8e-..."] == ["6f5ca24c-de95-451a-b91e-7a7ab209c28b"]

`rules` are rule files, folders, Sigma YAML text or pySigma rule objects (any input the batch
funnel takes, :func:`sigma_azure_aks.batch.load_inputs`); `events` are files (Log Analytics exports as
CSV, JSON or JSON lines of any table a source declares; raw records a source reads: activity-log,
AKS kube-audit, Entra ID diagnostic records) and/or row dicts. The result maps each rule id (its
title when it has none) to the ids of the events it matched: the table's id column (the replay id
of docs/sources.md: ``EventDataId`` for AzureActivity, ``AuditId`` for AKSAudit, ``Id`` for the
Entra ID tables, ``OfficeId`` for OfficeActivity), else the 1-based record number.

With ``scan=True`` (what ``sigma-azure-aks replay`` does), each Log Analytics export file is
scanned by the engine in one pass running every rule, without reading its rows into Python; hit
events then carry only their id and a few summary columns.

The engine (duckdb-kql with DuckDB) is optional: ``pip install 'pySigma-pipeline-azure[replay]'``.
Nothing here imports it until a replay runs.
"""

from __future__ import annotations

from .api import ReplayResult, RuleHit, replay

__all__ = ["ReplayResult", "RuleHit", "replay"]
