"""`sigma-azure-aks convert`: every good rule converted, every bad one named, exit code 1."""

from __future__ import annotations

import pytest
import yaml
from conftest import REPO_ROOT

from sigma_azure_aks.commands import main
from sigma_azure_aks.commands.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE

BAD = REPO_ROOT / "tests" / "bad_rules"


def test_folder_with_bad_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", str(BAD)]) == EXIT_FAILED
    out, err = capsys.readouterr()
    assert out == (
        'AzureActivity\n| where OperationNameValue =~ "MICROSOFT.PORTAL/CONSOLES/WRITE"\n\n'
        'AzureActivity\n| where tostring(Properties_d.message) contains "Delete device"\n'
    )
    lines = err.splitlines()
    assert lines[-1] == "2 rules converted, 8 failed"
    unknown_field = next(line for line in lines if "unknown_field.yml" in line)
    assert "field 'callerName' has no AzureActivity column" in unknown_field
    assert any("unknown_modifier.yml: Unknown modifier 'sometimes'" in line for line in lines)


def test_project_rules_convert_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", str(REPO_ROOT / "rules")]) == EXIT_OK
    out, err = capsys.readouterr()
    rules = sorted((REPO_ROOT / "rules").rglob("*.yml"))
    # one query per rule file, but for the base rules of a correlation, read by it and not output
    read = {name for path in rules for name in yaml.safe_load(path.read_text()).get("correlation", {}).get("rules", [])}
    alone = [path for path in rules if yaml.safe_load(path.read_text()).get("name") not in read]
    assert len(alone) < len(rules)
    assert len(out.strip().split("\n\n")) == len(alone)
    assert err.splitlines()[-1] == f"{len(alone)} rules converted, 0 failed"


def test_unknown_pipeline_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", "-p", "no_such_pipeline", str(BAD)]) == EXIT_USAGE
    assert "azure_activity" in capsys.readouterr().err
