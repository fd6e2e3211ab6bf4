"""The messages at the edges where a newcomer meets the tool, each tested on its exact line: an unknown
field (the nearest names), a log source out of scope (the way forward), a rule outside the chosen
pipelines (the pipelines applied, the one that takes it), replay's notice of a table with no rows, and
the plugin name in `sigma list`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PLUGIN = "azure_aks"


def sigma_cli() -> Path:
    sigma = Path(sys.executable).with_name("sigma")
    if not sigma.is_file():
        pytest.skip("sigma-cli not installed beside python")
    return sigma


# ---- the plugin name in `sigma list` ---------------------------------------------------------------


def test_discovered_objects_are_defined_in_the_discovery_leaves() -> None:
    """sigma-cli names a plugin after the module a target or pipeline is defined in
    (`sigma.backends.<plugin>`, `sigma.pipelines.<plugin>`); pySigma's discovery finds ours there
    (both pySigma lines)."""
    from sigma.plugins import InstalledSigmaPlugins

    from sigma_azure_aks.backend import SentinelBackend

    plugins = InstalledSigmaPlugins.autodiscover(include_validators=False)
    target = plugins.backends["sentinel"]
    assert target.__module__ == f"sigma.backends.{PLUGIN}"
    assert issubclass(target, SentinelBackend)
    ours = {name: p for name, p in plugins.pipelines.items() if getattr(p, "__module__", "").endswith(PLUGIN)}
    assert "azure_activity" in ours and "aks_audit" in ours
    assert {p.__module__ for p in ours.values()} == {f"sigma.pipelines.{PLUGIN}"}


def test_sigma_list_shows_the_plugin_name() -> None:
    sigma = sigma_cli()
    targets = subprocess.run([str(sigma), "list", "targets"], capture_output=True, text=True, timeout=300)
    [row] = [line for line in targets.stdout.splitlines() if line.startswith("| sentinel ")]
    assert [cell.strip() for cell in row.strip("|").split("|")] == [
        "sentinel",
        "Microsoft Sentinel (sigma_azure_aks)",
        "No",
        PLUGIN,
    ]
    listed = subprocess.run([str(sigma), "list", "pipelines"], capture_output=True, text=True, timeout=300)
    rows = {
        cells[0]: cells[-1]
        for line in listed.stdout.splitlines()
        if line.startswith("| ") and (cells := [c.strip() for c in line.strip("|").split("|")])[0]
    }
    from sigma_azure_aks.pipelines import all_pipelines

    assert {rows[pipeline_id] for pipeline_id in all_pipelines()} == {PLUGIN}
